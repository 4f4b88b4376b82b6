// Checkpoints (docs/CHECKPOINT.md) written on the libuv pool, then retention.
#include <algorithm>

#include "src/common/logging.h"
#include "src/common/time.h"
#include "src/projection/checkpoint.h"
#include "src/server/server.h"

namespace eventide::server {
namespace {

// The oldest segment base the retention window still needs. Newest first, a
// segment is kept while the newer ones hold fewer than `bytes` bytes, or while
// its newest entry is younger than `age_s`; once one is not needed, no older
// one is. The head's segment is always kept. Runs on the pool (reads the log).
wal::Position RetentionStart(wal::Log* log, const config::Retention& r) {
  std::vector<wal::SegmentInfo> segs = log->Segments();
  if (segs.empty()) return wal::Position();
  const int64_t now_us = WallMillis() * 1000;
  const int64_t age_us = static_cast<int64_t>(r.age_s) * 1000000;
  auto reader = log->NewReader();
  uint64_t newer_bytes = 0;
  wal::Position keep_from = segs.back().base;
  for (size_t i = segs.size(); i-- > 0;) {
    bool needed = i + 1 == segs.size() || segs[i].last.value() == 0;
    if (!needed && r.bytes != 0 && newer_bytes < r.bytes) needed = true;
    if (!needed && r.age_s != 0) {
      wal::Entry e;
      if (!reader->Seek(segs[i].last).ok()) {
        needed = true;  // cannot tell its age: keep it
      } else {
        auto more = reader->Next(&e);
        needed = !more.ok() || !more.value() || e.timestamp_us >= now_us - age_us;
      }
    }
    if (!needed) break;
    keep_from = segs[i].base;
    newer_bytes += segs[i].bytes;
  }
  return keep_from;
}

}  // namespace

void Server::MaybeCheckpoint() {
  if (checkpoint_running_ || handles_closed_ || !rest_->failure().ok()) return;
  const uint64_t applied = projection_->applied().value();
  const uint64_t log_bytes = log_->local()->Stats().bytes_written;
  if (applied - checkpoint_position_ < options_.checkpoint_entries &&
      log_bytes - checkpoint_log_bytes_ < options_.checkpoint_bytes) {
    return;
  }
  if (applied == checkpoint_position_) return;
  checkpoint_log_bytes_ = log_bytes;
  // A checkpoint: snapshot on the loop (shares the records), write on the pool.
  struct Work {
    uv_work_t req;
    Server* server;
    std::shared_ptr<const projection::Snapshot> snap;
    std::string dir;
    uint64_t position;
    uint64_t bytes = 0;
    Status status;
    size_t deleted = 0;
    config::Retention retention;
    wal::Log* log;
  };
  auto* job = new Work;
  job->req.data = job;
  job->server = this;
  job->snap = projection_->TakeSnapshot();
  job->dir = checkpoint_dir_;
  job->position = applied;
  job->retention = options_.retention;
  job->log = log_->local();
  checkpoint_running_ = true;
  uv_queue_work(
      &loop_, &job->req,
      [](uv_work_t* req) {
        auto* work = static_cast<Work*>(req->data);
        work->status = projection::WriteCheckpoint(work->dir, *work->snap, &work->bytes);
        if (!work->status.ok()) return;
        // Retention (SPEC section 4): segments wholly before the checkpoint
        // and outside the retention window go. Unlimited by default.
        if (work->retention.bytes == 0 && work->retention.age_s == 0) return;
        wal::Position keep_from = RetentionStart(work->log, work->retention);
        wal::Position limit(std::min(keep_from.value(), work->position + 1));
        Status s = work->log->DeleteBefore(limit, &work->deleted);
        if (!s.ok()) work->status = s;
      },
      [](uv_work_t* req, int) {
        auto* work = static_cast<Work*>(req->data);
        Server* self = work->server;
        self->checkpoint_running_ = false;
        if (work->status.ok()) {
          self->checkpoint_position_ = work->position;
          ++self->checkpoints_written_;
          self->segments_deleted_ += work->deleted;
          LogLine(LogLevel::kInfo, "checkpoint written",
                  {{"position", work->position},
                   {"bytes", work->bytes},
                   {"segments_deleted", work->deleted}});
        } else {
          LogLine(LogLevel::kError, "checkpoint failed", {{"error", work->status.ToString()}});
        }
        delete work;
        // Writes that crossed a threshold while this one ran get theirs now,
        // not only when the next write comes.
        if (!self->shutting_down_) self->MaybeCheckpoint();
        self->MaybeFinishShutdown();
      });
}

}  // namespace eventide::server
