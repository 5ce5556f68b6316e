// The `directory` member source: files arrive by atomic rename into source.path.
//   *.csv / *.ndjson at the top level are taken in name order; dotfiles, temporary names
//   (*.tmp, *.part, names starting with "." or "~") and subdirectories are ignored, so a file
//   still being written under a temporary name is never picked up half-written. A file written
//   in place (no rename) is left alone while any process still has it open for writing (Linux
//   lease check; see StillBeingWritten in the .cpp for the fallback) and taken on a later scan.
//   After the caller has committed a file's good rows to the state DB it calls Finish(): the
//   problems (if any) are written to rejected/<file>.errors (one line each:
//   "<file>:<line>: <field>: <reason>", mode 0600) and the file is moved to processed/<file>
//   (a name already there gets a numeric suffix).
//
//   Visit() is the daemon's way in: the file is mapped and parsed as a stream, and the pages
//   behind the parse are given back as it goes, so memory does not grow with the file's size.
//
// Threading: used from the daemon's loop thread only.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "config/options.h"
#include "core/result.h"
#include "source/member_file.h"

namespace p2p::source {

// What identifies a file between two runs (a crash mid-file resumes only the same file).
struct MemberFileIdentity {
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

class DirectorySource {
 public:
  // `known_payers`: configured payer ids. Creates path, processed/ and rejected/ (0700) if missing.
  DirectorySource(const SourceOptions& options, std::vector<std::string> known_payers);

  Result<void> Prepare();  // create directories; kIo when path is not a readable directory

  // Files ready for intake, in name order; files still open for writing are left out.
  Result<std::vector<std::filesystem::path>> ListReady() const;

  // Reads and decodes one file (files over 1 GiB are rejected whole with one problem).
  Result<ParsedMembers> Read(const std::filesystem::path& file) const;

  // kIo when the file cannot be opened for reading.
  Result<MemberFileIdentity> Identify(const std::filesystem::path& file) const;
  // Streams one file through VisitMemberCsv / VisitMemberNdjson (by extension) without holding
  // it: the file is mapped read-only and the pages behind the parse are released every few MiB.
  // A file over 1 GiB gets one problem and no rows. kIo when it cannot be opened or mapped;
  // a visitor's error is returned as is.
  Result<void> Visit(const std::filesystem::path& file, const RowVisitor& visitor) const;

  // Writes rejected/<name>.errors when `problems` is non-empty, then moves the file to
  // processed/. Idempotent when called again for a file already moved.
  Result<void> Finish(const std::filesystem::path& file,
                      const std::vector<RowProblem>& problems) const;
  Result<void> Finish(const std::filesystem::path& file, const ParsedMembers& parsed) const {
    return Finish(file, parsed.problems);
  }

  const std::filesystem::path& processed_dir() const { return processed_; }
  const std::filesystem::path& rejected_dir() const { return rejected_; }

 private:
  SourceOptions options_;
  std::vector<std::string> known_payers_;
  std::filesystem::path root_, processed_, rejected_;
};

}  // namespace p2p::source
