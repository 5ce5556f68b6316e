// NdjsonStore: the store.kind "ndjson" ResourceStore (contract in resource_store.h).
//
// Layout under store.path (0700): <Type>.ndjson (complete lines only), <Type>.index (one line per
// committed file: "start end payer member_key tx_time job_id file_index", fields %-escaped, "-" for
// empty; see index_line.h), and .tmp/<job_id>-<file_index>.part for files being written.
//
// A writer buffers lines (1 MiB) into its temporary file. Commit() fsyncs it, appends it to
// <Type>.ndjson (copy_file_range, read/write fallback), fsyncs, appends the index line, fsyncs,
// removes the temporary and returns the new ends. If an append fails half-way both files are cut
// back to their previous ends. Recover() undoes anything past the caller's recorded marks.
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
    UniqueFd ndjson, index;
    int64_t ndjson_end = 0, index_end = 0;
  };

  explicit NdjsonStore(std::string dir) : dir_(std::move(dir)) {}
  std::string PathOf(std::string_view type, std::string_view ext) const;
  Result<TypeFiles*> FilesFor(const std::string& type);
  // Appends [0, len) of `tmp_fd` and the index line for `ctx`; returns the new ends.
  Result<StoreMark> Append(const FileContext& ctx, int tmp_fd, int64_t len);
  // Types with a .ndjson or .index file on disk.
  Result<std::map<std::string, bool>> TypesOnDisk() const;
  Result<StoreMark> CompactType(const std::string& type);

  std::string dir_;
  std::string tmp_dir_;
  std::map<std::string, TypeFiles, std::less<>> files_;
};

}  // namespace p2p::store
