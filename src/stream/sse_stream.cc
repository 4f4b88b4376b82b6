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

SseFramedStream::SseFramedStream(StreamContext* ctx, StreamTransport* transport)
    : ctx_(ctx), t_(transport) {
  ++ctx_->stats.sse_streams;
}

SseFramedStream::~SseFramedStream() {
  sub_.reset();
  --ctx_->stats.sse_streams;
}

void SseFramedStream::StartTimers() {
  const int64_t now = ctx_->now_ms();
  stall_.Progress(now);
  next_ping_ms_ = now + static_cast<int64_t>(heartbeat_ms());
  ArmTimer();
}

void SseFramedStream::OnData(std::string_view) {
  // An SSE client has nothing more to say; bytes are read (to see EOF) and
  // dropped.
}

void SseFramedStream::OnEof() {
  if (sub_) sub_->Stop();
}

void SseFramedStream::ArmTimer() {
  const StreamOptions& o = ctx_->options;
  // One timer for both duties: the heartbeat, and noticing a stalled client
  // within a quarter of stall_timeout.
  uint64_t tick = std::min(heartbeat_ms(), std::max<uint64_t>(o.stall_timeout_ms / 4, 50));
  const int64_t auth_left = AuthLeftMs(*ctx_);
  if (auth_left >= 0) tick = std::min<uint64_t>(tick, static_cast<uint64_t>(auth_left) + 1);
  t_->SetTimer(tick);
}

void SseFramedStream::OnTimer() {
  if (closed_) return;
  const int64_t now = ctx_->now_ms();
  if (stall_.Stalled(now, t_->pending_output_bytes(), ctx_->options.stall_timeout_ms)) {
    // It read nothing for stall_timeout: drop it. It resumes from its
    // Last-Event-ID when it comes back.
    ++ctx_->stats.stalled_closed;
    closed_ = true;
    if (sub_) sub_->Stop();
    t_->Abort();
    return;
  }
  if (AuthLeftMs(*ctx_) == 0) {
    // The token ran out: say so, and end. The client comes back with a new
    // token and resumes from its last position.
    ++ctx_->stats.token_expired_closed;
    closed_ = true;
    if (sub_) sub_->Stop();
    SayTokenExpired();
    t_->Close();
    return;
  }
  if (now >= next_ping_ms_) {
    t_->SendShared(Heartbeat());
    next_ping_ms_ = now + static_cast<int64_t>(heartbeat_ms());
  }
  ArmTimer();
}

void SseFramedStream::OnWritten() {
  if (closed_) return;
  stall_.Progress(ctx_->now_ms());
  if (t_->pending_output_bytes() >= ctx_->options.output_limit / 2) return;
  if (sub_) sub_->OnDrained();
}

void SseFramedStream::OnShutdown() {
  if (closed_) return;
  closed_ = true;
  if (sub_) sub_->Stop();
  SayGoodbye();
  t_->Close();
}

void SseFramedStream::OnClose() {
  closed_ = true;
  if (sub_) sub_->Stop();
}

SseStream::SseStream(StreamContext* ctx, StreamTransport* transport, SseRequest request)
    : SseFramedStream(ctx, transport), req_(std::move(request)) {}

const Frame& SseStream::Heartbeat() const { return PingFrame(); }

void SseStream::SayGoodbye() {
  // An EventSource reconnects after `retry`, and resumes from its
  // Last-Event-ID on the restarted server.
  scratch_.clear();
  AppendSseRetry(ctx_->options.sse_retry_ms, &scratch_);
  t_->Send(scratch_);
}

void SseStream::SayTokenExpired() {
  scratch_.clear();
  AppendSseEvent("error", "",
                 R"({"type":"error","code":"token_expired","message":"the token expired; )"
                 R"(reconnect with a new one to resume"})",
                 &scratch_);
  t_->Send(scratch_);
}

void SseStream::Start(std::string_view) {
  StartTimers();
  scratch_.clear();
  AppendSseRetry(ctx_->options.sse_retry_ms, &scratch_);
  t_->Send(scratch_);
  Notice("{\"type\":\"connected\",\"status\":\"ok\",\"position\":" +
         std::to_string(ctx_->hub->head().value()) + "}");
  std::string name = req_.topic.table;
  if (!req_.topic.id.empty()) name += "/" + req_.topic.id;
  sub_ = std::make_unique<Subscription>(ctx_, t_, this, req_.topic, std::move(name), kSseFormat);
  sub_->set_rule(read_rule_);
  sub_->Start(req_.resume, !req_.topic.id.empty() || req_.retained);
}

void SseStream::Notice(std::string_view json, std::string_view id) {
  scratch_.clear();
  AppendSseEvent("message", id, json, &scratch_);
  t_->Send(scratch_);
}

void SseStream::OnReset(const Subscription&, std::string_view reason, wal::Position head) {
  data_.assign("{\"type\":\"reset\",\"reason\":\"");
  data_.append(reason).append("\",\"position\":").append(std::to_string(head.value()));
  data_.push_back('}');
  Notice(data_);
}

void SseStream::OnRetained(const Subscription&, const projection::Record& r) {
  data_.assign("{\"type\":\"retained\",\"id\":");
  AppendJsonString(r.id(), &data_);
  data_.append(",\"data\":").append(r.json());
  data_.push_back('}');
  Notice(data_);
}

void SseStream::OnSynced(const Subscription&, wal::Position p) {
  const std::string pos = std::to_string(p.value());
  data_.assign("{\"type\":\"synced\",\"position\":").append(pos).push_back('}');
  Notice(data_, pos);
}

}  // namespace eventide::stream
