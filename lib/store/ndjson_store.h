// NdjsonStore: the store.kind "ndjson" ResourceStore (contract in resource_store.h).
//
// Layout under store.path (0700): <Type>.ndjson (complete lines only), <Type>.index (one line per
// committed file: "start end payer member_key tx_time job_id file_index", fields %-escaped, "-" for
// empty; see index_line.h), and .tmp/<job_id>-<file_index>.part for files being written.
//
// A writer buffers lines (1 MiB). The first writer of a type writes them straight after the
// committed end of <Type>.ndjson (direct mode, no second copy; the disk writeback is started
// every 8 MiB so that the commit's fdatasync waits only for the rest); Commit() fsyncs, appends
// the index line, fsyncs and returns the new ends. While a type has a direct writer, other
// writers of that type write .tmp/<job_id>-<file_index>.part; their Commit() first moves the
// direct writer's bytes so far into its own .part (it goes on there), then appends the
// temporary file (copy_file_range, read/write fallback), fsyncs and appends the index line. If a
// commit fails half-way both files are cut back to their previous ends. Bytes past the committed
// end (a writer at work, or one killed) are never counted; Recover() undoes anything past the
// caller's recorded marks. Issue 6: one fsync of the data per file and no copy in the common
// case, where the temporary file was written, fsynced, copied and fsynced again.
//
// Errors: ENOSPC/EDQUOT -> kDiskFull, other file errors kIo, messages "ndjson store: <op> <path>:
// <strerror>". Threading: one thread at a time; the store must outlive its writers.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "store/posix_file.h"
#include "store/resource_store.h"

namespace p2p::store {

class NdjsonFileWriter;

class NdjsonStore final : public ResourceStore {
 public:
  // Opens (creating 0700 with .tmp/) the store directory `dir`.
  static Result<std::unique_ptr<NdjsonStore>> Open(const std::string& dir);

  Result<std::unique_ptr<FileWriter>> Begin(const FileContext& ctx) override;
  Result<void> Recover(const std::map<std::string, StoreMark>& committed) override;
  Result<std::map<std::string, StoreMark>> Compact() override;
  Result<void> Scan(std::string_view type,
                    const std::function<void(const StoredResource&)>& fn) override;
  Result<std::map<std::string, int64_t>> CountByType() override;

 private:
  friend class NdjsonFileWriter;
  struct TypeFiles {
    std::string type;
    UniqueFd ndjson, index;
    int64_t ndjson_end = 0, index_end = 0;  // committed ends
    NdjsonFileWriter* tail = nullptr;       // the direct writer past ndjson_end, if any
  };

  explicit NdjsonStore(std::string dir) : dir_(std::move(dir)) {}
  std::string PathOf(std::string_view type, std::string_view ext) const;
  Result<TypeFiles*> FilesFor(const std::string& type);
  // Appends [0, len) of `tmp_fd` (`lines` NDJSON lines) and the index line for `ctx`; returns
  // the new ends.
  Result<StoreMark> Append(const FileContext& ctx, int tmp_fd, int64_t len, int64_t lines);
  // The direct writer of `f` wrote `len` bytes (`lines` lines) past the committed end: syncs
  // them and appends the index line.
  Result<StoreMark> CommitTail(const FileContext& ctx, TypeFiles& f, int64_t len, int64_t lines);
  // Writes and syncs the index line for [ndjson_end, ndjson_end + len) and moves both ends.
  Result<StoreMark> AppendIndex(const FileContext& ctx, TypeFiles& f, int64_t len, int64_t lines);
  // Moves the direct writer of `f` (if any) to a temporary file and cuts `f` back to its
  // committed end, so that another writer can append.
  Result<void> Evict(TypeFiles& f);
  // Types with a .ndjson or .index file on disk.
  Result<std::map<std::string, bool>> TypesOnDisk() const;
  Result<StoreMark> CompactType(const std::string& type);

  std::string dir_;
  std::string tmp_dir_;
  std::map<std::string, TypeFiles, std::less<>> files_;
};

}  // namespace p2p::store
