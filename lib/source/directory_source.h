// The `directory` member source: files arrive by atomic rename into source.path.
//   *.csv / *.ndjson at the top level are taken in name order; dotfiles, temporary names
//   (*.tmp, *.part, names starting with "." or "~") and subdirectories are ignored, so a file
//   still being written under a temporary name is never picked up half-written. A file written
//   in place (no rename) is left alone while any process still has it open for writing (Linux
//   lease check; see StillBeingWritten in the .cpp for the fallback) and taken on a later scan.
//
//   Several daemons may share one inbox (e.g. on NFS): ListReady() first claims each ready file
//   by an atomic rename into this instance's claim directory source.path/claimed/<instance.id>/
//   (inbox_claims.h), so exactly one instance takes it; the others skip it without a word. The
//   paths it returns are the claimed files, those left unfinished by an earlier run of this
//   instance included (they are resumed). A file that cannot be claimed (e.g. EACCES) stays in the
//   inbox and is reported once through the warning callback.
//
//   After the caller has committed a file's good rows to the state DB it calls Finish(): the
//   problems (if any) are written to rejected/<file>.errors (one line each:
//   "<file>:<line>: <field>: <reason>", mode 0600) and the file is moved to processed/<file>
//   (a name already there gets a numeric suffix; instances finishing at the same time take
//   turns under a lock, so none replaces another's file).
//
//   Visit() is the daemon's way in: the file is mapped and parsed as a stream, and the pages
//   behind the parse are given back as it goes, so memory does not grow with the file's size.
//
// Threading: used from the daemon's loop thread only. Owns the claim directory's lock.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "config/options.h"
#include "core/result.h"
#include "source/inbox_claims.h"
#include "source/member_file.h"

namespace p2p::source {

// What identifies a file between two runs (a crash mid-file resumes only the same file).
struct MemberFileIdentity {
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

class DirectorySource {
 public:
  // Files claimed at least this long ago by another instance that is not running are reported
  // (by Prepare, then at most hourly by ListReady).
  static constexpr std::chrono::seconds kAbandonedAfter{15 * 60};

  // `known_payers`: configured payer ids; `instance_id`: instance.id, naming the claim directory.
  DirectorySource(const SourceOptions& options, std::vector<std::string> known_payers,
                  std::string instance_id);

  // Where advice for the operator goes (a file that cannot be claimed, other instances' files
  // waiting in their claim directories); by default nowhere. The text names files, never rows.
  void SetWarning(std::function<void(const std::string&)> warn) { warn_ = std::move(warn); }

  // Creates path, processed/, rejected/ and the claim directory (0700) if missing and locks the
  // claim directory. kIo when path is not a readable directory; kInvalid when another running
  // daemon uses the same instance.id on this inbox.
  Result<void> Prepare();

  // Claims the files ready for intake (files still open for writing are left in the inbox) and
  // returns every file this instance holds, in name order: the paths are in the claim directory.
  // A name this instance already holds is claimed again only once that file is finished.
  Result<std::vector<std::filesystem::path>> ListReady();

  // Whether the inbox can be listed (the /readyz check): claims nothing. kIo otherwise.
  Result<void> CheckReadable() const;

  // Reads and decodes one file (files over 1 GiB are rejected whole with one problem).
  Result<ParsedMembers> Read(const std::filesystem::path& file) const;

  // kIo when the file cannot be opened for reading.
  Result<MemberFileIdentity> Identify(const std::filesystem::path& file) const;
  // Streams one file through VisitMemberCsv / VisitMemberNdjson (by extension) without holding
  // it: the file is mapped read-only and the pages behind the parse are released every few MiB.
  // A file over 1 GiB gets one problem and no rows. kIo when it cannot be opened or mapped;
  // a visitor's error is returned as is.
  Result<void> Visit(const std::filesystem::path& file, const RowVisitor& visitor) const;

  // Writes rejected/<name>.errors when `problems` is non-empty, then moves `file` (claimed, or
  // anywhere) to processed/. Idempotent when called again for a file already moved. kBusy when
  // another instance kept processed/ locked for too long (the file stays; try again later).
  Result<void> Finish(const std::filesystem::path& file,
                      const std::vector<RowProblem>& problems) const;
  Result<void> Finish(const std::filesystem::path& file, const ParsedMembers& parsed) const {
    return Finish(file, parsed.problems);
  }

  const std::filesystem::path& processed_dir() const { return processed_; }
  const std::filesystem::path& rejected_dir() const { return rejected_; }
  const std::filesystem::path& claim_dir() const { return claims_.dir(); }

 private:
  void Warn(const std::string& text) const {
    if (warn_) warn_(text);
  }
  void ReportAbandoned();

  SourceOptions options_;
  std::vector<std::string> known_payers_;
  std::filesystem::path root_, processed_, rejected_;
  InboxClaims claims_;
  std::function<void(const std::string&)> warn_;
  std::set<std::string> unclaimable_;  // reported once each, while they stay unclaimable
  std::chrono::steady_clock::time_point next_abandoned_report_{};
};

}  // namespace p2p::source
