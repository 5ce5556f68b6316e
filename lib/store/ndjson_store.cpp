#include "store/ndjson_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/index_line.h"
#include "store/line_id.h"
#include "store/type_name.h"

namespace p2p::store {

namespace {

// Direct writers have two (one being filled, one being written by the writeback thread): 1 MiB
// per writer, as with the single 1 MiB buffer they had before (target 4: RSS flat in file size).
constexpr size_t kWriteBuffer = 512 << 10;
constexpr int64_t kWritebackBytes = 8 << 20;  // direct mode: start the disk writeback this often
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

// Opens `path` if it exists: an invalid fd (not an error) when it does not.
Result<UniqueFd> OpenIfExists(const std::string& path, int flags) {
  auto fd = OpenFile(path, flags);
  if (!fd && ::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return UniqueFd();
  return fd;
}

}  // namespace

// Writes one downloaded file's lines. Two modes (see ndjson_store.h):
//  * direct: the writer owns the tail of <Type>.ndjson and writes its lines right after the
//    committed end, starting the disk writeback every kWritebackBytes so that Commit()'s
//    fdatasync waits only for the last few MiB. Nothing past the committed end counts until the
//    mark is recorded (Recover() cuts it otherwise).
//  * tmp: another writer owns the tail, so lines go to .tmp/<job_id>-<file_index>.part and are
//    appended at Commit(). A direct writer becomes a tmp writer when another writer of its type
//    commits first (NdjsonStore::Evict).
class NdjsonFileWriter final : public FileWriter {
 public:
  NdjsonFileWriter(NdjsonStore* store, FileContext ctx, std::string tmp_path)
      : store_(store), ctx_(std::move(ctx)), tmp_path_(std::move(tmp_path)) {}
  ~NdjsonFileWriter() override { Abort(); }

