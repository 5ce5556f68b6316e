// PgQuery: one libpq connection of a test to its throwaway cluster (support/pg_cluster.h), as the
// application role over TCP, for tests that read the state many times a second while daemons run
// (psql starts a process per query: tens of milliseconds, longer than a job's run often lasts).
//
// Every value comes back as text ("" for NULL). A failed query reconnects once and tries again
// (the server may have been restarted). Not thread-safe: one owner.
#pragma once

#include <libpq-fe.h>

#include <optional>
#include <string>
#include <vector>

namespace p2p::test {
class PgCluster;
}

namespace p2p::testing {

class PgQuery {
 public:
  explicit PgQuery(const test::PgCluster& pg);
  ~PgQuery();
  PgQuery(const PgQuery&) = delete;
  PgQuery& operator=(const PgQuery&) = delete;

  using Row = std::vector<std::string>;
  // Every row of `sql`'s answer; nullopt and *error (when given) when it fails.
  std::optional<std::vector<Row>> Rows(const std::string& sql, std::string* error = nullptr);
  // The first column of the first row ("" without rows); nullopt as Rows.
  std::optional<std::string> Value(const std::string& sql, std::string* error = nullptr);
  // Value as a number; -1 when it fails or is not one.
  int64_t Count(const std::string& sql);

 private:
  std::optional<std::vector<Row>> Once(const std::string& sql, std::string* error);

  std::string conninfo_;
  PGconn* conn_ = nullptr;
};

}  // namespace p2p::testing
