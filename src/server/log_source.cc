// Catch-up reads for subscribers behind the head, on the libuv pool.
#include <algorithm>
#include <utility>

#include "src/server/pool_log_source.h"
#include "src/server/server.h"

namespace eventide::server {
namespace {

// One catch-up read returns at most this many bytes of entries: a subscriber
// far behind catches up in steps, each sent before the next is read.
constexpr size_t kCatchUpReadBytes = 256 << 10;

}  // namespace

void Server::PoolLogSource::Read(
    wal::Position after, wal::Position to,
    std::function<void(Status, std::vector<stream::LoggedEntry>)> done) {
  struct Job {
    uv_work_t req;
    Server* server;
    wal::Position after, to;
    std::function<void(Status, std::vector<stream::LoggedEntry>)> done;
    Status status;
    std::vector<stream::LoggedEntry> entries;
  };
  auto* job = new Job{};
  job->req.data = job;
  job->server = server_;
  job->after = after;
  job->to = to;
  job->done = std::move(done);
  ++server_->log_reads_in_flight_;
  uv_queue_work(
      &server_->loop_, &job->req,
      [](uv_work_t* req) {
        auto* j = static_cast<Job*>(req->data);
        auto reader = j->server->log_->local()->NewReader();
        j->status = reader->Seek(j->after.Next());
        size_t bytes = 0;
        while (j->status.ok() && reader->next_position().value() <= j->to.value() &&
               bytes < kCatchUpReadBytes) {
          wal::Entry e;
          auto more = reader->Next(&e);
          if (!more.ok()) {
            j->status = more.status();
            break;
          }
          if (!more.value()) break;
          j->entries.push_back({e.position, std::string(e.payload)});
          bytes += e.payload.size();
        }
      },
      [](uv_work_t* req, int) {
        std::unique_ptr<Job> j(static_cast<Job*>(req->data));
        Server* self = j->server;
        --self->log_reads_in_flight_;
        if (!self->handles_closed_) j->done(j->status, std::move(j->entries));
        self->MaybeFinishShutdown();
      });
}

}  // namespace eventide::server
