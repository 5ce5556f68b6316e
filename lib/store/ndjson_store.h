// NdjsonStore: the store.kind "ndjson" ResourceStore (contract in resource_store.h).
//
// Layout under store.path (0700): <Type>.ndjson (complete lines only up to the published end),
// <Type>.index (one line per published range: "start end payer member_key tx_time job_id
// file_index lines", fields %-escaped, "-" for empty; see index_line.h), <Type>.deleted
// (tombstones of Delete/PurgeMember, see resource_store.h), .lock (LockExclusive), and
// .staging/<job_id>/ for jobs not yet published: <file_index>.ndjson per committed output file
// (staged_file.h: the lines, then their index lines and a footer), `deleted` (the job's staged
// tombstones) and inplace-<Type>.index (the index lines of its files written in place).
//
// Writing a file: the writer buffers lines (512 KiB) and hands each full buffer to the store's
// WritebackThread (writeback.h: pwrite, then sync_file_range to start and bound the disk
// writeback, so the commit's fdatasync waits only for the rest), or hands over runs of checked
// lines without a copy (PutBlock). Two places it writes to:
//  * in place: one job per type at a time (the first to begin a file of the type while no other
//    job's lines are there) writes its files, one after another, straight after the published
//    end of <Type>.ndjson. Its committed files are recorded in its inplace-<Type>.index journal;
//    publishing the job then copies nothing, and a big export is written once (target 2 of the
//    benchmarks). These bytes are past the published end: not indexed, counted or scanned.
//  * staged: every other writer writes its own staging file, so writers never wait for each
//    other. Commit() writes the footer and syncs the file (and its directory).
// When another job is published while one holds a type's tail, the holder is evicted first
// (Evict): its committed in-place files are copied into staged files of their own, its writer
// at work moves its bytes to its staging file and goes on there, and the tail is cut back.
//
// Publishing a job (ndjson_publish.cpp): per type, the job's in-place files are already where
// they belong; its staged files follow them in file-index order (copy_file_range, read/write
// fallback; the disk writeback is started as the copy goes), synced, then the index lines of
// both (rebased), synced, then the staged tombstones with the new ends. The ends (and in-place
// state) before the publication are kept until EndJob, which restores them on kTakeBack/kDrop.
// If the publication fails half-way everything it appended is cut back. Recover() turns the
// in-place files of jobs still downloading into staged files, then cuts every file to the
// caller's recorded marks.
//
// Errors: ENOSPC/EDQUOT/EROFS -> kDiskFull, other file errors kIo, messages "ndjson store: <op>
// <path>: <strerror>"; another process holding .lock -> kBusy. Threading: one thread at a time;
// the store must outlive its writers.
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
  // Opens (creating 0700 with .staging/) the store directory `dir`.
  static Result<std::unique_ptr<NdjsonStore>> Open(const std::string& dir);

  Result<std::unique_ptr<FileWriter>> Begin(const FileContext& ctx) override;
  // ndjson_recover.cpp.
  Result<void> Recover(const std::map<std::string, StoreMark>& committed,
                       const std::set<int64_t>& staging_jobs) override;
  Result<void> LockExclusive() override;
  // ndjson_publish.cpp.
  Result<std::vector<StoreMark>> PublishJob(int64_t job_id) override;
  Result<void> EndJob(int64_t job_id, JobEnd end) override;
  // ndjson_compact.cpp.
  Result<std::vector<CompactedType>> Compact(
      const std::function<Result<void>(const StoreMark&)>& record) override;
  Result<void> Scan(std::string_view type,
                    const std::function<void(const StoredResource&)>& fn) override;
  Result<std::map<std::string, int64_t>> CountByType() override;
  // Tombstones in <Type>.deleted (see resource_store.h); defined in store_delete.cpp.
  Result<DeleteOutcome> Delete(std::string_view payer, int64_t job_id,
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
    int64_t ndjson_end = 0, index_end = 0;  // committed (published) ends
    // The job writing in place past ndjson_end (0: none): its committed files end at tail_end
    // and have the index lines (absolute offsets) tail_index; tail_writer writes there now.
    int64_t tail_job = 0;
    int64_t tail_end = 0;
    std::string tail_index;
    NdjsonFileWriter* tail_writer = nullptr;
  };
  // What a publication changed in one type, to restore it (EndJob kTakeBack / kDrop).
  struct Before {
    StoreMark ends;          // ndjson_end/index_end -1: data untouched; deleted_end likewise
    bool in_place = false;   // the job held the tail: restore it with these
    int64_t tail_end = 0;
    std::string tail_index;
  };
  // A publication not yet ended (EndJob).
  struct PendingPublish {
    int64_t job_id = 0;
    std::vector<Before> before;
  };

  explicit NdjsonStore(std::string dir) : dir_(std::move(dir)) {}
  std::string PathOf(std::string_view type, std::string_view ext) const;
  std::string StagingDir(int64_t job_id) const;
  // ndjson_in_place.cpp. .staging/<job_id>/inplace-<type>.index: the job's committed in-place
  // files of `type`.
  std::string InPlaceJournal(int64_t job_id, const std::string& type) const;
  Result<TypeFiles*> FilesFor(const std::string& type);
  // ndjson_in_place.cpp. An in-place writer of `f` committed [base, base + len) with
  // `index_lines` (absolute): journals them (synced) and moves the tail on.
  Result<void> CommitInPlace(int64_t job_id, TypeFiles& f, int64_t base, int64_t len,
                             const std::string& index_lines);
  // Moves the job holding `f`'s tail to staging (see above) and cuts the tail back.
  Result<void> Evict(TypeFiles& f);
  // ndjson_in_place.cpp. Copies each file of `index_lines` (in-place files of `job_id` in the
  // .ndjson `fd`) into the staged file of its index; lines starting before `from` are skipped.
  // All or nothing.
  Result<void> StageInPlace(int64_t job_id, const std::string& type, int fd,
                            const std::string& index_lines, int64_t from);
  // Types with a .ndjson or .index file on disk.
  Result<std::map<std::string, bool>> TypesOnDisk() const;
  // ndjson_publish.cpp. Cuts every file of `p` back to its ends before the publication.
  Result<void> Unpublish(const PendingPublish& p);
  // ndjson_recover.cpp. Recover(): the in-place files of `job_id` past the committed ends
  // become its staged files; its journals go.
  Result<void> StageInPlaceFiles(int64_t job_id, const std::map<std::string, StoreMark>& committed);
  // ndjson_compact.cpp.
  Result<CompactedType> CompactType(const std::string& type,
                                    const std::function<Result<void>(const StoreMark&)>& record);
  // ndjson_compact.cpp. Finishes (marks recorded) or undoes (not) an interrupted compaction of
  // any type, before Recover() compares file sizes with the marks.
  Result<void> RecoverCompactions(const std::map<std::string, StoreMark>& committed);
  // store_delete.cpp. Which lines of [0, end) of <Type>.ndjson (`fd`, index `entries`) are live:
  // the last committed line of their (payer, id) and not tombstoned. One flag per line.
  Result<std::vector<bool>> LiveLines(const std::string& type, int fd, int64_t end,
                                      const std::vector<IndexEntry>& entries);
  // store_delete.cpp. False when every line of the type is live without reading it: no
  // tombstones and no (payer, member_key) stored by two exports (refreshes).
  Result<bool> NeedsLiveFilter(const std::string& type, const std::vector<IndexEntry>& entries);
  // store_delete.cpp. Appends `lines` (tombstones) to <Type>.deleted and syncs; the new end.
  Result<int64_t> AppendTombstones(const std::string& type, const std::string& lines);
  // store_delete.cpp. Writes the staged tombstones of `job_id` (.staging/<job_id>/deleted) with
  // the current committed ends; adds one mark per type (deleted_end) to `marks` and the ends
  // before to `pending`.
  Result<void> PublishTombstones(int64_t job_id, std::vector<StoreMark>& marks,
                                 PendingPublish& pending);
  // Committed end of <Type>.ndjson (0 when the type has no file).
  Result<int64_t> CommittedEnd(const std::string& type);

  std::string dir_;
  std::string staging_dir_;
  std::map<std::string, TypeFiles, std::less<>> files_;
  UniqueFd lock_;                          // .lock, held while this store is open (LockExclusive)
  std::unique_ptr<PendingPublish> pending_;  // PublishJob done, EndJob not yet
  // Writers' buffers are written (and their disk writeback driven) by this thread, so the
  // network thread goes on parsing; each writer has at most one buffer in flight (writeback.h).
  std::unique_ptr<WritebackThread> writeback_;
};

}  // namespace p2p::store
