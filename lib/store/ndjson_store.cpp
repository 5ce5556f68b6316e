#include "store/ndjson_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/index_line.h"
#include "store/line_id.h"
#include "store/staged_file.h"
#include "store/type_name.h"

namespace p2p::store {

namespace {

// Writers have two (one being filled, one being written by the writeback thread): 1 MiB per
// writer, as with the single 1 MiB buffer they had before (target 4: RSS flat in file size).
constexpr size_t kWriteBuffer = 512 << 10;
constexpr int64_t kWritebackBytes = 8 << 20;  // start the disk writeback this often
constexpr char kPrefix[] = "ndjson store";

Error Prefixed(Error e) { return std::move(e).Context(kPrefix); }

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Number of '\n' in [from, to) of `fd`, read through `buf`.
Result<int64_t> CountNewlines(int fd, int64_t from, int64_t to, std::string& buf,
                              const std::string& path) {
  int64_t count = 0;
  for (int64_t pos = from; pos < to;) {
    const size_t want =
        static_cast<size_t>(std::min<int64_t>(to - pos, static_cast<int64_t>(buf.size())));
    const ssize_t n = ::pread(fd, buf.data(), want, pos);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "read " + path);
    if (n == 0) break;
    count += std::count(buf.data(), buf.data() + n, '\n');
    pos += n;
  }
  return count;
}

}  // namespace

// Writes one downloaded file's lines (see ndjson_store.h): in place, straight after the
// published end of <Type>.ndjson (plus the same job's in-place files before it), or staged in
// .staging/<job_id>/<file_index>.ndjson (staged_file.h). Either way the disk writeback is started
// every kWritebackBytes so that Commit()'s fdatasync waits only for the last few MiB, and the
// lines join the published part only when the job is published. An in-place writer becomes a
// staged one when another job's publication evicts it (MoveToStaged). A file that is aborted is
// removed (staged) or cut off (in place).
class NdjsonFileWriter final : public FileWriter {
 public:
  NdjsonFileWriter(NdjsonStore* store, FileContext ctx, std::string dir)
      : store_(store),
        ctx_(std::move(ctx)),
        dir_(std::move(dir)),
        path_(dir_ + "/" + std::to_string(ctx_.file_index) + ".ndjson") {}
  ~NdjsonFileWriter() override { Abort(); }

