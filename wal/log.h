// Log: a segmented write-ahead log in one directory.
//
// A Log owns its directory: it recovers it on Open, appends with group commit
// on its own writer thread, keeps a sparse position index per segment, and
// deletes old segments on request. Entries are opaque byte strings; the log
// knows nothing of what they mean. The bytes on disk are described in
// FORMAT.md.
//
// Threads:
//   - Append, durable_head, WaitDurable, NewReader, DeleteBefore, Segments
//     and Health may be called from any thread.
//   - The durable listener runs on the writer thread, never concurrently with
//     itself, once per committed (or failed) batch, in position order.
//
//      appenders (any thread)           writer thread
//      ----------------------           -------------
//      Append(p) -> position N   --->   pending batch [N-k .. N]
//      (copied into the pending          write() once per batch
//       batch under a mutex)             fdatasync() once per batch (always)
//                                        durable_head = N; listener(N, OK)
#ifndef EVENTIDE_WAL_LOG_H_
#define EVENTIDE_WAL_LOG_H_

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "wal/env.h"
#include "wal/format.h"
#include "wal/position.h"
#include "wal/segment_reader.h"
#include "wal/status.h"

namespace eventide::wal {

// When an appended entry counts as durable (SPEC section 4).
struct SyncPolicy {
  enum class Mode { kAlways, kBatch, kNever };
  // always: the entry is fdatasync'ed before it is durable; every append that
  //         arrives while a sync is in flight joins the next one (group commit).
  // batch:  the entry is durable once written to the OS; an fdatasync follows
  //         within batch_ms. A power loss may lose the last batch_ms of writes.
  // never:  durable once written to the OS; syncing is left to the kernel
  //         (only at segment roll does the log sync, to keep sealed segments whole).
  Mode mode = Mode::kAlways;
  uint32_t batch_ms = 0;

  // "always", "batch:MS" (1 <= MS <= 60000) or "never".
  static Result<SyncPolicy> Parse(std::string_view text);
  std::string ToString() const;
};

struct LogOptions {
  // The log directory. Created (one level) by a writable Open when missing.
  std::string dir;
  // A segment is sealed and a new one started when the next entry would take
  // it past this size. 64 MiB keeps the segment count small for long logs
  // while retention can still free space in modest steps.
  uint64_t segment_bytes = 64ull << 20;
  SyncPolicy sync;
  // Appends beyond this many bytes waiting for the writer are refused
  // (Unavailable) instead of growing memory without bound when the disk
  // cannot keep up. 64 MiB is ~10 s of backlog at a slow disk's speed.
  uint64_t max_pending_bytes = 64ull << 20;
  // Open without writing: nothing is cut or created, no writer thread runs,
  // a torn tail is reported and read around. Used by eventide-log.
  bool read_only = false;
  // File operations of the write path. Not owned; must outlive the Log.
  Env* env = nullptr;  // nullptr: Env::Default()
};

// What Open found and did.
struct RecoveryReport {
  size_t segments = 0;
  Position first;  // oldest retained entry (None when the log is empty)
  Position head;   // newest valid entry (None when the log is empty)
  // A torn or corrupt tail of the last segment; cut unless read_only.
  uint64_t tail_bytes = 0;
  std::string tail_segment;
  uint64_t tail_offset = 0;
  std::string tail_reason;
  // The last segment's length recorded as synced in SYNCED (0: none known),
  // below which no damage is taken for a crash's doing.
  uint64_t synced_bytes = 0;
  // Why SYNCED was not used (missing or invalid); recovery then judges the
  // tail by the scan alone (FORMAT.md section 6).
  std::string mark_problem;
  // read_only only: the damage at tail_offset is not a torn tail (a writable
  // Open fails instead); tail_verdict says why.
  bool tail_corrupt = false;
  std::string tail_verdict;
};

struct SegmentInfo {
  std::string path;
  Position base;
  Position last;  // None when the segment holds no entry yet
  uint64_t bytes = 0;
};

// Counters of the write path, for /metrics. Histogram buckets hold counts per
// bucket (not cumulative); the last bucket is everything above the last bound.
struct LogStats {
  static constexpr std::array<double, 12> kSyncBoundsSeconds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0};
  static constexpr std::array<uint64_t, 11> kGroupBounds = {1,  2,   4,   8,   16,  32,
                                                            64, 128, 256, 512, 1024};
  uint64_t syncs = 0;  // fdatasync calls on segments (group commits, batch timers, seals)
  double sync_seconds_sum = 0;
  std::array<uint64_t, kSyncBoundsSeconds.size() + 1> sync_buckets{};
  uint64_t batches = 0;  // batches written (a batch is one group commit under always)
  uint64_t entries = 0;
  std::array<uint64_t, kGroupBounds.size() + 1> group_buckets{};  // entries per batch
  uint64_t bytes_written = 0;
};

class Reader;

class Log {
 public:
  // Called on the writer thread after each batch: `durable` is the new durable
  // head, or, when `status` is not OK, the batch failed and the log accepts
  // no more appends (every position above `durable` will never be durable).
  using DurableListener = std::function<void(Position durable, const Status& status)>;

  // Opens (recovering) the log in options.dir. Fails with Corruption when an
  // earlier segment is damaged, naming the segment, offset and reason.
  static Result<std::unique_ptr<Log>> Open(const LogOptions& options,
                                           RecoveryReport* report = nullptr);

