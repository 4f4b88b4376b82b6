#include "wal/log.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "wal/format.h"
#include "wal/tail.h"

namespace eventide::wal {
namespace {

// One index point per this many bytes of entries: a Seek scans at most this
// far after its binary search. 4 KiB is one page, as Kafka's
// index.interval.bytes, and costs 16 bytes of memory per 4 KiB of log.
constexpr uint64_t kIndexIntervalBytes = 4096;

int64_t NowMicros() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

// True when the segment file at `path` holds no complete header: it is
// shorter than one, or the header bytes are all zero (FORMAT.md section 6).
// That is a segment whose creation was interrupted, or, to a read-only
// reader, one that the writer is creating right now.
bool HeaderIncomplete(const std::string& path) {
  std::string head(kSegmentHeaderBytes, '\0');
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = ::pread(fd, head.data(), head.size(), 0);
  ::close(fd);
  return n >= 0 && (static_cast<size_t>(n) < kSegmentHeaderBytes ||
                    head == std::string(kSegmentHeaderBytes, '\0'));
}

}  // namespace

// ---- SyncPolicy ----

Result<SyncPolicy> SyncPolicy::Parse(std::string_view text) {
  SyncPolicy p;
  if (text == "always") return p;
  if (text == "never") {
    p.mode = Mode::kNever;
    return p;
  }
  constexpr std::string_view kBatch = "batch:";
  if (text.substr(0, kBatch.size()) == kBatch) {
    std::string_view ms = text.substr(kBatch.size());
    uint32_t v = 0;
    bool ok = !ms.empty() && ms.size() <= 5;
    for (char c : ms) {
      if (c < '0' || c > '9')
        ok = false;
      else
        v = v * 10 + static_cast<uint32_t>(c - '0');
    }
    if (ok && v >= 1 && v <= 60000) {
      p.mode = Mode::kBatch;
      p.batch_ms = v;
      return p;
    }
    return Status::InvalidArgument("fsync batch interval must be 1..60000 ms, got \"" +
                                   std::string(ms) + "\"");
  }
  return Status::InvalidArgument("fsync mode must be always, batch:MS or never, got \"" +
                                 std::string(text) + "\"");
}

std::string SyncPolicy::ToString() const {
  switch (mode) {
    case Mode::kAlways:
      return "always";
    case Mode::kBatch:
      return "batch:" + std::to_string(batch_ms);
    case Mode::kNever:
      return "never";
  }
  return "?";
}

// ---- Log internals ----

struct Log::Segment {
  std::string path;
  Position base;
  Position last;                  // None while empty
  uint64_t bytes = 0;             // bytes of valid data, header included
  std::vector<IndexPoint> index;  // sparse, ascending; index[0] is the first entry

  void Note(Position p, uint64_t offset, uint64_t entry_bytes) {
    if (index.empty() || offset - index.back().offset >= kIndexIntervalBytes) {
      index.push_back({p, offset});
    }
    last = p;
    bytes = offset + entry_bytes;
  }
};

// Entries serialized back to back, exactly as they will be on disk.
struct Log::Batch {
  std::string bytes;
  Position first;
  Position last;
  size_t count = 0;