  // Writes from the tail of `files` on (their tail_job is this writer's job).
  Result<void> StartInPlace(NdjsonStore::TypeFiles* files) {
    // A staged copy of this file from an earlier attempt (an in-place commit that Recover()
    // staged, the "done" mark never recorded) must not be published beside this one.
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
      return Prefixed(ErrnoError(errno, "remove " + path_));
    }
    place_ = files;
    base_ = files->tail_end;
    files->tail_writer = this;
    write_what_ = "write " + store_->PathOf(ctx_.type, ".ndjson");
    return Ok();
  }
  Result<void> StartStaged() {
    auto fd = OpenFile(path_, O_RDWR | O_CREAT | O_TRUNC);  // a cut earlier attempt goes
    if (!fd) return Prefixed(std::move(fd).error());
    fd_ = std::move(*fd);
    write_what_ = "write " + path_;
    return Ok();
  }

  Result<void> Put(std::string_view /*id*/, std::string_view line) override {
    if (!status_) return status_;
    ++lines_;
    if (!buf_) buf_ = std::make_unique_for_overwrite<char[]>(kWriteBuffer);
    size_t need = line.size() + 1;
    if (used_ + need > kWriteBuffer && used_ > 0) {
      if (auto r = Flush(); !r) return r;
    }
    if (need > kWriteBuffer) {  // a line larger than the buffer goes straight to the file
      if (auto r = Write(line.data(), line.size()); !r) return r;
      buf_[used_++] = '\n';
      return Ok();
    }
    std::memcpy(buf_.get() + used_, line.data(), line.size());
    used_ += line.size();
    buf_[used_++] = '\n';
    return Ok();
  }

  // The block goes to the writeback thread as it is, after the lines buffered before it.
  bool TakesBlocks() const override { return true; }
  Result<uint64_t> PutBlock(std::string_view lines, int64_t count) override {
    if (!status_) return status_.error();
    lines_ += count;
    if (used_ > 0) {
      if (auto r = Flush(); !r) return std::move(r).error();
    }
    Submit(lines.data(), lines.size());
    return ticket_;
  }
  // Waits for the writeback thread's job `token` (and those before it), not for later ones. Its
  // error, if any, is picked up by the next Settle().
  void WaitBlock(uint64_t token) override {
    if (token != 0) store_->writeback_->WaitFor(token);
  }

  Result<void> PutFor(std::string_view member_key, std::string_view id,
                      std::string_view line) override {
    if (member_key.empty()) {
      return Prefixed(MakeError(ErrorKind::kInvalid, "empty member_key for " + ctx_.type));
    }
    const int64_t at = written_ + static_cast<int64_t>(used_);
    if (runs_.empty() && lines_ > 0) {  // lines Put() before: the file's own member_key
      runs_.push_back(NdjsonStore::IndexRun{ctx_.member_key, 0, at, lines_});
    }
    if (runs_.empty() || runs_.back().member_key != member_key) {
      runs_.push_back(NdjsonStore::IndexRun{std::string(member_key), at, at, 0});
    }
    if (auto r = Put(id, line); !r) return r;
    runs_.back().end = written_ + static_cast<int64_t>(used_);
    runs_.back().lines += 1;
    return Ok();
  }

  Result<StoreMark> Commit() override {
    done_ = true;
    auto r = CommitImpl();
    Cleanup(r.ok());
    if (!r) return r.error();
    return StoreMark{ctx_.type};  // nothing to record until the job is published
  }

  void Abort() override {
    if (done_) return;
    done_ = true;
    Cleanup(false);
  }

  // Called by NdjsonStore::Evict: moves what this in-place writer wrote so far into its own
  // staging file and goes on there. On failure the writer keeps the error (its file is
  // downloaded again) and gives the tail back all the same.
  void MoveToStaged() {
    NdjsonStore::TypeFiles* f = place_;
    Result<void> r = status_ ? Flush() : status_;  // still in place: into the type's file
    Settle();  // the copy below reads what the writeback thread wrote
    if (r && !status_) r = status_;
    place_ = nullptr;
    f->tail_writer = nullptr;
    if (r) r = StartStaged();
    if (r && written_ > 0) {
      r = CopyRange(f->ndjson.get(), base_, fd_.get(), 0, written_, "copy to " + path_);
      if (!r) r = Prefixed(std::move(r).error());
    }
    base_ = 0;
    writeback_ = waited_ = written_;  // the copy's pages are synced by the commit
    if (!r) status_ = std::move(r);
  }

 private:
  int fd() const { return place_ != nullptr ? place_->ndjson.get() : fd_.get(); }

  Result<void> CommitImpl() {
    if (!status_) return status_;
    if (auto r = Flush(); !r) return r;
    Settle();
    if (!status_) return status_;
    // The file's index lines: offsets from base_ (0 for a staged file).
    std::string index;
    auto entry = [&](std::string member_key, int64_t start, int64_t end, int64_t lines) {
      if (end > start) {
        index += FormatIndexLine(IndexEntry{base_ + start, base_ + end, ctx_.payer,
                                            std::move(member_key), ctx_.transaction_time,
                                            ctx_.job_id, ctx_.file_index, lines});
      }
    };
    if (runs_.empty()) entry(ctx_.member_key, 0, written_, lines_);
    for (const NdjsonStore::IndexRun& run : runs_) {
      entry(run.member_key, run.start, run.end, run.lines);
    }
    if (place_ != nullptr) {
      const std::string what = "fsync " + store_->PathOf(ctx_.type, ".ndjson");
      if (auto r = SyncFile(fd(), what); !r) return Prefixed(std::move(r).error());
      return store_->CommitInPlace(ctx_.job_id, *place_, base_, written_, index);
    }
    const std::string trailer = StagedTrailer(ctx_.type, written_, index);
    auto r = PwriteAll(fd_.get(), trailer.data(), trailer.size(), written_, write_what_);
    if (r) r = SyncFile(fd_.get(), "fsync " + path_);
    // The file's name (and its job directory's) must outlive a crash as the "done" mark does.
    if (r) r = SyncDir(dir_);
    if (r) r = SyncDir(store_->staging_dir_);
    if (!r) return Prefixed(std::move(r).error());
    return Ok();
  }

  // The writeback thread's job (if any) is done; its error becomes this writer's.
  void Settle() {
    if (ticket_ == 0) return;
    store_->writeback_->WaitFor(ticket_);
    ticket_ = 0;
    spare_ticket_ = 0;
    if (!async_status_ && status_) status_ = Prefixed(async_status_.error());
  }

  // Hands the first `n` bytes of buf_ to the writeback thread (which also drives the disk
  // writeback, see writeback.h) and goes on in the spare buffer. Waits only for the spare
  // buffer's own write, not for the blocks queued after it (PutBlock): those are the caller's
  // slots, which it waits for itself (WaitBlock). A failed write of any job is noticed through
  // failed_ and then read after Settle().
  Result<void> Handoff(size_t n) {
    if (spare_ticket_ != 0) store_->writeback_->WaitFor(spare_ticket_);  // the spare is free
    spare_ticket_ = 0;
    if (failed_.load(std::memory_order_acquire)) Settle();
    if (!status_) return status_;
    std::swap(buf_, spare_);
    if (!buf_) buf_ = std::make_unique_for_overwrite<char[]>(kWriteBuffer);
    Submit(spare_.get(), n);
    spare_ticket_ = ticket_;
    return Ok();
  }

  // Queues the write of `n` bytes at `data` after everything before; ticket_ is its job. Jobs
  // run in order, so no wait here.
  void Submit(const char* data, size_t n) {
    WritebackThread::Job job;
    job.fd = fd();
    job.offset = base_ + written_;
    job.data = data;
    job.size = n;
    job.what = &write_what_;
    job.status = &async_status_;
    job.failed = &failed_;
    written_ += static_cast<int64_t>(n);
    if (written_ - writeback_ >= kWritebackBytes) {
      job.start_from = base_ + writeback_;
      job.start_len = written_ - writeback_;
      // Bounds the dirty pages (~4 rounds per writer) without waiting on the disk in the common
      // case: only ranges whose writeback started 3 rounds ago are waited for.
      const int64_t settled = writeback_ - 3 * kWritebackBytes;
      if (settled - waited_ >= kWritebackBytes) {
        job.wait_from = base_ + waited_;
        job.wait_len = settled - waited_;
        waited_ = settled;
      }
      writeback_ = written_;
    }
    ticket_ = store_->writeback_->Submit(job);
  }

  Result<void> Write(const char* data, size_t size) {
    Settle();  // keeps the writes in order
    if (!status_) return status_;
    if (auto r = PwriteAll(fd(), data, size, base_ + written_, write_what_); !r) {
      status_ = Prefixed(std::move(r).error());
      return status_;
    }
    written_ += static_cast<int64_t>(size);
    if (written_ - writeback_ >= kWritebackBytes) {
      // Start writing these pages to disk now (does not wait): Commit's fdatasync then only
      // waits for the rest. A failure here only loses the head start.
      (void)::sync_file_range(fd(), base_ + writeback_, written_ - writeback_,
                              SYNC_FILE_RANGE_WRITE);
      writeback_ = written_;
    }
    return Ok();
  }

  Result<void> Flush() {
    size_t n = used_;
    used_ = 0;
    if (n == 0) return Ok();
    return Handoff(n);
  }

  // `committed`: the file stays for the job's publication; otherwise it goes.
  void Cleanup(bool committed) {
    Settle();  // nothing of ours in flight before cutting the file or freeing the buffers
    if (place_ != nullptr) {
      if (place_->tail_writer == this) place_->tail_writer = nullptr;
      if (!committed) {
        if (place_->tail_end == base_) (void)!::ftruncate(place_->ndjson.get(), base_);
        // Nothing of the job in place any more: the tail is free for any job.
        if (place_->tail_index.empty() && place_->tail_end == place_->ndjson_end) {
          place_->tail_job = 0;
        }
      }
      place_ = nullptr;
    }
    if (fd_.valid()) {
      fd_.reset();
      if (!committed) ::unlink(path_.c_str());
    }
    buf_.reset();
    spare_.reset();
  }

  NdjsonStore* store_;
  FileContext ctx_;
  std::string dir_;   // .staging/<job_id>
  std::string path_;  // dir_/<file_index>.ndjson, the staging file
  NdjsonStore::TypeFiles* place_ = nullptr;  // in place: the type's files; staged: null
  int64_t base_ = 0;                         // in place: offset of the file's first byte
  std::string write_what_;  // "write <path>", the writeback jobs' error context
  UniqueFd fd_;             // staged: the staging file
  std::unique_ptr<char[]> buf_;
  size_t used_ = 0;
  int64_t written_ = 0;
  int64_t writeback_ = 0;  // bytes handed to sync_file_range
  int64_t waited_ = 0;     // bytes known to be on disk (waited for by the thread)
  std::unique_ptr<char[]> spare_;  // the buffer the writeback thread is writing
  uint64_t ticket_ = 0;            // the last job queued, 0 when none is in flight
  uint64_t spare_ticket_ = 0;      // the job writing spare_, 0 when none
  std::atomic<bool> failed_{false};  // set by the writeback thread with async_status_
  Result<void> async_status_;      // set by the writeback thread; read after Settle()
  int64_t lines_ = 0;
  std::vector<NdjsonStore::IndexRun> runs_;  // PutFor only: one per run of a member_key
  Result<void> status_;
  bool done_ = false;
};