  // Waits for pending appends to become durable (or fail), then stops.
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Assigns the next position to `payload` and queues it for the writer. The
  // payload is copied; it need not outlive the call. Fails (without assigning
  // a position) once the log has failed, when it is closed or read-only, when
  // the payload exceeds kMaxPayloadBytes, or when too much is pending.
  //
  // `wake` false leaves the writer asleep until Wake(): an event loop that
  // appends many entries in one turn wakes the writer once at the end of the
  // turn, instead of being preempted by it after the first entry.
  Result<Position> Append(std::string_view payload, bool wake = true);
  // Wakes the writer if appends are pending. Any thread.
  void Wake();

  // REQUIRES: called before the first Append. Replaces any earlier listener.
  void SetDurableListener(DurableListener listener);

  // Blocks until `p` is durable (OK) or can never be (the log's failure).
  Status WaitDurable(Position p);

  // The newest durable position: every entry up to it may be read.
  Position durable_head() const { return Position(durable_.load(std::memory_order_acquire)); }
  // The oldest retained position (durable_head + 1 when the log is empty).
  Position first_position() const;
  // OK while the log accepts appends; the sticky failure otherwise.
  Status Health() const;

  // A reader positioned at the oldest retained entry. It must not outlive
  // the Log. Each reader is used by one thread at a time.
  std::unique_ptr<Reader> NewReader();

  // Deletes every segment all of whose entries are before `p`, never the
  // segment that holds the head. Sets *deleted to the number removed.
  Status DeleteBefore(Position p, size_t* deleted = nullptr);

  std::vector<SegmentInfo> Segments() const;

  // A copy of the write-path counters. Any thread.
  LogStats Stats() const;

  // read_only logs only: picks up entries another process appended since
  // Open (or the last Refresh), up to its newest complete entry.
  Status Refresh();

  const LogOptions& options() const { return options_; }

 private:
  friend class Reader;
  struct Segment;
  struct Batch;

  explicit Log(const LogOptions& options);
  Status Recover(RecoveryReport* report);
  Status ScanSegment(Segment* seg, bool is_last, RecoveryReport* report);
  Status CreateSegment(Position base);
  // Records in SYNCED that `bytes` of the segment at `base` are fdatasync'ed.
  // A pwrite, not synced: the mark is a lower bound, and a stale one is safe.
  Status WriteMark(Position base, uint64_t bytes);
  void WriterMain();
  Status WriteBatch(const Batch& batch);
  // The last segment. Writer thread only.
  Segment* ActiveSegment();
  void Fail(const Status& s);
  // Where the entry at `p` (or the one at or before it that the index knows)
  // starts. REQUIRES: first_position() <= p <= durable_head().
  Status Locate(Position p, std::string* path, Position* base, IndexPoint* point) const;

  const LogOptions options_;
  Env* const env_;
  int lock_fd_ = -1;
  // The mark found at Open (recovery only) and the file the writer keeps it in.
  std::optional<SyncedMark> recovered_mark_;
  std::unique_ptr<MarkFile> mark_file_;

  // Segments, oldest first; the last one is the active segment.
  mutable std::mutex segments_mu_;
  std::vector<std::unique_ptr<Segment>> segments_;

  std::atomic<uint64_t> durable_{0};

  // Appenders and the writer thread.
  mutable std::mutex mu_;
  std::condition_variable work_cv_;     // the writer waits for work
  std::condition_variable durable_cv_;  // WaitDurable waits for progress
  std::unique_ptr<Batch> pending_;      // guarded by mu_
  Position next_position_;              // guarded by mu_
  Status failed_;                       // guarded by mu_; sticky
  bool closing_ = false;                // guarded by mu_
  DurableListener listener_;

  mutable std::mutex stats_mu_;
  LogStats stats_;  // guarded by stats_mu_; written by the writer thread
  // fdatasync of the active segment, timed into stats_. Writer thread only.
  Status TimedSync();

  // Writer thread state.
  std::unique_ptr<WritableFile> active_file_;
  uint64_t unsynced_bytes_ = 0;
  std::vector<IndexPoint> new_points_;  // reused by WriteBatch
  std::thread writer_;
};

// Reads entries in position order from any retained position, following the
// durable head. Obtained from Log::NewReader; must not outlive its Log.
class Reader {
 public:
  // Positions the reader so that Next() returns the entry at `p`. Costs a
  // binary search over segments and over the segment's sparse index, then a
  // scan of at most one index interval (4 KiB of entries).
  // NotFound: p is older than the oldest retained entry.
  // InvalidArgument: p is past durable_head() + 1.
  Status Seek(Position p);

  // The next entry: true with *entry filled; false when the reader has
  // caught up with the durable head (call again later); a Status on
  // corruption or I/O failure. *entry's payload is valid until the next call.
  Result<bool> Next(Entry* entry);

  Position next_position() const { return next_; }

 private:
  friend class Log;
  explicit Reader(Log* log) : log_(log) {}

  Log* log_;
  Position next_;
  std::unique_ptr<SegmentReader> segment_;
};

}  // namespace eventide::wal

#endif  // EVENTIDE_WAL_LOG_H_