  void Clear() {
    bytes.clear();  // keeps the capacity: the two batches are reused forever
    count = 0;
  }
};

Log::Log(const LogOptions& options)
    : options_(options),
      env_(options.env ? options.env : Env::Default()),
      pending_(std::make_unique<Batch>()) {}

Result<std::unique_ptr<Log>> Log::Open(const LogOptions& options, RecoveryReport* report) {
  if (options.dir.empty()) return Status::InvalidArgument("log directory not given");
  if (options.segment_bytes < kSegmentHeaderBytes + kEntryHeaderBytes) {
    return Status::InvalidArgument("segment_bytes is too small");
  }
  std::unique_ptr<Log> log(new Log(options));
  struct stat st;
  if (::stat(options.dir.c_str(), &st) != 0) {
    if (errno != ENOENT || options.read_only) {
      return Status::NotFound("no log directory " + options.dir + ": " + std::strerror(errno));
    }
    if (::mkdir(options.dir.c_str(), 0755) != 0) {
      return Status::FromErrno("mkdir " + options.dir, errno);
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument(options.dir + " is not a directory");
  }
  if (!options.read_only) {
    std::string lock_path = JoinPath(options.dir, "LOCK");
    log->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (log->lock_fd_ < 0) return Status::FromErrno("open " + lock_path, errno);
    if (::flock(log->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      return Status::Unavailable("log directory " + options.dir +
                                 " is in use by another process (LOCK is held)");
    }
  }
  RecoveryReport local;
  RecoveryReport* r = report ? report : &local;
  *r = RecoveryReport();
  Status s = log->Recover(r);
  if (!s.ok()) return s;
  if (!options.read_only) log->writer_ = std::thread([l = log.get()] { l->WriterMain(); });
  return log;
}

Log::~Log() {
  if (writer_.joinable()) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      closing_ = true;
    }
    work_cv_.notify_one();
    writer_.join();
  }
  if (active_file_) {
    std::lock_guard<std::mutex> lk(mu_);
    if (failed_.ok() && unsynced_bytes_ > 0 && active_file_->Sync().ok()) {
      Segment* seg = ActiveSegment();
      (void)WriteMark(seg->base, seg->bytes);
    }
    (void)active_file_->Close();
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Status Log::ScanSegment(Segment* seg, bool is_last, RecoveryReport* report) {
  auto opened = SegmentReader::Open(seg->path, seg->base);
  if (!opened.ok()) {
    if (!is_last || !opened.status().IsCorruption()) return opened.status();
    // A last segment whose header is short or all zeros was being created
    // when the process died: nothing in it was ever acknowledged.
    struct stat st;
    if (::stat(seg->path.c_str(), &st) != 0) return Status::FromErrno("stat " + seg->path, errno);
    if (!HeaderIncomplete(seg->path)) return opened.status();
    if (SyncedBytesFor(recovered_mark_, seg->base) > 0) {
      // The header is synced before the mark ever names the segment.
      return Status::Corruption(seg->path + " offset 0: segment header incomplete, but " +
                                std::to_string(SyncedBytesFor(recovered_mark_, seg->base)) +
                                " bytes of it were recorded as synced (SYNCED)");
    }
    report->tail_bytes = static_cast<uint64_t>(st.st_size);
    report->tail_segment = seg->path;
    report->tail_offset = 0;
    report->tail_reason = "segment header incomplete (segment creation was interrupted)";
    seg->bytes = 0;
    if (options_.read_only) return Status::OK();
    Status s = env_->RemoveFile(seg->path);
    if (s.ok()) s = env_->SyncDir(options_.dir);
    return s;
  }
  SegmentReader& reader = **opened;
  Entry e;
  SegmentReader::Outcome o;
  while ((o = reader.Next(&e)) == SegmentReader::Outcome::kEntry) {
    seg->Note(e.position, e.offset, kEntryHeaderBytes + e.payload.size());
  }
  seg->bytes = reader.offset();
  if (o == SegmentReader::Outcome::kIOError) {
    return Status::IOError(seg->path + " offset " + std::to_string(reader.offset()) + ": " +
                           reader.problem());
  }
  if (!is_last) {
    if (o != SegmentReader::Outcome::kEnd) {
      return Status::Corruption(seg->path + " offset " + std::to_string(reader.offset()) + ": " +
                                reader.problem());
    }
    if (seg->last.IsNone()) {
      return Status::Corruption(seg->path + " offset " + std::to_string(kSegmentHeaderBytes) +
                                ": a sealed segment holds no entry");
    }
    return Status::OK();
  }
  const uint64_t synced = SyncedBytesFor(recovered_mark_, seg->base);
  report->synced_bytes = synced;
  const bool damaged = o != SegmentReader::Outcome::kEnd;
  if (!damaged && reader.file_bytes() >= synced) return Status::OK();
  // Something is wrong at the end of the last segment. Only a torn tail, the
  // unsynced end of a batch a crash interrupted, may be cut; damage before
  // the synced length, or followed by a valid entry, is not a crash's doing.
  auto verdict =
      JudgeTail(seg->path, reader.offset(), reader.file_bytes(), reader.next_position(), synced);
  if (!verdict.ok()) return verdict.status();
  report->tail_bytes = reader.file_bytes() - reader.offset();
  report->tail_segment = seg->path;
  report->tail_offset = reader.offset();
  report->tail_reason = damaged ? reader.problem() : "end of segment";
  if (!verdict->torn) {
    std::string what = seg->path + " offset " + std::to_string(reader.offset()) + ": " +
                       report->tail_reason + "; " + verdict->why_not;
    if (verdict->later) {
      what += " (" + std::to_string(verdict->later_entries) + " valid entries, positions " +
              verdict->later->position.ToString() + ".." + verdict->later_last.ToString() +
              ", would be lost by a cut)";
    }
    report->tail_corrupt = true;
    report->tail_verdict = verdict->why_not;
    if (options_.read_only) return Status::OK();
    Position keep = reader.next_position().Prev();
    return Status::Corruption(what +
                              "; nothing was cut: inspect with `eventide-log verify`, and "
                              "only if its loss is accepted, `eventide-log repair "
                              "--truncate-after " +
                              keep.ToString() + "`");
  }
  if (!options_.read_only) return env_->TruncateFile(seg->path, reader.offset());
  return Status::OK();
}

Status Log::Recover(RecoveryReport* report) {
  DIR* d = ::opendir(options_.dir.c_str());
  if (d == nullptr) return Status::FromErrno("opendir " + options_.dir, errno);
  std::vector<Position> bases;
  while (struct dirent* de = ::readdir(d)) {
    if (auto base = ParseSegmentFileName(de->d_name)) bases.push_back(*base);
  }
  ::closedir(d);
  std::sort(bases.begin(), bases.end());

  auto mark = ReadSyncedMark(options_.dir, &report->mark_problem);
  if (!mark.ok()) return mark.status();
  recovered_mark_ = *mark;
  if (!recovered_mark_ && report->mark_problem.empty() && !bases.empty()) {
    report->mark_problem = "no " + std::string(kSyncedMarkFileName) + " file";
  }
  if (recovered_mark_ && (bases.empty() || recovered_mark_->base > bases.back())) {
    return Status::Corruption(
        JoinPath(options_.dir, SegmentFileName(recovered_mark_->base)) +
        " offset 0: SYNCED records " + std::to_string(recovered_mark_->bytes) +
        " synced bytes of this segment, but it is missing" +
        (bases.empty() ? std::string(" (no segment is left)")
                       : " (the last segment is " + SegmentFileName(bases.back()) + ")"));
  }
  bool mark_created = false;
  if (!options_.read_only) {
    auto file =
        env_->OpenMarkFile(JoinPath(options_.dir, std::string(kSyncedMarkFileName)), &mark_created);
    if (!file.ok()) return file.status();
    mark_file_ = std::move(file).value();
  }

  if (bases.empty()) {
    if (options_.read_only) {
      return Status::NotFound("no log segments in " + options_.dir +
                              " (not an Eventide log directory?)");
    }
    Status s = CreateSegment(Position(1));
    if (s.ok()) s = mark_file_->Sync();
    if (s.ok() && mark_created) s = env_->SyncDir(options_.dir);
    if (!s.ok()) return s;
    next_position_ = Position(1);
    durable_.store(0);
    report->segments = 1;
    return Status::OK();
  }

  Position head;
  for (size_t i = 0; i < bases.size(); ++i) {
    auto seg = std::make_unique<Segment>();
    seg->path = JoinPath(options_.dir, SegmentFileName(bases[i]));
    seg->base = bases[i];
    if (i > 0 && bases[i] != head.Next()) {
      return Status::Corruption(seg->path + " offset 0: base position " + bases[i].ToString() +
                                " does not follow position " + head.ToString() +
                                " that ends the previous segment (a segment is missing?)");
    }
    bool is_last = i + 1 == bases.size();
    Status s = ScanSegment(seg.get(), is_last, report);
    if (!s.ok()) return s;
    if (!seg->last.IsNone())
      head = seg->last;
    else if (i == 0)
      head = bases[i].Prev();
    if (seg->bytes == 0 && !options_.read_only) {
      // The last segment's creation was interrupted and its file removed: make it again.
      s = CreateSegment(bases[i]);
      if (!s.ok()) return s;
      continue;
    }
    segments_.push_back(std::move(seg));
  }
  if (!options_.read_only) {
    auto file = env_->OpenForAppend(segments_.back()->path, /*create=*/false);
    if (!file.ok()) return file.status();
    active_file_ = std::move(file).value();
    // What recovery kept of the last segment is the log now, though a crash
    // may have left it written and not synced: sync it and record it, so that
    // damage to it later is told from a crash.
    Status s = active_file_->Sync();
    if (s.ok()) s = WriteMark(segments_.back()->base, segments_.back()->bytes);
    if (s.ok()) s = mark_file_->Sync();
    if (s.ok() && mark_created) s = env_->SyncDir(options_.dir);
    if (!s.ok()) return s;
  }
  next_position_ = head.Next();
  durable_.store(head.value(), std::memory_order_release);
  report->segments = segments_.size();
  report->first = head.IsNone() ? Position() : segments_.front()->base;
  report->head = head;
  return Status::OK();
}

Status Log::CreateSegment(Position base) {
  std::string path = JoinPath(options_.dir, SegmentFileName(base));
  auto file = env_->OpenForAppend(path, /*create=*/true);
  if (!file.ok()) return file.status();
  char header[kSegmentHeaderBytes];
  EncodeSegmentHeader(base, header);
  Status s = (*file)->Append(std::string_view(header, sizeof(header)));
  // The header is synced and the name made durable before any entry goes in,
  // so a crash leaves either no file, a whole empty segment, or a torn header
  // (which recovery removes).
  if (s.ok()) s = (*file)->Sync();
  if (s.ok()) s = env_->SyncDir(options_.dir);
  if (!s.ok()) return s;
  if (mark_file_) s = WriteMark(base, kSegmentHeaderBytes);
  if (!s.ok()) return s;
  if (active_file_) (void)active_file_->Close();
  active_file_ = std::move(file).value();
  auto seg = std::make_unique<Segment>();
  seg->path = path;
  seg->base = base;
  seg->bytes = kSegmentHeaderBytes;
  std::lock_guard<std::mutex> lk(segments_mu_);
  segments_.push_back(std::move(seg));
  return Status::OK();
}

Status Log::WriteMark(Position base, uint64_t bytes) {
  char mark[kSyncedMarkBytes];
  EncodeSyncedMark({base, bytes}, mark);
  return mark_file_->Write(std::string_view(mark, sizeof(mark)));
}

// ---- Appending ----

void Log::SetDurableListener(DurableListener listener) {
  std::lock_guard<std::mutex> lk(mu_);
  listener_ = std::move(listener);
}

Result<Position> Log::Append(std::string_view payload, bool wake_writer) {
  if (payload.size() > kMaxPayloadBytes) {
    return Status::InvalidArgument("entry of " + std::to_string(payload.size()) +
                                   " bytes exceeds the maximum of " +
                                   std::to_string(kMaxPayloadBytes));
  }
  bool wake;
  Position p;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!failed_.ok()) return failed_;
    if (options_.read_only) return Status::Unavailable("log is open read-only");
    if (closing_) return Status::Unavailable("log is closing");
    if (pending_->bytes.size() >= options_.max_pending_bytes) {
      return Status::Unavailable("log write queue is full (the disk is not keeping up)");
    }
    p = next_position_;
    next_position_ = p.Next();
    std::string& buf = pending_->bytes;
    size_t at = buf.size();
    buf.resize(at + kEntryHeaderBytes + payload.size());
    EncodeEntryHeader(p, NowMicros(), payload, buf.data() + at);
    std::memcpy(buf.data() + at + kEntryHeaderBytes, payload.data(), payload.size());
    if (pending_->count++ == 0) pending_->first = p;
    pending_->last = p;
    wake = wake_writer && pending_->count == 1;
  }
  if (wake) work_cv_.notify_one();
  return p;
}

void Log::Wake() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (pending_->count == 0) return;
  }
  work_cv_.notify_one();
}