Result<std::unique_ptr<NdjsonStore>> NdjsonStore::Open(const std::string& dir) {
  if (dir.empty()) return MakeError(ErrorKind::kInvalid, "ndjson store: store.path is empty");
  std::unique_ptr<NdjsonStore> store(new NdjsonStore(dir));
  store->staging_dir_ = dir + "/.staging";
  store->writeback_ = std::make_unique<WritebackThread>();
  for (const std::string& d : {dir, store->staging_dir_}) {
    if (auto r = MakeDirs(d, 0700); !r) return Prefixed(std::move(r).error());
  }
  return store;
}

std::string NdjsonStore::PathOf(std::string_view type, std::string_view ext) const {
  return dir_ + "/" + std::string(type) + std::string(ext);
}

std::string NdjsonStore::StagingDir(int64_t job_id) const {
  return staging_dir_ + "/" + std::to_string(job_id);
}

Result<void> NdjsonStore::LockExclusive() {
  if (lock_.valid()) return Ok();
  const std::string path = dir_ + "/.lock";
  // Read-only: a descriptor open for writing would keep the file system from being remounted
  // read-only (which the daemon must survive, see pipeline/file_download.h StorageGate).
  auto fd = OpenFile(path, O_RDONLY | O_CREAT);
  if (!fd) return Prefixed(std::move(fd).error());
  if (::flock(fd->get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return MakeError(ErrorKind::kBusy, std::string(kPrefix) + ": " + dir_ +
                                             " is in use by another process (it holds " + path +
                                             "; is p2p-ingestd running?)");
    }
    return Prefixed(ErrnoError(errno, "lock " + path));
  }
  lock_ = std::move(*fd);
  return Ok();
}

