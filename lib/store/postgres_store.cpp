#include "store/postgres_store.h"

#include <algorithm>
#include <future>
#include <map>
#include <optional>

#include "store/pg_writer.h"
#include "store/type_name.h"

namespace p2p::store {
namespace {

// PostgreSQL names are at most 63 bytes; FHIR type names are far shorter.
Result<void> CheckTableName(std::string_view type) {
  if (auto v = ValidateResourceType(type); !v) return v;
  if (type.size() > 63) {
    return MakeError(ErrorKind::kInvalid, "resource type longer than a PostgreSQL name (63)");
  }
  return Ok();
}

bool IsFhirId(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.';
  });
}

// The type tables of the schema (names that are FHIR type names).
Result<std::vector<std::string>> TypeTables(PgSession& s, const std::string& schema) {
  auto r = s.Exec("list tables",
                  "SELECT tablename FROM pg_tables WHERE schemaname = $1 "
                  "AND tablename ~ '^[A-Z][A-Za-z]+$' ORDER BY tablename",
                  {schema.c_str()}, PGRES_TUPLES_OK);
  if (!r) return std::move(r).error();
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(PQntuples(r->get())));
  for (int i = 0; i < PQntuples(r->get()); ++i) out.emplace_back(PQgetvalue(r->get(), i, 0));
  return out;
}

class PgFileWriter final : public FileWriter {
 public:
  PgFileWriter(PgWriter& writer, std::shared_ptr<PgFile> file)
      : writer_(writer), file_(std::move(file)) {}
  ~PgFileWriter() override { Abort(); }

  Result<void> Put(std::string_view id, std::string_view line) override {
    return writer_.Add(file_, file_->ctx.member_key, id, line);
  }
  Result<void> PutFor(std::string_view member_key, std::string_view id,
                      std::string_view line) override {
    return writer_.Add(file_, member_key, id, line);
  }
  Result<StoreMark> Commit() override {
    std::promise<Result<StoreMark>> result;
    CommitAsync([&](Result<StoreMark> r) { result.set_value(std::move(r)); });
    return result.get_future().get();
  }
  bool CommitsAsync() const override { return true; }
  bool CommitWith(std::vector<CommitStatement>&& statements) override {
    if (writer_.options().state_schema.empty()) return false;  // the state is elsewhere
    on_commit_ = std::move(statements);
    return true;
  }
  void CommitAsync(std::function<void(Result<StoreMark>)> done) override {
    ended_ = true;
    writer_.Commit(file_, std::move(on_commit_), std::move(done));
  }
  void Abort() override {
    if (ended_) return;
    ended_ = true;
    writer_.Abort(file_);
  }

 private:
  PgWriter& writer_;
  std::shared_ptr<PgFile> file_;
  bool ended_ = false;
  std::vector<CommitStatement> on_commit_;  // CommitWith, handed to the thread with Commit
};

}  // namespace

PostgresStore::PostgresStore(std::unique_ptr<PgWriter> writer) : writer_(std::move(writer)) {}
PostgresStore::~PostgresStore() = default;

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const StoreOptions& options) {
  return Open(options, Tuning{});
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const StoreOptions& options,
                                                           const Tuning& tuning) {
  if (options.dsn.empty()) {
    return MakeError(ErrorKind::kInvalid, "postgres store: store.dsn is empty");
  }
  auto writer = std::make_unique<PgWriter>(
      options, PgWriterTuning{tuning.handoff_bytes, tuning.chunk_bytes,
                              tuning.reconnect_interval_ms});
  if (auto v = writer->Connect(); !v && v.error().kind != ErrorKind::kUnavailable) {
    return std::move(v).error();
  }
  return std::unique_ptr<PostgresStore>(new PostgresStore(std::move(writer)));
}

Result<std::string> PostgresStore::Check(const StoreOptions& options) {
  PgSession s;
  if (auto c = s.Connect(options.dsn, options.password, "store.dsn"); !c) return std::move(c).error();
  auto v = s.PrepareSchema(options.schema, StoreMigrations());
  if (!v) return std::move(v).error();
  // The staging table is a temporary one: the role needs TEMPORARY on the database.
  if (auto t = s.Exec("temporary table privilege",
                      "CREATE TEMP TABLE p2p_check_stage (id text)");
      !t) {
    return std::move(t).error();
  }
  auto ver = s.Exec("server version", "SHOW server_version", {}, PGRES_TUPLES_OK);
  if (!ver) return std::move(ver).error();
  return "PostgreSQL " + std::string(PQgetvalue(ver->get(), 0, 0)) + ", schema " +
         options.schema + " at store migration " + std::to_string(*v);
}

void PostgresStore::Quiesce() { writer_->Drain(); }

Result<std::unique_ptr<FileWriter>> PostgresStore::Begin(const FileContext& ctx) {
  if (auto v = CheckTableName(ctx.type); !v) return std::move(v).error();
  auto file = std::make_shared<PgFile>();
  file->ctx = ctx;
  file->tag = next_writer_++;
  return std::unique_ptr<FileWriter>(new PgFileWriter(*writer_, std::move(file)));
}