void Log::WriterMain() {
  auto batch = std::make_unique<Batch>();
  const bool batch_mode = options_.sync.mode == SyncPolicy::Mode::kBatch;
  const auto batch_interval = std::chrono::milliseconds(options_.sync.batch_ms);
  auto last_sync = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    while (pending_->count == 0 && !closing_) {
      if (batch_mode && unsynced_bytes_ > 0) {
        if (work_cv_.wait_until(lk, last_sync + batch_interval) == std::cv_status::timeout) break;
      } else {
        work_cv_.wait(lk);
      }
    }
    if (pending_->count == 0 && closing_) break;
    std::swap(batch, pending_);
    Status s = failed_;
    DurableListener listener = listener_;
    lk.unlock();

    if (s.ok() && batch->count > 0) s = WriteBatch(*batch);
    if (s.ok() && batch_mode && unsynced_bytes_ > 0 &&
        std::chrono::steady_clock::now() >= last_sync + batch_interval) {
      s = TimedSync();
      last_sync = std::chrono::steady_clock::now();
      if (s.ok()) {
        unsynced_bytes_ = 0;
        // Only this thread changes seg->bytes, so it reads it without the lock.
        Segment* seg = ActiveSegment();
        s = WriteMark(seg->base, seg->bytes);
      }
    }
    if (s.ok() && batch->count > 0) {
      std::lock_guard<std::mutex> slk(stats_mu_);
      ++stats_.batches;
      stats_.entries += batch->count;
      stats_.bytes_written += batch->bytes.size();
      size_t g = 0;
      while (g < LogStats::kGroupBounds.size() && batch->count > LogStats::kGroupBounds[g]) ++g;
      ++stats_.group_buckets[g];
    }
    if (s.ok() && batch->count > 0) {
      durable_.store(batch->last.value(), std::memory_order_release);
    }
    if (!s.ok()) Fail(s);
    if (listener && (batch->count > 0 || !s.ok())) listener(durable_head(), s);
    batch->Clear();

    lk.lock();
    durable_cv_.notify_all();
  }
}