Result<std::unique_ptr<FileWriter>> NdjsonStore::Begin(const FileContext& ctx) {
  if (auto v = ValidateResourceType(ctx.type); !v) return Prefixed(std::move(v).error());
  auto files = FilesFor(ctx.type);
  if (!files) return std::move(files).error();
  TypeFiles& f = **files;
  std::string dir = StagingDir(ctx.job_id);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Prefixed(ErrnoError(errno, "mkdir " + dir));
  }
  auto writer = std::make_unique<NdjsonFileWriter>(this, ctx, std::move(dir));
  // In place when the tail is free, or this job's and not being written: no copy later.
  if (f.tail_writer == nullptr && (f.tail_job == 0 || f.tail_job == ctx.job_id)) {
    if (f.tail_job == 0) {
      f.tail_job = ctx.job_id;
      f.tail_end = f.ndjson_end;
      f.tail_index.clear();
    }
    if (auto r = writer->StartInPlace(&f); !r) return std::move(r).error();
  } else if (auto r = writer->StartStaged(); !r) {
    return std::move(r).error();
  }
  return std::unique_ptr<FileWriter>(std::move(writer));
}

Result<void> NdjsonStore::Evict(TypeFiles& f) {
  if (f.tail_job == 0) return Ok();
  const int64_t job = f.tail_job;
  if (f.tail_writer != nullptr) f.tail_writer->MoveToStaged();
  if (!f.tail_index.empty()) {
    if (auto r = StageInPlace(job, f.type, f.ndjson.get(), f.tail_index, f.ndjson_end); !r) {
      return r;
    }
  }
  // The journal goes (durably) before the tail is cut: never does one name bytes that are gone.
  const std::string journal = InPlaceJournal(job, f.type);
  if (::unlink(journal.c_str()) != 0 && errno != ENOENT) {
    return Prefixed(ErrnoError(errno, "remove " + journal));
  }
  if (auto r = SyncDir(StagingDir(job)); !r) return Prefixed(std::move(r).error());
  if (::ftruncate(f.ndjson.get(), f.ndjson_end) != 0) {
    return Prefixed(ErrnoError(errno, "truncate " + PathOf(f.type, ".ndjson")));
  }
  f.tail_job = 0;
  f.tail_end = f.ndjson_end;
  f.tail_index.clear();
  return Ok();
}

