#include "pipeline/lifecycle.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/civil_date.h"
#include "pipeline/file_download.h"
#include "pipeline/member_record.h"

namespace p2p::pipeline::lifecycle {

namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

int64_t TodayDays(int64_t now_ms) { return DaysFromUnix(now_ms / 1000); }

}  // namespace

std::optional<int64_t> NextRefreshDue(const state::LifecycleRow& row, int64_t completed_ms,
                                      Millis interval) {
  if (!row.concurrent || row.revoked_ms) return std::nullopt;
  const int64_t due = completed_ms + interval.count();
  if (!MayRefreshOn(row, DaysFromUnix(due / 1000))) return std::nullopt;
  return due;
}

bool MayRefreshOn(const state::LifecycleRow& row, int64_t today_days) {
  if (!row.concurrent || row.revoked_ms) return false;
  if (row.consent_end_days && today_days > *row.consent_end_days) return false;
  if (row.coverage_end_days && today_days > *row.coverage_end_days) return false;
  return true;
}

int64_t ConsentStartMs(std::string_view consent_start) {
  auto days = ParseCivilDate(consent_start);
  return days ? *days * kDayMs : 0;
}

IntakeSplit SplitIntake(std::vector<std::pair<uint64_t, MemberRow>>& rows, int64_t today_days) {
  IntakeSplit out;
  for (const auto& [line, row] : rows) {
    if (row.IsConsentRevoked()) {
      out.revoked.emplace_back(row.prior_payer, row.member_key);
      continue;
    }
    if (auto l = LifecycleOf(row, today_days)) out.lifecycle.push_back(std::move(*l));
  }
  if (!out.revoked.empty()) {
    rows.erase(std::remove_if(rows.begin(), rows.end(),
                              [](const auto& r) { return r.second.IsConsentRevoked(); }),
               rows.end());
  }
  return out;
}

std::optional<state::LifecycleIntake> LifecycleOf(const MemberRow& row, int64_t today_days) {
  const int64_t start = ParseCivilDate(row.consent_start).value_or(0);
  if (!row.IsConcurrent() && start <= today_days) return std::nullopt;
  state::LifecycleIntake l;
  l.payer = row.prior_payer;
  l.member_key = row.member_key;
  l.concurrent = row.IsConcurrent();
  l.consent_start_days = start;
  l.consent_end_days = ParseCivilDate(row.consent_end).value_or(0);
  if (!row.coverage_end.empty()) l.coverage_end_days = ParseCivilDate(row.coverage_end);
  return l;
}

Result<void> ApplyIntake(state::StateDb& db, const IntakeSplit& split,
                         const ConsentOptions& consent, int64_t now_ms) {
  if (auto r = state::RecordLifecycle(db, split.lifecycle); !r) return r;
  const bool purge = consent.on_revocation == RevocationAction::kPurge;
  for (const auto& [payer, member_key] : split.revoked) {
    auto r = state::RecordRevocation(db, payer, member_key, purge, now_ms);
    if (!r) return std::move(r).error();
    if (r->job_id == 0) {
      spdlog::info("member {} payer {}: consent revoked; no job to stop", member_key, payer);
    } else {
      spdlog::info("job {} member {} payer {}: consent revoked{}{}", r->job_id, member_key, payer,
                   r->cancelled ? "; job cancelled" : "",
                   r->purge_requested ? "; its resources will be purged" : "");
    }
  }
  return Ok();
}

Result<void> BeforeComplete(state::StateDb& db, const state::Job& job, Millis interval,
                            int64_t now_ms) {
  auto row = state::LoadLifecycle(db, job.payer, job.member_key);
  if (!row) return std::move(row).error();
  if (!*row) return Ok();
  const std::optional<int64_t> due = NextRefreshDue(**row, now_ms, interval);
  if (!due && (*row)->concurrent && !(*row)->revoked_ms) {
    spdlog::info("job {} member {} payer {}: consent or coverage ends before the next refresh; "
                 "no more refreshes",
                 job.id, job.member_key, job.payer);
  }
  return state::SetRefreshDue(db, job.payer, job.member_key, due);
}

int64_t NotBefore(const state::Job& job) {
  auto row = DecodeMemberRow(job.row_json);
  if (!row) return 0;
  return ConsentStartMs(row->consent_start);
}

Result<std::string> ExportSince(state::StateDb& db, const state::Job& job) {
  return state::RefreshSince(db, job.payer, job.member_key);
}

Result<int> StartDueRefreshes(state::StateDb& db, const std::string& payer, int64_t now_ms,
                              int limit) {
  auto due = state::DueRefreshes(db, payer, now_ms, limit);
  if (!due) return std::move(due).error();
  int started = 0;
  for (const state::DueRefresh& d : *due) {
    auto row = state::LoadLifecycle(db, payer, d.member_key);
    if (!row) return std::move(row).error();
    if (!*row || !MayRefreshOn(**row, TodayDays(now_ms))) {
      spdlog::info("job {} member {} payer {}: consent or coverage over; refreshes end", d.job_id,
                   d.member_key, payer);
      if (auto r = state::SetRefreshDue(db, payer, d.member_key, std::nullopt); !r) {
        return std::move(r).error();
      }
      continue;
    }
    auto s = state::StartRefresh(db, d.job_id, payer, d.member_key, d.transaction_time, now_ms);
    if (!s) return std::move(s).error();
    if (*s) {
      ++started;
      spdlog::info("job {} member {} payer {}: complete -> exporting (refresh {} since the last "
                   "export)",
                   d.job_id, d.member_key, payer, (*row)->refreshes + 1);
    }
  }
  return started;
}

Result<int> ApplyPurges(state::StateDb& db, store::ResourceStore& store, const std::string& payer,
                        const std::set<int64_t>& running, int limit, int64_t now_ms) {
  auto pending = state::PendingPurges(db, payer, limit);
  if (!pending) return std::move(pending).error();
  int done = 0;
  for (const state::PendingPurge& p : *pending) {
    if (p.job_id != 0 && running.count(p.job_id) != 0) continue;  // after its run stops
    auto purged = store.PurgeMember(payer, p.member_key);
    if (!purged && ClassifyStorageError(purged.error()) != StorageProblem::kNone) {
      // The store cannot take writes now (full, read-only, unreachable): the purge stays
      // pending and is tried again on a later round.
      spdlog::debug("payer {}: consent purges wait: {}", payer, purged.error().message);
      break;
    }
    if (!purged) return std::move(purged).error();
    std::vector<std::pair<std::string, int64_t>> marks;
    for (const store::StoreMark& m : purged->marks) marks.emplace_back(m.type, m.deleted_end);
    auto r = state::PurgeDone(db, payer, p.member_key, p.job_id, purged->removed, marks, now_ms);
    if (!r) return std::move(r).error();
    spdlog::info("job {} member {} payer {}: consent revoked: {} resources purged from the store",
                 p.job_id, p.member_key, payer, purged->removed);
    ++done;
  }
  return done;
}

Result<bool> OnlyConsentWaits(state::StateDb& db, const std::string& payer, int64_t now_ms) {
  return state::OnlyConsentWaits(db, payer, TodayDays(now_ms));
}

}  // namespace p2p::pipeline::lifecycle
