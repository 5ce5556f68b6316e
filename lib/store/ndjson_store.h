// NdjsonStore: the store.kind "ndjson" ResourceStore (contract in resource_store.h).
//
// Layout under store.path (0700): <Type>.ndjson (complete lines only), <Type>.index (one line per
// committed file: "start end payer member_key tx_time job_id file_index", fields %-escaped, "-" for
// empty; see index_line.h), <Type>.deleted (tombstones of Delete/PurgeMember, see
// resource_store.h), and .tmp/<job_id>-<file_index>.part for files being written.
//
// A writer buffers lines (512 KiB). The first writer of a type writes them straight after the
// committed end of <Type>.ndjson (direct mode, no second copy; the disk writeback is started
// every 8 MiB so that the commit's fdatasync waits only for the rest); Commit() fsyncs, appends
// the index line, fsyncs and returns the new ends. While a type has a direct writer, other
// writers of that type write .tmp/<job_id>-<file_index>.part; their Commit() first moves the
// direct writer's bytes so far into its own .part (it goes on there), then appends the
// temporary file (copy_file_range, read/write fallback), fsyncs and appends the index line. If a
// commit fails half-way both files are cut back to their previous ends. Bytes past the committed
// end (a writer at work, or one killed) are never counted; Recover() undoes anything past the
// caller's recorded marks. Cost: one fsync of the data per file and no copy in the common
// case, where the temporary file was written, fsynced, copied and fsynced again. A direct writer
// also takes runs of lines without copying them (PutBlock: the writeback thread writes them
// from the caller's buffer, after the lines buffered before; WaitBlock tells when the buffer is
// free again); a temporary-file writer copies them.
//
// Errors: ENOSPC/EDQUOT -> kDiskFull, other file errors kIo, messages "ndjson store: <op> <path>:
// <strerror>". Threading: one thread at a time; the store must outlive its writers. Inside, a
// direct writer hands each full 512 KiB buffer to the store's WritebackThread (writeback.h: pwrite,
// then sync_file_range to start and bound the disk writeback) and fills a second one; it waits
// for its buffer in flight before any other use of the file (commit, eviction, abort).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "store/index_line.h"
#include "store/posix_file.h"
#include "store/resource_store.h"
#include "store/writeback.h"

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
  // Tombstones in <Type>.deleted (see resource_store.h); defined in store_delete.cpp.
  Result<DeleteOutcome> Delete(std::string_view payer,
                               const std::vector<ResourceRef>& refs) override;
  Result<DeleteOutcome> PurgeMember(std::string_view payer, std::string_view member_key) override;

 private:
  friend class NdjsonFileWriter;
  // Consecutive lines of one member_key in a file written with PutFor: [start, end) relative to
  // the file's first byte.
  struct IndexRun {
    std::string member_key;
    int64_t start = 0, end = 0, lines = 0;
  };
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
  Result<StoreMark> Append(const FileContext& ctx, int tmp_fd, int64_t len, int64_t lines,
                           const std::vector<IndexRun>* runs = nullptr);
  // The direct writer of `f` wrote `len` bytes (`lines` lines) past the committed end: syncs
  // them and appends the index line.
  Result<StoreMark> CommitTail(const FileContext& ctx, TypeFiles& f, int64_t len, int64_t lines,
                               const std::vector<IndexRun>* runs = nullptr);
  // Writes and syncs the index line for [ndjson_end, ndjson_end + len) and moves both ends.
  // With `runs` (FileWriter::PutFor), one index line per run instead of one for the file.
  Result<StoreMark> AppendIndex(const FileContext& ctx, TypeFiles& f, int64_t len, int64_t lines,
                                const std::vector<IndexRun>* runs = nullptr);
  // Moves the direct writer of `f` (if any) to a temporary file and cuts `f` back to its
  // committed end, so that another writer can append.
  Result<void> Evict(TypeFiles& f);
  // Types with a .ndjson or .index file on disk.
  Result<std::map<std::string, bool>> TypesOnDisk() const;
  Result<StoreMark> CompactType(const std::string& type);
  // store_delete.cpp. Which lines of [0, end) of <Type>.ndjson (`fd`, index `entries`) are live:
  // the last committed line of their (payer, id) and not tombstoned. One flag per line.
  Result<std::vector<bool>> LiveLines(const std::string& type, int fd, int64_t end,
                                      const std::vector<IndexEntry>& entries);
  // store_delete.cpp. False when every line of the type is live without reading it: no
  // tombstones and no (payer, member_key) stored by two exports (refresh, re-kick).
  Result<bool> NeedsLiveFilter(const std::string& type, const std::vector<IndexEntry>& entries);
  // store_delete.cpp. Appends `lines` (tombstones) to <Type>.deleted and syncs; the new end.
  Result<int64_t> AppendTombstones(const std::string& type, const std::string& lines);
  // store_delete.cpp. Recover() for <Type>.deleted: truncate to `end` (0: no tombstones).
  Result<void> RecoverTombstones(const std::string& type, int64_t end);
  // Committed end of <Type>.ndjson (0 when the type has no file).
  Result<int64_t> CommittedEnd(const std::string& type);

  std::string dir_;
  std::string tmp_dir_;
  std::map<std::string, TypeFiles, std::less<>> files_;
  // Direct writers' buffers are written (and their disk writeback driven) by this thread, so the
  // network thread goes on parsing; each writer has at most one buffer in flight (writeback.h).
  std::unique_ptr<WritebackThread> writeback_;
};

}  // namespace p2p::store
