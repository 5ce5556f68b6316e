// Issued bearer tokens of p2p-sandbox: opaque random strings with an expiry and the OAuth client
// they were issued to, in a bounded table (beyond `capacity` the expired, then the oldest tokens
// are dropped).
// Thread-safe (one mutex).
#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace p2p::sandbox {

class TokenTable {
 public:
  using Clock = std::chrono::steady_clock;
  explicit TokenTable(size_t capacity) : capacity_(capacity) {}

  // A new token for `client` valid until `expires`.
  std::string Issue(Clock::time_point expires, std::string client = "");
  // True when `token` was issued here and has not expired at `now`.
  bool Valid(std::string_view token, Clock::time_point now) const;
  // The client `token` was issued to, expired or not; empty when unknown.
  std::string ClientOf(std::string_view token) const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  size_t capacity_;
  struct Entry {
    Clock::time_point expires;
    std::string client;
  };
  std::unordered_map<std::string, Entry> tokens_;
  std::deque<std::string> order_;
};

}  // namespace p2p::sandbox
