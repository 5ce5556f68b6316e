#include "state/postgres/pg_conn.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>

namespace p2p::state {

namespace {

constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool IsIdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

class PgStmt final : public StmtImpl {
 public:
  PgStmt(PgConn& conn, std::string sql, int params)
      : conn_(conn),
        sql_(std::move(sql)),
        values_(static_cast<size_t>(params)),
        set_(static_cast<size_t>(params), 0),
        types_(static_cast<size_t>(params), 0) {}

  void Bind(int i, int64_t v) override {
    if (!Slot(i)) return;
    values_[Idx(i)] = std::to_string(v);
    set_[Idx(i)] = 1;
    types_[Idx(i)] = kInt8Oid;
  }
  void Bind(int i, std::string_view v) override {
    if (!Slot(i)) return;
    values_[Idx(i)].assign(v);
    set_[Idx(i)] = 1;
    types_[Idx(i)] = kTextOid;
  }
  void BindNull(int i) override {
    if (!Slot(i)) return;
    set_[Idx(i)] = 0;
    types_[Idx(i)] = 0;
  }

  Result<bool> Step(std::string_view what) override {
    if (!res_) {
      if (auto r = Execute(what); !r) return std::move(r).error();
      row_ = 0;
    } else {
      ++row_;
    }
    return row_ < rows_;
  }
  void Reset() override {
    res_.reset();
    row_ = -1;
    rows_ = 0;
    for (size_t i = 0; i < set_.size(); ++i) {
      set_[i] = 0;
      types_[i] = 0;
    }
  }
  int64_t Int(int col) const override {
    const char* v = PQgetvalue(res_.get(), row_, col);
    if (v == nullptr) return 0;
    if (v[0] == 't' && v[1] == '\0') return 1;
    if (v[0] == 'f' && v[1] == '\0') return 0;
    return std::strtoll(v, nullptr, 10);
  }
  bool IsNull(int col) const override { return PQgetisnull(res_.get(), row_, col) != 0; }
  std::string_view TextView(int col) const override {
    if (PQgetisnull(res_.get(), row_, col) != 0) return {};
    return std::string_view(PQgetvalue(res_.get(), row_, col),
                            static_cast<size_t>(PQgetlength(res_.get(), row_, col)));
  }

 private:
  static size_t Idx(int i) { return static_cast<size_t>(i - 1); }
  bool Slot(int i) const { return i >= 1 && static_cast<size_t>(i) <= values_.size(); }

  Result<void> Execute(std::string_view what) {
    if (auto c = conn_.EnsureConnected(); !c) return std::move(c).error().Context(what);
    if (generation_ != conn_.generation()) {
      prepared_.clear();
      generation_ = conn_.generation();
    }
    std::string signature(types_.size(), 'n');
    for (size_t i = 0; i < types_.size(); ++i) {
      if (types_[i] == kInt8Oid) signature[i] = 'i';
      if (types_[i] == kTextOid) signature[i] = 't';
    }
    auto it = prepared_.find(signature);
    PGconn* pc = conn_.session().conn();
    if (it == prepared_.end()) {
      const std::string name = "p2p_s" + std::to_string(conn_.NextStatementId());
      pg::PgResult prep(PQprepare(pc, name.c_str(), sql_.c_str(), static_cast<int>(types_.size()),
                                  types_.data()));
      if (!prep || PQresultStatus(prep.get()) != PGRES_COMMAND_OK) {
        return conn_.session().Classify(std::string(what) + ": prepare", prep.get());
      }
      it = prepared_.emplace(signature, name).first;
    }
    std::vector<const char*> params(values_.size());
    for (size_t i = 0; i < values_.size(); ++i) {
      params[i] = set_[i] != 0 ? values_[i].c_str() : nullptr;
    }
    res_.reset(PQexecPrepared(pc, it->second.c_str(), static_cast<int>(params.size()),
                              params.data(), nullptr, nullptr, 0));
    const ExecStatusType st = res_ ? PQresultStatus(res_.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      Error e = conn_.session().Classify(what, res_.get());
      res_.reset();
      return e;
    }
    rows_ = st == PGRES_TUPLES_OK ? PQntuples(res_.get()) : 0;
    conn_.set_changes(pg::PgInt(PQcmdTuples(res_.get())));
    return Ok();
  }

