// StateDb methods for exports (state_db.h "exports"): manifest pages, Expires and the
// issues of error[] files, in the side tables of migrations/004_exports.sql. Statements are
// prepared per call: these run once per manifest page or error file, not per resource.
#include "state/state_db.h"

namespace p2p::state {
namespace {

#define P2P_TRY(expr)                      \
  do {                                     \
    auto _r = (expr);                      \
    if (!_r) return std::move(_r).error(); \
  } while (0)

Result<void> WritePage(Conn* db, int64_t job_id, const ExportPage& page) {
  auto st = Stmt::Prepare(db,
                          "INSERT INTO export_pages(job_id, expires_ms, next_url, pages) "
                          "VALUES (?1,?2,?3,?4) ON CONFLICT(job_id) DO UPDATE SET "
                          "expires_ms=excluded.expires_ms, next_url=excluded.next_url, "
                          "pages=excluded.pages");
  if (!st) return std::move(st).error();
  st->Bind(1, job_id).Bind(2, page.expires_ms).Bind(3, page.next_url).Bind(4, page.pages);
  return st->Run("record manifest page");
}

}  // namespace

Result<void> StateDb::SaveFirstManifestPage(const Job& job, JobState previous,
                                            const std::vector<FileRow>& files,
                                            const ExportPage& page, int64_t now_ms) {
  Transaction tx(db_);
  P2P_TRY(tx.Begin());
  auto forget = Stmt::Prepare(db_, "DELETE FROM export_issues WHERE job_id=?1");
  if (!forget) return std::move(forget).error();
  forget->Bind(1, job.id);
  P2P_TRY(forget->Run("forget error file issues"));
  delete_files_.Bind(1, job.id);
  P2P_TRY(delete_files_.Run("delete files"));
  P2P_TRY(InsertFiles(job.id, files));
  P2P_TRY(WritePage(db_, job.id, page));
  P2P_TRY(WriteJob(job, previous, now_ms));
  return tx.Commit();
}

Result<void> StateDb::AppendManifestPage(const Job& job, JobState previous,
                                         const std::vector<FileRow>& files, const ExportPage& page,
                                         int64_t now_ms) {
  Transaction tx(db_);
  P2P_TRY(tx.Begin());
  P2P_TRY(InsertFiles(job.id, files));
  P2P_TRY(WritePage(db_, job.id, page));
  P2P_TRY(WriteJob(job, previous, now_ms));
  return tx.Commit();
}

Result<ExportPage> StateDb::LoadExportPage(int64_t job_id) {
  auto st =
      Stmt::Prepare(db_, "SELECT expires_ms, next_url, pages FROM export_pages WHERE job_id=?1");
  if (!st) return std::move(st).error();
  st->Bind(1, job_id);
  auto row = st->Step("load manifest page");
  if (!row) return std::move(row).error();
  ExportPage page;
  if (*row) {
    page.expires_ms = st->Int(0);
    page.next_url = st->Text(1);
    page.pages = st->Int(2);
  }
  return page;
}

Result<void> StateDb::ErrorFileDone(const FileRow& file, const std::vector<ExportIssue>& issues,
                                    const std::vector<BadLine>& bad) {
  Transaction tx(db_);
  P2P_TRY(tx.Begin());
  P2P_TRY(CheckLease(file.job_id));
  auto ins = Stmt::Prepare(db_,
                           "INSERT INTO export_issues(job_id, file_idx, line_no, issue_no, "
                           "severity, code, diagnostics) VALUES (?1,?2,?3,?4,?5,?6,?7) "
                           "ON CONFLICT(job_id, file_idx, line_no, issue_no) DO UPDATE SET "
                           "severity=excluded.severity, code=excluded.code, "
                           "diagnostics=excluded.diagnostics");
  if (!ins) return std::move(ins).error();
  for (const ExportIssue& i : issues) {
    ins->Bind(1, file.job_id)
        .Bind(2, static_cast<int64_t>(file.idx))
        .Bind(3, i.line_no)
        .Bind(4, static_cast<int64_t>(i.issue_no))
        .Bind(5, i.severity)
        .Bind(6, i.code)
        .Bind(7, i.diagnostics);
    P2P_TRY(ins->Run("record error file issue"));
  }
  for (const BadLine& b : bad) {
    insert_bad_.Bind(1, file.job_id)
        .Bind(2, static_cast<int64_t>(file.idx))
        .Bind(3, b.line_no)
        .Bind(4, b.reason);
    P2P_TRY(insert_bad_.Run("record bad line"));
  }
  file_done_.Bind(1, file.job_id)
      .Bind(2, static_cast<int64_t>(file.idx))
      .Bind(3, static_cast<int64_t>(file.state))
      .Bind(4, file.lines)
      .Bind(5, file.stored)
      .Bind(6, file.bad_lines)
      .Bind(7, file.bytes)
      .Bind(8, file.attempts);
  P2P_TRY(file_done_.Run("mark error file done"));
  return tx.Commit();
}

Result<std::vector<ExportIssueCount>> StateDb::ExportIssueCounts(int64_t job_id) {
  auto st = Stmt::Prepare(db_,
                          "SELECT severity, code, COUNT(*) FROM export_issues WHERE job_id=?1 "
                          "GROUP BY severity, code ORDER BY severity, code");
  if (!st) return std::move(st).error();
  st->Bind(1, job_id);
  std::vector<ExportIssueCount> out;
  for (;;) {
    auto row = st->Step("count error file issues");
    if (!row) return std::move(row).error();
    if (!*row) break;
    out.push_back({st->Text(0), st->Text(1), st->Int(2)});
  }
  return out;
}

}  // namespace p2p::state