Log::Segment* Log::ActiveSegment() {
  // Only this thread changes which segment is last, so the pointer stays
  // valid; but DeleteBefore may erase from the front of segments_ on another
  // thread, moving every element, so even reading back() takes the lock.
  std::lock_guard<std::mutex> lk(segments_mu_);
  return segments_.back().get();
}

Status Log::WriteBatch(const Batch& batch) {
  Segment* seg = ActiveSegment();
  const char* data = batch.bytes.data();
  const size_t size = batch.bytes.size();
  const bool always = options_.sync.mode == SyncPolicy::Mode::kAlways;

  // The active segment's metadata as it will be once the pending chunk is
  // written; published to readers (under segments_mu_) after each write.
  uint64_t bytes = seg->bytes;
  Position last = seg->last;
  bool have_point = !seg->index.empty();
  uint64_t point_offset = have_point ? seg->index.back().offset : 0;
  new_points_.clear();
  size_t chunk_start = 0;

  auto write_chunk = [&](size_t end, bool sync) -> Status {
    if (end > chunk_start) {
      Status s = active_file_->Append(std::string_view(data + chunk_start, end - chunk_start));
      if (!s.ok()) return s;
      unsynced_bytes_ += end - chunk_start;
    }
    if (sync && unsynced_bytes_ > 0) {
      Status s = TimedSync();
      if (s.ok()) s = WriteMark(seg->base, bytes);
      if (!s.ok()) return s;
      unsynced_bytes_ = 0;
    }
    std::lock_guard<std::mutex> lk(segments_mu_);
    seg->last = last;
    seg->bytes = bytes;
    seg->index.insert(seg->index.end(), new_points_.begin(), new_points_.end());
    new_points_.clear();
    chunk_start = end;
    return Status::OK();
  };

  for (size_t off = 0; off < size;) {
    uint64_t entry_bytes = kEntryHeaderBytes + GetU32(data + off);
    Position p(GetU64(data + off + 8));
    // Entries go on the current segment until the next would take it past
    // segment_bytes; then the segment is sealed (synced whatever the mode, so
    // that every sealed segment is whole on disk) and a new one started.
    if (bytes > kSegmentHeaderBytes && bytes + entry_bytes > options_.segment_bytes) {
      Status s = write_chunk(off, /*sync=*/true);
      if (!s.ok()) return s;
      s = CreateSegment(p);
      if (!s.ok()) return s;
      seg = ActiveSegment();
      bytes = kSegmentHeaderBytes;
      last = Position();
      have_point = false;
    }
    if (!have_point || bytes - point_offset >= kIndexIntervalBytes) {
      new_points_.push_back({p, bytes});
      point_offset = bytes;
      have_point = true;
    }
    last = p;
    bytes += entry_bytes;
    off += entry_bytes;
  }
  return write_chunk(size, always);
}

