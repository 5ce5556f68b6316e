#include "postgres/pg_query.h"

#include <cstdlib>

#include "support/pg_cluster.h"

namespace p2p::testing {

PgQuery::PgQuery(const test::PgCluster& pg)
    : conninfo_(pg.Dsn() + " password=" + pg.password() + " connect_timeout=5") {}

PgQuery::~PgQuery() { PQfinish(conn_); }

std::optional<std::vector<PgQuery::Row>> PgQuery::Rows(const std::string& sql, std::string* error) {
  if (auto rows = Once(sql, error)) return rows;
  if (PQstatus(conn_) == CONNECTION_OK) return std::nullopt;  // the query itself failed
  PQfinish(conn_);  // a connection the server dropped: once more on a new one
  conn_ = nullptr;
  return Once(sql, error);
}

std::optional<std::vector<PgQuery::Row>> PgQuery::Once(const std::string& sql, std::string* error) {
  if (conn_ == nullptr) conn_ = PQconnectdb(conninfo_.c_str());
  if (PQstatus(conn_) != CONNECTION_OK) {
    if (error != nullptr) *error = PQerrorMessage(conn_);
    return std::nullopt;
  }
  PGresult* res = PQexec(conn_, sql.c_str());
  const ExecStatusType status = PQresultStatus(res);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    if (error != nullptr) *error = PQresultErrorMessage(res);
    PQclear(res);
    return std::nullopt;
  }
  std::vector<Row> out;
  for (int r = 0; r < PQntuples(res); ++r) {
    Row row;
    for (int c = 0; c < PQnfields(res); ++c) row.emplace_back(PQgetvalue(res, r, c));
    out.push_back(std::move(row));
  }
  PQclear(res);
  return out;
}

std::optional<std::string> PgQuery::Value(const std::string& sql, std::string* error) {
  auto rows = Rows(sql, error);
  if (!rows) return std::nullopt;
  return rows->empty() || rows->front().empty() ? std::string() : rows->front().front();
}

int64_t PgQuery::Count(const std::string& sql) {
  auto v = Value(sql);
  if (!v || v->empty()) return -1;
  char* end = nullptr;
  const long long n = std::strtoll(v->c_str(), &end, 10);
  return *end == '\0' ? n : -1;
}

}  // namespace p2p::testing
