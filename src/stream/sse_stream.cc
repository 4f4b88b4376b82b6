#include "src/stream/sse_stream.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "src/common/json_text.h"
#include "src/stream/formats.h"
#include "src/stream/sse.h"

namespace eventide::stream {
namespace {

// Every SSE stream's heartbeat is the same bytes.
const Frame& PingFrame() {
  static const Frame frame = [] {
    std::string f;
    AppendSseEvent("ping", "", "{\"type\":\"ping\"}", &f);
    return std::make_shared<const std::string>(std::move(f));
  }();
  return frame;
}

}  // namespace

SseStream::SseStream(StreamContext* ctx, StreamTransport* transport, SseRequest request)
    : ctx_(ctx), t_(transport), req_(std::move(request)) {
  ++ctx_->stats.sse_streams;
}

SseStream::~SseStream() {
  Unsubscribe();
  --ctx_->stats.sse_streams;
}

void SseStream::Start(std::string_view) {
  const int64_t now = ctx_->now_ms();
  last_drain_ms_ = now;
  next_ping_ms_ = now + static_cast<int64_t>(ctx_->options.sse_ping_ms);
  ArmTimer();

  const wal::Position head = ctx_->hub->head();
  scratch_.clear();
  AppendSseRetry(ctx_->options.sse_retry_ms, &scratch_);
  t_->Send(scratch_);
  Notice("{\"type\":\"connected\",\"status\":\"ok\",\"position\":" +
         std::to_string(head.value()) + "}");

  const bool want_retained = !req_.topic.id.empty() || req_.retained;
  StartPlan plan = PlanStart(req_.resume, want_retained, head, ctx_->first_retained());
  if (!plan.reset.empty()) {
    ++ctx_->stats.resets;
    Notice("{\"type\":\"reset\",\"reason\":\"" + plan.reset +
           "\",\"position\":" + std::to_string(head.value()) + "}");
  } else if (req_.resume.kind == ResumeId::Kind::kPosition) {
    ++ctx_->stats.resumes;
  }
  if (plan.replay) {
    BeginSnapshot();
  } else {
    Subscribe(plan.after);
  }
}

void SseStream::Notice(std::string_view json, std::string_view id) {
  scratch_.clear();
  AppendSseEvent("message", id, json, &scratch_);
  t_->Send(scratch_);
}

void SseStream::BeginSnapshot() {
  // The snapshot and its position are taken in one loop step, so the live
  // stream that follows from that position continues it exactly.
  snapshot_position_ = ctx_->hub->head();
  snapshot_ = RetainedRecords(*ctx_->projection, req_.topic);
  snapshot_next_ = 0;
  snapshotting_ = true;
  ContinueSnapshot();
}

void SseStream::ContinueSnapshot() {
  // Sent as the socket drains, so a large table costs one connection's
  // output limit of memory, not the whole table's bytes.
  while (snapshot_next_ < snapshot_.size() &&
         t_->pending_output_bytes() < ctx_->options.output_limit) {
    const projection::Record& r = *snapshot_[snapshot_next_++];
    scratch_.clear();
    std::string data = "{\"type\":\"retained\",\"id\":";
    AppendJsonString(r.id(), &data);
    data.append(",\"data\":");
    data.append(r.json());
    data.push_back('}');
    AppendSseEvent("message", "", data, &scratch_);
    t_->Send(scratch_);
    ++ctx_->stats.retained_sent;
  }
  if (snapshot_next_ < snapshot_.size()) return;  // OnWritten continues
  snapshotting_ = false;
  snapshot_.clear();
  snapshot_.shrink_to_fit();
  const std::string pos = std::to_string(snapshot_position_.value());
  Notice("{\"type\":\"synced\",\"position\":" + pos + "}", pos);
  Subscribe(snapshot_position_);
}

void SseStream::Subscribe(wal::Position after) {
  Unsubscribe();
  sub_ = ctx_->hub->Subscribe(req_.topic, kSseFormat, this, after);
  ++ctx_->stats.subscriptions;
}

void SseStream::Unsubscribe() {
  if (sub_ == 0) return;
  ctx_->hub->Unsubscribe(sub_);
  sub_ = 0;
  --ctx_->stats.subscriptions;
}

void SseStream::Send(const Frame& frame) {
  ++ctx_->stats.events_delivered;
  t_->SendShared(frame);
}

void SseStream::OnCatchUpFailed(uint64_t, const Status& status) {
  // Its position went out of the log while it caught up (retention), or the
  // log could not be read: reset, and start again from the snapshot.
  Unsubscribe();
  ++ctx_->stats.resets;
  Notice(std::string("{\"type\":\"reset\",\"reason\":\"") +
         (status.IsNotFound() ? "expired" : "unknown") +
         "\",\"position\":" + std::to_string(ctx_->hub->head().value()) + "}");
  BeginSnapshot();
}

void SseStream::OnData(std::string_view) {
  // An SSE client has nothing more to say; bytes are read (to see EOF) and
  // dropped.
}

void SseStream::OnEof() { Unsubscribe(); }

void SseStream::ArmTimer() {
  const StreamOptions& o = ctx_->options;
  // One timer for both duties: the heartbeat, and noticing a stalled client
  // within a quarter of stall_timeout.
  uint64_t tick = std::min(o.sse_ping_ms, std::max<uint64_t>(o.stall_timeout_ms / 4, 50));
  t_->SetTimer(tick);
}

void SseStream::OnTimer() {
  if (closed_) return;
  const int64_t now = ctx_->now_ms();
  if (t_->pending_output_bytes() == 0) {
    last_drain_ms_ = now;
  } else if (now - last_drain_ms_ >= static_cast<int64_t>(ctx_->options.stall_timeout_ms)) {
    // It read nothing for stall_timeout: drop it. It resumes from its
    // Last-Event-ID when it comes back.
    ++ctx_->stats.stalled_closed;
    closed_ = true;
    Unsubscribe();
    t_->Abort();
    return;
  }
  if (now >= next_ping_ms_) {
    t_->SendShared(PingFrame());
    next_ping_ms_ = now + static_cast<int64_t>(ctx_->options.sse_ping_ms);
  }
  ArmTimer();
}

void SseStream::OnWritten() {
  if (closed_) return;
  last_drain_ms_ = ctx_->now_ms();
  if (t_->pending_output_bytes() >= ctx_->options.output_limit / 2) return;
  if (snapshotting_) {
    ContinueSnapshot();
  } else if (sub_ != 0) {
    ctx_->hub->OnDrained(sub_);
  }
}

void SseStream::OnShutdown() {
  if (closed_) return;
  closed_ = true;
  Unsubscribe();
  // A reconnect hint: an EventSource reconnects after `retry`, and resumes
  // from its Last-Event-ID on the restarted server.
  scratch_.clear();
  AppendSseRetry(ctx_->options.sse_retry_ms, &scratch_);
  t_->Send(scratch_);
  t_->Close();
}

void SseStream::OnClose() {
  closed_ = true;
  Unsubscribe();
}

}  // namespace eventide::stream