Result<void> PostgresStore::Recover(const std::map<std::string, StoreMark>& committed,
                                    const std::set<int64_t>& staging_jobs) {
  (void)committed, (void)staging_jobs;  // nothing staged outside a session: nothing to undo
  return Ok();
}

Result<std::vector<CompactedType>> PostgresStore::Compact(
    const std::function<Result<void>(const StoreMark&)>& record) {
  (void)record;  // one row per (payer, id) already
  return std::vector<CompactedType>{};
}

Result<void> PostgresStore::Scan(std::string_view type,
                                 const std::function<void(const StoredResource&)>& fn) {
  if (auto v = CheckTableName(type); !v) return v;
  const std::string& schema = writer_->options().schema;
  return writer_->Call([&](PgSession& s) -> Result<void> {
    auto tables = TypeTables(s, schema);
    if (!tables) return std::move(tables).error();
    if (std::find(tables->begin(), tables->end(), type) == tables->end()) return Ok();
    auto r = s.Exec("scan " + std::string(type),
                    "SELECT payer, member_key, id FROM " + PgQualified(schema, type), {},
                    PGRES_TUPLES_OK);
    if (!r) return std::move(r).error();
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      fn(StoredResource{PQgetvalue(r->get(), i, 0), PQgetvalue(r->get(), i, 1),
                        PQgetvalue(r->get(), i, 2)});
    }
    return Ok();
  });
}

Result<std::map<std::string, int64_t>> PostgresStore::CountByType() {
  const std::string& schema = writer_->options().schema;
  std::map<std::string, int64_t> out;
  auto r = writer_->Call([&](PgSession& s) -> Result<void> {
    out.clear();
    auto tables = TypeTables(s, schema);
    if (!tables) return std::move(tables).error();
    for (const std::string& t : *tables) {
      auto c = s.Exec("count " + t, "SELECT count(*) FROM " + PgQualified(schema, t), {},
                      PGRES_TUPLES_OK);
      if (!c) return std::move(c).error();
      const int64_t n = PgInt(PQgetvalue(c->get(), 0, 0));
      if (n > 0) out[t] = n;
    }
    return Ok();
  });
  if (!r) return std::move(r).error();
  return out;
}

Result<DeleteOutcome> PostgresStore::Delete(std::string_view payer, int64_t job_id,
                                            const std::vector<ResourceRef>& refs) {
  (void)job_id;  // rows are deleted at once: there is no staging to order them with
  // Ids per type, as PostgreSQL array literals: FHIR ids need no quoting ([A-Za-z0-9.-]).
  std::map<std::string, std::string> by_type;
  for (const ResourceRef& ref : refs) {
    if (auto v = CheckTableName(ref.type); !v) return std::move(v).error();
    if (!IsFhirId(ref.id)) {
      return MakeError(ErrorKind::kInvalid, "deleted resource of type " + ref.type +
                                                ": id is not a FHIR id ([A-Za-z0-9.-]{1,64})");
    }
    std::string& list = by_type[ref.type];
    list.append(list.empty() ? "{" : ",").append(ref.id);
  }
  if (by_type.empty()) return DeleteOutcome{};
  const std::string payer_text(payer);
  return DeleteRows("delete from ", [&](const std::string& type) -> std::optional<DeleteSql> {
    auto it = by_type.find(type);
    if (it == by_type.end()) return std::nullopt;
    return DeleteSql{"payer = $1 AND id = ANY($2::text[])", {payer_text, it->second + "}"}};
  });
}

Result<DeleteOutcome> PostgresStore::PurgeMember(std::string_view payer,
                                                 std::string_view member_key) {
  const std::string payer_text(payer), key(member_key);
  return DeleteRows("purge from ", [&](const std::string&) -> std::optional<DeleteSql> {
    return DeleteSql{"payer = $1 AND member_key = $2", {payer_text, key}};
  });
}

Result<DeleteOutcome> PostgresStore::DeleteRows(
    std::string_view what, const std::function<std::optional<DeleteSql>(const std::string&)>& sql) {
  const std::string& schema = writer_->options().schema;
  DeleteOutcome out;
  auto r = writer_->Call([&](PgSession& s) -> Result<void> {
    out.removed = 0;
    auto tables = TypeTables(s, schema);
    if (!tables) return std::move(tables).error();
    if (auto b = s.Exec("begin", "BEGIN"); !b) return std::move(b).error();
    for (const std::string& type : *tables) {
      const std::optional<DeleteSql> q = sql(type);
      if (!q) continue;
      std::vector<const char*> params;
      for (const std::string& p : q->params) params.push_back(p.c_str());
      auto d = s.Exec(std::string(what) + type,
                      "DELETE FROM " + PgQualified(schema, type) + " WHERE " + q->where, params);
      if (!d) {
        PgResult rollback(PQexec(s.conn(), "ROLLBACK"));
        return std::move(d).error();
      }
      out.removed += PgInt(PQcmdTuples(d->get()));
    }
    if (auto c = s.Exec("commit", "COMMIT"); !c) return std::move(c).error();
    return Ok();
  });
  if (!r) return std::move(r).error();
  return out;
}

}  // namespace p2p::store