Status Log::TimedSync() {
  auto start = std::chrono::steady_clock::now();
  Status s = active_file_->Sync();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::lock_guard<std::mutex> lk(stats_mu_);
  ++stats_.syncs;
  stats_.sync_seconds_sum += secs;
  size_t b = 0;
  while (b < LogStats::kSyncBoundsSeconds.size() && secs > LogStats::kSyncBoundsSeconds[b]) ++b;
  ++stats_.sync_buckets[b];
  return s;
}

LogStats Log::Stats() const {
  std::lock_guard<std::mutex> lk(stats_mu_);
  return stats_;
}

void Log::Fail(const Status& s) {
  std::lock_guard<std::mutex> lk(mu_);
  if (failed_.ok()) failed_ = s;
}

Status Log::WaitDurable(Position p) {
  std::unique_lock<std::mutex> lk(mu_);
  durable_cv_.wait(lk, [&] { return durable_head() >= p || !failed_.ok() || !writer_.joinable(); });
  if (durable_head() >= p) return Status::OK();
  if (!failed_.ok()) return failed_;
  return Status::Unavailable("log is not writable");
}

Status Log::Health() const {
  std::lock_guard<std::mutex> lk(mu_);
  return failed_;
}

// ---- Reading ----

Position Log::first_position() const {
  std::lock_guard<std::mutex> lk(segments_mu_);
  return segments_.empty() ? durable_head().Next() : segments_.front()->base;
}

