// FHIR requests in flight at p2p-sandbox, per tenant (the prior payer a daemon's `payers[]`
// entry points at): how many now, and the most at once since the last reset. A client that runs
// at most `limits.concurrency` jobs of a payer, each with a bounded number of requests, must
// never push the maximum above that bound, however many instances it runs (the cluster chaos
// test reads it from /admin/stats).
//
// Counted: $member-match, export kick-offs, job status and cancel, file downloads of a known
// tenant, from the moment the request was read until its reply (a streamed file: its last chunk)
// was written or the connection dropped. Not counted: token requests (not per tenant), /admin.
//
// Begin() hands out a ticket; the request is in flight until the ticket is destroyed (it lives in
// the AppReply the server executes). Tickets share the counters with the table, so one may end
// after the table is gone (a connection's coroutine destroyed with the io_context). Thread-safe
// (one mutex); tickets may end on any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace p2p::sandbox {

class InFlightTable {
 public:
  struct Counts {
    int64_t now = 0;
    int64_t max = 0;  // since the table began or the last ResetMax()
  };

  // Ends the request's flight when destroyed. Copies share one flight (AppReply stays copyable).
  using Ticket = std::shared_ptr<void>;

  Ticket Begin(std::string_view tenant);
  // A new window: every tenant's maximum becomes its current count.
  void ResetMax();
  std::map<std::string, Counts> Snapshot() const;
  // {"bison":{"now":N,"max":M},...}
  std::string Json() const;

 private:
  struct Shared {
    std::mutex mu;
    std::map<std::string, Counts, std::less<>> tenants;  // node-based: Counts* stay valid
  };
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
};

}  // namespace p2p::sandbox
