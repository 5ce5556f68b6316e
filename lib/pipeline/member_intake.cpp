#include "pipeline/member_intake.h"

#include <string>
#include <utility>
#include <vector>

#include "core/civil_date.h"
#include "pipeline/lifecycle.h"
#include "pipeline/member_record.h"
#include "state/file_intake.h"

namespace p2p::pipeline {

namespace {

// The file's rows into the state and the file recorded as taken (its keys kept: the caller
// drops them once the file is out of the inbox). Problems into `problems`.
Result<state::IntakeCounts> StreamIntoState(state::StateDb& db, const std::string& name,
                                            const source::MemberFileIdentity& id,
                                            const RowStream& rows, const ConsentOptions& consent,
                                            int64_t now_ms, const FileIntakeSettings& settings,
                                            std::vector<RowProblem>& problems) {
  auto opened = state::FileIntake::Open(db, name, id.size, id.mtime_ns);
  if (!opened) return std::move(opened).error();
  state::FileIntake& intake = **opened;

  const int64_t today = DaysFromUnix(now_ms / 1000);
  lifecycle::IntakeSplit late;  // revocations, applied after the last batch
  std::vector<state::LifecycleIntake> batch_lifecycle;
  size_t batch = 0;
  int64_t last_line = intake.done_line();
  state::NewMember m;  // reused: its strings keep their capacity

  auto commit = [&](int64_t line) -> Result<void> {
    if (auto r = intake.Commit(line, batch_lifecycle); !r) return r;
    batch_lifecycle.clear();
    batch = 0;
    if (settings.after_batch) return settings.after_batch(line);
    return Ok();
  };
  source::RowVisitor visitor;
  visitor.problem = [&problems](RowProblem&& p) { problems.push_back(std::move(p)); };
  visitor.first_line = [&intake](const std::string& key, uint64_t line) {
    return intake.FirstLine(key, line);
  };
  visitor.row = [&](uint64_t line, MemberRow&& row, size_t) -> Result<void> {
    if (row.IsConsentRevoked()) {
      late.revoked.emplace_back(row.prior_payer, row.member_key);
      return Ok();
    }
    if (static_cast<int64_t>(line) <= intake.done_line()) return Ok();  // committed earlier
    if (auto l = lifecycle::LifecycleOf(row, today)) batch_lifecycle.push_back(std::move(*l));
    m.member_key = row.member_key;
    m.payer = row.prior_payer;
    m.row_json = EncodeMemberRow(row);
    m.deadline = RequestDeadlineUnix(ParseCivilDate(row.coverage_start).value_or(0),
                                     ParseCivilDate(row.opt_in_date).value_or(0));
    m.consent_end_days = ParseCivilDate(row.consent_end).value_or(0);
    m.source_line = static_cast<int64_t>(line);
    if (auto r = intake.Add(m, now_ms); !r) return r;
    last_line = static_cast<int64_t>(line);
    if (++batch >= settings.batch_rows) return commit(last_line);
    return Ok();
  };
  if (auto r = rows(visitor); !r) return std::move(r).error();
  if (batch > 0 || !intake.taken()) {
    if (auto r = commit(last_line); !r) return std::move(r).error();
  }
  if (auto r = lifecycle::ApplyIntake(db, late, consent, now_ms); !r) return std::move(r).error();
  if (auto r = intake.Finish(static_cast<int>(problems.size()), now_ms); !r) {
    return std::move(r).error();
  }
  return intake.counts();
}

}  // namespace

Result<FileIntakeResult> TakeInFile(state::StateDb& db, const source::DirectorySource& source,
                                    const std::filesystem::path& file,
                                    const ConsentOptions& consent, int64_t now_ms,
                                    const FileIntakeSettings& settings) {
  std::string name = file.filename().string();
  // Daemons sharing a PostgreSQL state may each take a file of the same name (from their own
  // claim directories): the intake's progress and the members' source_file name the claimant.
  if (db.clustered() && file.parent_path().parent_path().filename() == "claimed") {
    name = file.parent_path().filename().string() + "/" + name;
  }
  auto id = source.Identify(file);
  if (!id) return std::move(id).error();
  std::vector<RowProblem> problems;
  auto counts = StreamIntoState(
      db, name, *id, [&](const source::RowVisitor& v) { return source.Visit(file, v); }, consent,
      now_ms, settings, problems);
  if (!counts) return std::move(counts).error();
  if (auto r = source.Finish(file, problems); !r) return std::move(r).error();
  if (auto r = state::FileIntake::DropKeys(db, name); !r) return std::move(r).error();
  return FileIntakeResult{*counts, problems.size()};
}

Result<FileIntakeResult> TakeInRows(state::StateDb& db, const std::string& name,
                                    const source::MemberFileIdentity& id, const RowStream& rows,
                                    const ConsentOptions& consent, int64_t now_ms,
                                    const FileIntakeSettings& settings,
                                    std::vector<RowProblem>* problems) {
  std::vector<RowProblem> found;
  auto counts = StreamIntoState(db, name, id, rows, consent, now_ms, settings, found);
  if (!counts) return std::move(counts).error();
  if (auto r = state::FileIntake::DropKeys(db, name); !r) return std::move(r).error();
  const size_t n = found.size();
  if (problems != nullptr) *problems = std::move(found);
  return FileIntakeResult{*counts, n};
}

}  // namespace p2p::pipeline
