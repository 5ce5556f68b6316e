// `p2p-ingestd compact --config FILE` (operator_cli.h): rewrites each <Type>.ndjson of the
// NDJSON store to one line per (payer, id), last wins, deleted resources dropped
// (ResourceStore::Compact), recording each type's new marks in the state DB as it goes. It
// takes the store's lock, which a running daemon holds: it refuses (exit 75) rather than
// rewrite files under the daemon's feet.
#include <cinttypes>

#include "operator_cli.h"
#include "operator_commands.h"
#include "state/store_marks_db.h"
#include "store_setup.h"

namespace p2p::daemon {

namespace {

std::string Megabytes(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

}  // namespace

int CmdCompact(const Options& options, state::StateDb& db, const OperatorIo& io) {
  if (options.store.kind != StoreKind::kNdjson) {
    std::fprintf(io.out, "store %s (sqlite) holds one row per (payer, id) already: nothing to do\n",
                 options.store.path.c_str());
    return kOpExitOk;
  }
  auto store = OpenStoreForWriting(options.store, db);
  if (!store) {
    const bool busy = store.error().kind == ErrorKind::kBusy;
    std::fprintf(io.err, "compact: %s%s\n", store.error().message.c_str(),
                 busy ? "; stop the daemon first, then run compact again" : "");
    return busy ? kOpExitTempFail : kOpExitSoftware;
  }
  auto done = (*store)->Compact([&db](const store::StoreMark& m) {
    return state::RecordStoreMarks(db, {{m.type, m.ndjson_end, m.index_end, m.deleted_end}});
  });
  if (!done) {
    std::fprintf(io.err,
                 "compact: %s\n(the store is consistent: the daemon's next start, or compact "
                 "again, finishes or undoes the type it was at)\n",
                 done.error().message.c_str());
    return kOpExitSoftware;
  }
  for (const store::CompactedType& t : *done) {
    std::fprintf(io.out, "%s.ndjson: %" PRId64 " lines before, %" PRId64 " after (%s -> %s)\n",
                 t.type.c_str(), t.lines_before, t.lines_after, Megabytes(t.bytes_before).c_str(),
                 Megabytes(t.bytes_after).c_str());
  }
  if (done->empty()) std::fprintf(io.out, "no resource types in %s\n", options.store.path.c_str());
  return kOpExitOk;
}

}  // namespace p2p::daemon