std::vector<SegmentInfo> Log::Segments() const {
  std::lock_guard<std::mutex> lk(segments_mu_);
  std::vector<SegmentInfo> out;
  for (const auto& s : segments_) out.push_back({s->path, s->base, s->last, s->bytes});
  return out;
}

Status Log::Locate(Position p, std::string* path, Position* base, IndexPoint* point) const {
  std::lock_guard<std::mutex> lk(segments_mu_);
  if (segments_.empty() || p < segments_.front()->base) {
    return Status::NotFound("position " + p.ToString() + " is no longer retained");
  }
  auto it = std::upper_bound(segments_.begin(), segments_.end(), p,
                             [](Position v, const auto& s) { return v < s->base; });
  const Segment& seg = **(it - 1);
  *path = seg.path;
  *base = seg.base;
  auto pt = std::upper_bound(seg.index.begin(), seg.index.end(), p,
                             [](Position v, const IndexPoint& ip) { return v < ip.position; });
  *point = pt == seg.index.begin() ? IndexPoint{seg.base, kSegmentHeaderBytes} : *(pt - 1);
  return Status::OK();
}

std::unique_ptr<Reader> Log::NewReader() {
  std::unique_ptr<Reader> r(new Reader(this));
  r->next_ = first_position();
  return r;
}

Status Log::DeleteBefore(Position p, size_t* deleted) {
  if (deleted) *deleted = 0;
  // Refused before anything is dropped from segments_: a read-only log that
  // forgot segments it cannot delete would report a wrong first_position().
  if (options_.read_only) return Status::Unavailable("log is open read-only");
  std::vector<std::string> doomed;
  {
    std::lock_guard<std::mutex> lk(segments_mu_);
    // The head segment is the newest one holding an entry; it and everything
    // after it stay.
    size_t head = segments_.size() - 1;
    while (head > 0 && segments_[head]->last.IsNone()) --head;
    size_t n = 0;
    while (n < head && segments_[n + 1]->base <= p) ++n;
    for (size_t i = 0; i < n; ++i) doomed.push_back(segments_[i]->path);
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<ptrdiff_t>(n));
  }
  if (deleted) *deleted = doomed.size();
  if (doomed.empty()) return Status::OK();
  for (const auto& path : doomed) {
    Status s = env_->RemoveFile(path);
    if (!s.ok()) return s;
  }
  return env_->SyncDir(options_.dir);
}

