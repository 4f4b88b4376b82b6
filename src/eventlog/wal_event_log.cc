#include "src/eventlog/wal_event_log.h"

#include <utility>

#include "src/eventlog/read_entry.h"

namespace eventide::eventlog {

WalEventLog::WalEventLog(std::unique_ptr<wal::Log> log) : log_(std::move(log)) {
  switch (log_->options().sync.mode) {
    case wal::SyncPolicy::Mode::kAlways:
      durability_ = "fsync";
      break;
    case wal::SyncPolicy::Mode::kBatch:
      durability_ = "batch";
      break;
    case wal::SyncPolicy::Mode::kNever:
      durability_ = "none";
      break;
  }
}

WalEventLog::~WalEventLog() { Close(); }

Status WalEventLog::Start(uv_loop_t* loop, Listener* listener) {
  listener_ = listener;
  durable_async_.data = this;
  uv_async_init(loop, &durable_async_, [](uv_async_t* a) {
    auto* self = static_cast<WalEventLog*>(a->data);
    if (self->listener_ != nullptr) self->listener_->OnLogDurable();
  });
  started_ = true;
  // The writer thread only pokes the loop; the loop reads the head itself.
  log_->SetDurableListener(
      [this](wal::Position, const Status&) { uv_async_send(&durable_async_); });
  return Status::OK();
}

void WalEventLog::Close() {
  if (!log_) return;
  listener_ = nullptr;
  // Close the log before the async handle its writer pokes: entries may
  // still be queued, and their listener call must not find the handle
  // closed. This waits for the writer.
  reader_.reset();
  log_->Wake();
  log_.reset();
  if (started_) uv_close(reinterpret_cast<uv_handle_t*>(&durable_async_), nullptr);
  started_ = false;
}

Appended WalEventLog::Append(const AppendRequest& request) {
  Appended out;
  auto p = log_->Append(request.payload, /*wake=*/false);
  if (!p.ok()) {
    out.status = p.status();
    return out;
  }
  wake_needed_ = true;
  out.kind = Appended::Kind::kAssigned;
  out.position = p.value();
  appended_.push_back(Entry{p.value(), std::string(request.payload)});
  return out;
}

void WalEventLog::Flush() {
  if (!wake_needed_) return;
  wake_needed_ = false;
  log_->Wake();
}

Status WalEventLog::ReadEntry(wal::Position p, std::string* payload) {
  while (!appended_.empty() && appended_.front().position < p) appended_.pop_front();
  if (!appended_.empty() && appended_.front().position == p) {
    payload->swap(appended_.front().payload);
    appended_.pop_front();
    return Status::OK();
  }
  return ReadLocalEntry(log_.get(), p, &reader_, payload);
}

}  // namespace eventide::eventlog