Result<NdjsonStore::TypeFiles*> NdjsonStore::FilesFor(const std::string& type) {
  if (auto it = files_.find(type); it != files_.end()) return &it->second;
  TypeFiles f;
  f.type = type;
  struct {
    const char* ext;
    UniqueFd* fd;
    int64_t* end;
  } parts[] = {{".ndjson", &f.ndjson, &f.ndjson_end}, {".index", &f.index, &f.index_end}};
  for (auto& p : parts) {
    std::string path = PathOf(type, p.ext);
    auto fd = OpenFile(path, O_RDWR | O_CREAT);
    if (!fd) return Prefixed(std::move(fd).error());
    auto size = FileSize(fd->get(), "stat " + path);
    if (!size) return Prefixed(std::move(size).error());
    *p.fd = std::move(*fd);
    *p.end = *size;
  }
  if (auto r = SyncDir(dir_); !r) return Prefixed(std::move(r).error());  // new names durable
  return &files_.emplace(type, std::move(f)).first->second;
}

Result<std::map<std::string, bool>> NdjsonStore::TypesOnDisk() const {
  std::map<std::string, bool> types;
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return Prefixed(ErrnoError(errno, "opendir " + dir_));
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    for (std::string_view ext : {".ndjson", ".index"}) {
      if (!EndsWith(name, ext)) continue;
      std::string_view type = name.substr(0, name.size() - ext.size());
      if (IsResourceTypeName(type)) types[std::string(type)] = true;
    }
  }
  ::closedir(d);
  return types;
}

Result<void> NdjsonStore::Scan(std::string_view type,
                               const std::function<void(const StoredResource&)>& fn) {
  if (auto v = ValidateResourceType(type); !v) return Prefixed(std::move(v).error());
  const std::string ndjson_path = PathOf(type, ".ndjson"), index_path = PathOf(type, ".index");
  auto in = OpenIfExists(ndjson_path, O_RDONLY);
  if (!in) return Prefixed(std::move(in).error());
  if (!in->valid()) return Ok();
  auto idx = OpenIfExists(index_path, O_RDONLY);
  if (!idx) return Prefixed(std::move(idx).error());
  auto it = files_.find(type);
  int64_t end = 0, idx_end = 0;
  if (it != files_.end()) {
    end = it->second.ndjson_end;
    idx_end = it->second.index_end;
  } else {
    auto s = FileSize(in->get(), "stat " + ndjson_path);
    if (!s) return Prefixed(std::move(s).error());
    end = *s;
    if (idx->valid()) {
      auto si = FileSize(idx->get(), "stat " + index_path);
      if (!si) return Prefixed(std::move(si).error());
      idx_end = *si;
    }
  }
  std::vector<IndexEntry> entries;
  if (idx->valid()) {
    auto read = ReadIndexFile(idx->get(), idx_end, index_path);
    if (!read) return Prefixed(std::move(read).error());
    entries = std::move(*read);
  }
  // Refreshes and tombstones (store_delete.cpp): one call per live (payer, id).
  std::vector<bool> live;
  auto filter = NeedsLiveFilter(std::string(type), entries);
  if (!filter) return std::move(filter).error();
  if (*filter) {
    auto l = LiveLines(std::string(type), in->get(), end, entries);
    if (!l) return std::move(l).error();
    live = std::move(*l);
  }
  LineReader reader(in->get(), end, ndjson_path);
  RangeCursor cursor(entries);
  std::string_view line;
  int64_t offset = 0;
  for (size_t n = 0;; ++n) {
    auto more = reader.Next(&line, &offset);
    if (!more) return Prefixed(std::move(more).error());
    if (!*more) break;
    if (*filter && (n >= live.size() || !live[n])) continue;
    const IndexEntry* e = cursor.At(offset);
    std::string_view payer = e ? std::string_view(e->payer) : std::string_view();
    std::string_view member = e ? std::string_view(e->member_key) : std::string_view();
    fn(StoredResource{payer, member, ExtractTopLevelId(line).value_or(std::string_view())});
  }
  return Ok();
}