Status Log::Refresh() {
  if (!options_.read_only) return Status::OK();
  RecoveryReport ignored;
  std::lock_guard<std::mutex> lk(segments_mu_);
  for (;;) {
    Segment* last = segments_.back().get();
    auto r = SegmentReader::Open(last->path, last->base);
    if (!r.ok()) {
      // A segment found while the writer was creating it (the file is there,
      // its header not yet written), by Open or by an earlier pass, holds
      // nothing yet: the next Refresh looks again. Once its header has been
      // seen whole, any failure is real.
      if (last->bytes < kSegmentHeaderBytes && r.status().IsCorruption() &&
          HeaderIncomplete(last->path)) {
        return Status::OK();
      }
      return r.status();
    }
    last->bytes = std::max<uint64_t>(last->bytes, kSegmentHeaderBytes);
    (*r)->SeekTo(last->bytes, last->last.IsNone() ? last->base : last->last.Next());
    Entry e;
    while ((*r)->Next(&e) == SegmentReader::Outcome::kEntry) {
      last->Note(e.position, e.offset, kEntryHeaderBytes + e.payload.size());
    }
    if (!last->last.IsNone()) durable_.store(last->last.value(), std::memory_order_release);
    // A newer segment starts right after this one's last entry.
    Position next = last->last.IsNone() ? last->base : last->last.Next();
    std::string path = JoinPath(options_.dir, SegmentFileName(next));
    if (next == last->base || ::access(path.c_str(), F_OK) != 0) return Status::OK();
    auto seg = std::make_unique<Segment>();
    seg->path = path;
    seg->base = next;
    seg->bytes = 0;  // header not checked yet
    segments_.push_back(std::move(seg));
  }
}

Status Reader::Seek(Position p) {
  Position head = log_->durable_head();
  if (p > head.Next()) {
    return Status::InvalidArgument("position " + p.ToString() + " is ahead of the log (head " +
                                   head.ToString() + ")");
  }
  if (p < log_->first_position()) {
    return Status::NotFound("position " + p.ToString() + " is no longer retained");
  }
  segment_.reset();
  next_ = p;
  return Status::OK();  // the segment is opened by the first Next()
}

Result<bool> Reader::Next(Entry* entry) {
  if (next_ > log_->durable_head()) return false;
  if (!segment_) {
    std::string path;
    Position base;
    IndexPoint point;
    Status s = log_->Locate(next_, &path, &base, &point);
    if (!s.ok()) return s;
    auto r = SegmentReader::Open(path, base);
    if (!r.ok()) {
      if (r.status().IsNotFound()) {
        return Status::NotFound("position " + next_.ToString() + " is no longer retained");
      }
      return r.status();
    }
    segment_ = std::move(r).value();
    segment_->SeekTo(point.offset, point.position);
    while (segment_->next_position() < next_) {
      if (segment_->Next(entry) != SegmentReader::Outcome::kEntry) break;
    }
  }
  SegmentReader::Outcome o = segment_->Next(entry);
  if (o == SegmentReader::Outcome::kEnd) {
    // next_ is durable, so it starts the next segment.
    std::string path = JoinPath(log_->options().dir, SegmentFileName(next_));
    auto r = SegmentReader::Open(path, next_);
    if (!r.ok()) {
      if (r.status().IsNotFound()) {
        return Status::NotFound("position " + next_.ToString() + " is no longer retained");
      }
      return r.status();
    }
    segment_ = std::move(r).value();
    o = segment_->Next(entry);
  }
  switch (o) {
    case SegmentReader::Outcome::kEntry:
      if (entry->position != next_) {
        return Status::Corruption(segment_->path() + ": found position " +
                                  entry->position.ToString() + " where " + next_.ToString() +
                                  " was expected");
      }
      next_ = next_.Next();
      return true;
    case SegmentReader::Outcome::kIOError:
      return Status::IOError(segment_->path() + " offset " +
                             std::to_string(segment_->problem_offset()) + ": " +
                             segment_->problem());
    default:
      return Status::Corruption(segment_->path() + " offset " +
                                std::to_string(segment_->problem_offset()) + ": " +
                                segment_->problem());
  }
}

}  // namespace eventide::wal