  PgConn& conn_;
  std::string sql_;
  std::vector<std::string> values_;
  std::vector<char> set_;
  std::vector<Oid> types_;
  std::map<std::string, std::string> prepared_;  // type signature -> prepared name
  uint64_t generation_ = 0;
  pg::PgResult res_;
  int row_ = -1;
  int rows_ = 0;
};

}  // namespace

std::string PgConn::Translate(std::string_view sql, int* max_param) {
  std::string out;
  out.reserve(sql.size() + 8);
  int highest = 0;
  for (size_t i = 0; i < sql.size();) {
    const char c = sql[i];
    if (c == '\'') {  // a literal, copied as is ('' inside stays)
      size_t end = sql.find('\'', i + 1);
      while (end != std::string_view::npos && end + 1 < sql.size() && sql[end + 1] == '\'') {
        end = sql.find('\'', end + 2);
      }
      end = end == std::string_view::npos ? sql.size() : end + 1;
      out.append(sql.substr(i, end - i));
      i = end;
      continue;
    }
    if (c == '?' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
      size_t j = i + 1;
      int n = 0;
      while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') n = n * 10 + (sql[j++] - '0');
      highest = std::max(highest, n);
      out += '$';
      out.append(sql.substr(i + 1, j - i - 1));
      i = j;
      continue;
    }
    constexpr std::string_view kHint = "INDEXED BY ";
    if (sql.substr(i, kHint.size()) == kHint && (i == 0 || !IsIdentChar(sql[i - 1]))) {
      size_t j = i + kHint.size();
      while (j < sql.size() && IsIdentChar(sql[j])) ++j;
      i = j;
      continue;
    }
    out += c;
    ++i;
  }
  if (max_param != nullptr) *max_param = highest;
  return out;
}

pg::PgMigrations StateMigrations() {
  return {&EmbeddedPgStateMigrations(), "state", "state.schema"};
}

Result<std::unique_ptr<PgConn>> PgConn::Open(PgConnOptions options) {
  std::unique_ptr<PgConn> conn(new PgConn(std::move(options)));
  if (auto c = conn->session_.Connect(conn->options_.dsn, conn->options_.password, "state.dsn");
      !c) {
    return std::move(c).error();
  }
  auto v = conn->session_.PrepareSchema(conn->options_.schema, StateMigrations());
  if (!v) return std::move(v).error();
  if (auto c = conn->Connect(); !c) return std::move(c).error();
  return conn;
}

PgConn::~PgConn() = default;

Result<void> PgConn::Connect() {
  last_attempt_ms_ = SteadyMs();
  if (!session_.connected()) {
    if (auto c = session_.Connect(options_.dsn, options_.password, "state.dsn"); !c) {
      return std::move(c).error();
    }
  }
  ++generation_;
  // state.schema is checked before (a plain name, no quotes inside).
  auto s = session_.Exec("state search_path", "SET search_path TO \"" + options_.schema + "\"");
  if (!s) return std::move(s).error();
  return Ok();
}

Result<void> PgConn::EnsureConnected() {
  if (session_.connected()) return Ok();
  if (SteadyMs() - last_attempt_ms_ < 1000) {
    return MakeError(ErrorKind::kUnavailable, "state database unreachable (reconnecting)");
  }
  session_.Close();
  return Connect();
}

Result<std::unique_ptr<StmtImpl>> PgConn::Prepare(std::string_view sql) {
  int params = 0;
  std::string text = Translate(sql, &params);
  return std::unique_ptr<StmtImpl>(new PgStmt(*this, std::move(text), params));
}

Result<void> PgConn::Exec(std::string_view sql, std::string_view what) {
  if (auto c = EnsureConnected(); !c) return std::move(c).error().Context(what);
  pg::PgResult res(PQexec(session_.conn(), Translate(sql, nullptr).c_str()));
  const ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return session_.Classify(what, res.get());
  changes_ = pg::PgInt(PQcmdTuples(res.get()));
  return Ok();
}

Result<void> PgConn::Begin() { return Exec("BEGIN", "begin transaction"); }
Result<void> PgConn::BeginRead() {
  return Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "begin read");
}
Result<void> PgConn::Commit() { return Exec("COMMIT", "commit"); }

void PgConn::Rollback() {
  if (session_.conn() != nullptr) pg::PgResult r(PQexec(session_.conn(), "ROLLBACK"));
}

std::string PgConn::WriteProblem() const {
  return session_.connected() ? "" : "state database unreachable";
}

bool PgConn::InTransaction() const {
  if (session_.conn() == nullptr) return false;
  const PGTransactionStatusType t = PQtransactionStatus(session_.conn());
  return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

}  // namespace p2p::state