Result<std::map<std::string, int64_t>> NdjsonStore::CountByType() {
  // From the index (one line per committed file, each with its line count): the summary at the
  // end of a run no longer reads the whole store. Ranges without a count (index lines written
  // before counts were recorded) and bytes no index line covers are counted by reading them.
  auto types = TypesOnDisk();
  if (!types) return std::move(types).error();
  std::map<std::string, int64_t> counts;
  std::string buf;
  for (const auto& [type, unused] : *types) {
    const std::string path = PathOf(type, ".ndjson"), index_path = PathOf(type, ".index");
    auto fd = OpenIfExists(path, O_RDONLY);
    if (!fd) return Prefixed(std::move(fd).error());
    if (!fd->valid()) continue;
    auto idx = OpenIfExists(index_path, O_RDONLY);
    if (!idx) return Prefixed(std::move(idx).error());
    int64_t end = 0, idx_end = 0;
    if (auto it = files_.find(type); it != files_.end()) {
      end = it->second.ndjson_end;
      idx_end = it->second.index_end;
    } else {
      auto s = FileSize(fd->get(), "stat " + path);
      if (!s) return Prefixed(std::move(s).error());
      end = *s;
      if (idx->valid()) {
        auto si = FileSize(idx->get(), "stat " + index_path);
        if (!si) return Prefixed(std::move(si).error());
        idx_end = *si;
      }
    }
    std::vector<IndexEntry> entries;
    if (idx->valid()) {
      auto read = ReadIndexFile(idx->get(), idx_end, index_path);
      if (!read) return Prefixed(std::move(read).error());
      entries = std::move(*read);
    }
    auto filter = NeedsLiveFilter(type, entries);
    if (!filter) return std::move(filter).error();
    if (*filter) {  // refreshes or tombstones (store_delete.cpp): count live (payer, id)
      auto live = LiveLines(type, fd->get(), end, entries);
      if (!live) return std::move(live).error();
      counts[type] = std::count(live->begin(), live->end(), true);
      continue;
    }
    int64_t count = 0, covered = 0;
    auto count_range = [&](int64_t from, int64_t to) -> Result<void> {
      if (from >= to) return Ok();
      if (buf.empty()) buf.resize(1 << 20);
      auto n = CountNewlines(fd->get(), from, to, buf, path);
      if (!n) return std::move(n).error();
      count += *n;
      return Ok();
    };
    for (const IndexEntry& e : entries) {
      if (e.start >= end) break;
      if (e.start < covered) continue;  // overlapping ranges: not written by this store
      if (auto r = count_range(covered, e.start); !r) return Prefixed(std::move(r).error());
      if (e.lines >= 0 && e.end <= end) {
        count += e.lines;
      } else if (auto r = count_range(e.start, std::min(e.end, end)); !r) {
        return Prefixed(std::move(r).error());
      }
      covered = std::min(e.end, end);
    }
    if (auto r = count_range(covered, end); !r) return Prefixed(std::move(r).error());
    counts[type] = count;
  }
  return counts;
}

}  // namespace p2p::store