  // Makes this the direct writer of `files`, writing from `files->ndjson_end`.
  void StartDirect(NdjsonStore::TypeFiles* files) {
    direct_ = files;
    base_ = files->ndjson_end;
    files->tail = this;
    write_what_ = "write " + store_->PathOf(ctx_.type, ".ndjson");
  }
  Result<void> StartTmp() {
    auto fd = OpenFile(tmp_path_, O_RDWR | O_CREAT | O_TRUNC);  // read back by Commit()
    if (!fd) return Prefixed(std::move(fd).error());
    fd_ = std::move(*fd);
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

  // Direct mode: the block goes to the writeback thread as it is, after the lines buffered
  // before it; tmp mode (rare: another writer of the type holds the tail) copies it.
  bool TakesBlocks() const override { return true; }
  Result<uint64_t> PutBlock(std::string_view lines, int64_t count) override {
    if (!status_) return status_.error();
    lines_ += count;
    if (direct_ == nullptr) {
      if (auto r = Flush(); !r) return std::move(r).error();
      if (auto r = Write(lines.data(), lines.size()); !r) return std::move(r).error();
      return uint64_t{0};
    }
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
    auto mark = CommitImpl();
    Cleanup();
    return mark;
  }

  void Abort() override {
    if (done_) return;
    done_ = true;
    Cleanup();
  }

  // Called by NdjsonStore::Evict: moves what this direct writer wrote so far into its own
  // temporary file and gives the tail back. On failure the writer keeps the error (its file is
  // downloaded again) and the tail is given back all the same.
  void MoveToTmp() {
    NdjsonStore::TypeFiles* f = direct_;
    Result<void> r = status_ ? Flush() : status_;  // still direct: into the type's file
    Settle();  // the copy below reads what the writeback thread wrote
    if (r && !status_) r = status_;
    direct_ = nullptr;
    f->tail = nullptr;
    if (r) r = StartTmp();
    if (r && written_ > 0) {
      r = CopyRange(f->ndjson.get(), base_, fd_.get(), 0, written_, "copy to " + tmp_path_);
      if (!r) r = Prefixed(std::move(r).error());
    }
    if (!r) status_ = std::move(r);
  }

 private:
  Result<StoreMark> CommitImpl() {
    if (!status_) return status_.error();
    if (auto r = Flush(); !r) return std::move(r).error();
    Settle();
    if (!status_) return status_.error();
    const auto* runs = runs_.empty() ? nullptr : &runs_;
    if (direct_ != nullptr) return store_->CommitTail(ctx_, *direct_, written_, lines_, runs);
    // The temporary file is not synced: it is read back here and never after a crash.
    return store_->Append(ctx_, fd_.get(), written_, lines_, runs);
  }

  // Direct mode: the writeback thread's job (if any) is done; its error becomes this writer's.
  void Settle() {
    if (ticket_ == 0) return;
    store_->writeback_->WaitFor(ticket_);
    ticket_ = 0;
    spare_ticket_ = 0;
    if (!async_status_ && status_) status_ = Prefixed(async_status_.error());
  }

  // Direct mode: hands the first `n` bytes of buf_ to the writeback thread (which also drives
  // the disk writeback, see writeback.h) and goes on in the spare buffer. Waits only for the
  // spare buffer's own write, not for the blocks queued after it (PutBlock): those are the
  // caller's slots, which it waits for itself (WaitBlock). A failed write of any job is noticed
  // through failed_ and then read after Settle().
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

  // Direct mode: queues the write of `n` bytes at `data` after everything before; ticket_ is its
  // job. Jobs run in order, so no wait here.
  void Submit(const char* data, size_t n) {
    WritebackThread::Job job;
    job.fd = direct_->ndjson.get();
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
    Result<void> r = Ok();
    if (direct_ != nullptr) {
      const std::string& path = store_->PathOf(ctx_.type, ".ndjson");
      r = PwriteAll(direct_->ndjson.get(), data, size, base_ + written_, "write " + path);
    } else {
      // At an explicit offset: MoveToTmp's copy does not move the file offset.
      r = PwriteAll(fd_.get(), data, size, written_, "write " + tmp_path_);
    }
    if (!r) {
      status_ = Prefixed(std::move(r).error());
      return status_;
    }
    written_ += static_cast<int64_t>(size);
    if (direct_ != nullptr && written_ - writeback_ >= kWritebackBytes) {
      // Start writing these pages to disk now (does not wait): Commit's fdatasync then only
      // waits for the rest. A failure here only loses the head start.
      (void)::sync_file_range(direct_->ndjson.get(), base_ + writeback_, written_ - writeback_,
                              SYNC_FILE_RANGE_WRITE);
      writeback_ = written_;
    }
    return Ok();
  }

  Result<void> Flush() {
    size_t n = used_;
    used_ = 0;
    if (n == 0) return Ok();
    return direct_ != nullptr ? Handoff(n) : Write(buf_.get(), n);
  }

  void Cleanup() {
    Settle();  // nothing of ours in flight before cutting the file or freeing the buffers
    if (direct_ != nullptr) {  // not committed: give the tail back, cut what was written
      if (direct_->tail == this) direct_->tail = nullptr;
      if (direct_->ndjson_end == base_) (void)!::ftruncate(direct_->ndjson.get(), base_);
      direct_ = nullptr;
    }
    if (fd_.valid()) {
      fd_.reset();
      ::unlink(tmp_path_.c_str());
    }
    buf_.reset();
    spare_.reset();
  }

  NdjsonStore* store_;
  FileContext ctx_;
  std::string tmp_path_;
  NdjsonStore::TypeFiles* direct_ = nullptr;  // direct mode: the type's files; else null
  int64_t base_ = 0;                          // direct mode: offset of this file's first byte
  UniqueFd fd_;                               // tmp mode: the temporary file
  std::unique_ptr<char[]> buf_;
  size_t used_ = 0;
  int64_t written_ = 0;
  int64_t writeback_ = 0;  // bytes handed to sync_file_range (direct mode)
  int64_t waited_ = 0;     // bytes known to be on disk (direct mode: waited for by the thread)
  std::unique_ptr<char[]> spare_;  // direct mode: the buffer the writeback thread is writing
  uint64_t ticket_ = 0;            // direct mode: the last job queued, 0 when none is in flight
  uint64_t spare_ticket_ = 0;      // direct mode: the job writing spare_, 0 when none
  std::atomic<bool> failed_{false};  // set by the writeback thread with async_status_
  std::string write_what_;         // "write <Type>.ndjson path", the job's error context
  Result<void> async_status_;      // set by the writeback thread; read after Settle()
  int64_t lines_ = 0;
  std::vector<NdjsonStore::IndexRun> runs_;  // PutFor only: one per run of a member_key
  Result<void> status_;
  bool done_ = false;
};

Result<std::unique_ptr<NdjsonStore>> NdjsonStore::Open(const std::string& dir) {
  if (dir.empty()) return MakeError(ErrorKind::kInvalid, "ndjson store: store.path is empty");
  std::unique_ptr<NdjsonStore> store(new NdjsonStore(dir));
  store->tmp_dir_ = dir + "/.tmp";
  store->writeback_ = std::make_unique<WritebackThread>();
  for (const std::string& d : {dir, store->tmp_dir_}) {
    if (auto r = MakeDirs(d, 0700); !r) return Prefixed(std::move(r).error());
  }
  return store;
}

std::string NdjsonStore::PathOf(std::string_view type, std::string_view ext) const {
  return dir_ + "/" + std::string(type) + std::string(ext);
}

Result<std::unique_ptr<FileWriter>> NdjsonStore::Begin(const FileContext& ctx) {
  if (auto v = ValidateResourceType(ctx.type); !v) return Prefixed(std::move(v).error());
  auto files = FilesFor(ctx.type);
  if (!files) return std::move(files).error();
  std::string tmp =
      tmp_dir_ + "/" + std::to_string(ctx.job_id) + "-" + std::to_string(ctx.file_index) + ".part";
  auto writer = std::make_unique<NdjsonFileWriter>(this, ctx, std::move(tmp));
  if ((*files)->tail == nullptr) {
    writer->StartDirect(*files);
  } else if (auto r = writer->StartTmp(); !r) {
    return std::move(r).error();
  }
  return std::unique_ptr<FileWriter>(std::move(writer));
}

Result<void> NdjsonStore::Evict(TypeFiles& f) {
  if (f.tail != nullptr) f.tail->MoveToTmp();
  // Whatever the direct writer left past the committed end goes (it is in its .part now).
  if (::ftruncate(f.ndjson.get(), f.ndjson_end) != 0) {
    return Prefixed(ErrnoError(errno, "truncate " + PathOf(f.type, ".ndjson")));
  }
  return Ok();
}

Result<StoreMark> NdjsonStore::CommitTail(const FileContext& ctx, TypeFiles& f, int64_t len,
                                          int64_t lines, const std::vector<IndexRun>* runs) {
  f.tail = nullptr;
  const std::string ndjson_path = PathOf(ctx.type, ".ndjson");
  if (len == 0) return StoreMark{ctx.type, f.ndjson_end, f.index_end};
  auto r = SyncFile(f.ndjson.get(), "fsync " + ndjson_path);
  if (!r) {
    (void)!::ftruncate(f.ndjson.get(), f.ndjson_end);
    return Prefixed(std::move(r).error());
  }
  return AppendIndex(ctx, f, len, lines, runs);
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

Result<StoreMark> NdjsonStore::Append(const FileContext& ctx, int tmp_fd, int64_t len,
                                      int64_t lines, const std::vector<IndexRun>* runs) {
  auto files = FilesFor(ctx.type);
  if (!files) return std::move(files).error();
  TypeFiles& f = **files;
  if (len == 0) return StoreMark{ctx.type, f.ndjson_end, f.index_end};
  if (auto r = Evict(f); !r) return std::move(r).error();
  const std::string ndjson_path = PathOf(ctx.type, ".ndjson");
  auto r = CopyRange(tmp_fd, 0, f.ndjson.get(), f.ndjson_end, len, "append to " + ndjson_path);
  if (r) r = SyncFile(f.ndjson.get(), "fsync " + ndjson_path);
  if (!r) {
    (void)!::ftruncate(f.ndjson.get(), f.ndjson_end);
    return Prefixed(std::move(r).error());
  }
  return AppendIndex(ctx, f, len, lines, runs);
}

Result<StoreMark> NdjsonStore::AppendIndex(const FileContext& ctx, TypeFiles& f, int64_t len,
                                           int64_t lines, const std::vector<IndexRun>* runs) {
  const std::string index_path = PathOf(ctx.type, ".index");
  std::string line;
  if (runs == nullptr) {
    line = FormatIndexLine(IndexEntry{f.ndjson_end, f.ndjson_end + len, ctx.payer, ctx.member_key,
                                      ctx.transaction_time, ctx.job_id, ctx.file_index, lines});
  } else {
    for (const IndexRun& run : *runs) {
      line += FormatIndexLine(IndexEntry{f.ndjson_end + run.start, f.ndjson_end + run.end,
                                         ctx.payer, run.member_key, ctx.transaction_time,
                                         ctx.job_id, ctx.file_index, run.lines});
    }
  }
  auto r =
      PwriteAll(f.index.get(), line.data(), line.size(), f.index_end, "append to " + index_path);
  if (r) r = SyncFile(f.index.get(), "fsync " + index_path);
  if (!r) {
    // Cut back what this append added; Recover() would do the same at the next start.
    (void)!::ftruncate(f.ndjson.get(), f.ndjson_end);
    (void)!::ftruncate(f.index.get(), f.index_end);
    return Prefixed(std::move(r).error());
  }
  f.ndjson_end += len;
  f.index_end += static_cast<int64_t>(line.size());
  return StoreMark{ctx.type, f.ndjson_end, f.index_end};
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

Result<void> NdjsonStore::Recover(const std::map<std::string, StoreMark>& committed) {
  files_.clear();
  auto types = TypesOnDisk();
  if (!types) return std::move(types).error();
  for (const auto& [type, mark] : committed) {
    if (auto v = ValidateResourceType(type); !v) return Prefixed(std::move(v).error());
    (*types)[type] = true;
  }
  for (const auto& [type, unused] : *types) {
    auto it = committed.find(type);
    int64_t targets[] = {0, 0};
    if (it != committed.end()) {
      targets[0] = std::max<int64_t>(it->second.ndjson_end, 0);
      targets[1] = std::max<int64_t>(it->second.index_end, 0);
    }
    const char* exts[] = {".ndjson", ".index"};
    for (int i = 0; i < 2; ++i) {
      std::string path = PathOf(type, exts[i]);
      auto fd = OpenIfExists(path, O_RDWR);
      if (!fd) return Prefixed(std::move(fd).error());
      int64_t size = 0;
      if (fd->valid()) {
        auto s = FileSize(fd->get(), "stat " + path);
        if (!s) return Prefixed(std::move(s).error());
        size = *s;
      }
      if (size < targets[i]) {
        return MakeError(ErrorKind::kIo, std::string(kPrefix) + ": " + path + " is shorter (" +
                                             std::to_string(size) +
                                             " bytes) than its committed mark (" +
                                             std::to_string(targets[i]) + " bytes)");
      }
      if (size == targets[i]) continue;
      if (::ftruncate(fd->get(), targets[i]) != 0) {
        return Prefixed(ErrnoError(errno, "truncate " + path));
      }
      if (auto r = SyncFile(fd->get(), "fsync " + path); !r) return Prefixed(std::move(r).error());
    }
    const int64_t deleted_end =
        it != committed.end() ? std::max<int64_t>(it->second.deleted_end, 0) : 0;
    if (auto r = RecoverTombstones(type, deleted_end); !r) return r;
  }
  DIR* d = ::opendir(tmp_dir_.c_str());
  if (d == nullptr) return Prefixed(ErrnoError(errno, "opendir " + tmp_dir_));
  std::vector<std::string> leftovers;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") leftovers.emplace_back(tmp_dir_ + "/" + std::string(name));
  }
  ::closedir(d);
  for (const std::string& path : leftovers) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Prefixed(ErrnoError(errno, "remove " + path));
    }
  }
  return Ok();
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
