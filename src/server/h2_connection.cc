#include "src/server/h2_connection.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "src/hooks/envelope.h"
#include "src/server/http_connection.h"

namespace eventide::server {
namespace {

constexpr std::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

http::H2Options H2OptionsFor(const config::Server& o, uint64_t id) {
  http::H2Options h;
  h.limits.header_bytes = o.limits.header_bytes;
  h.limits.body_bytes = o.limits.body_bytes;
  h.max_concurrent_streams = static_cast<uint32_t>(o.limits.max_concurrent_streams);
  h.id = id;
  return h;
}

}  // namespace

// One HTTP/2 stream as a stream::Stream's transport.
class Server::H2Connection::H2Stream final : public Server::StreamSlot {
 public:
  H2Stream(H2Connection* owner, uint64_t slot) : owner_(owner), slot_(slot) {}

  // Server::StreamSlot
  uint64_t id() const override { return owner_->conn_->id(); }
  const std::string& peer() const override { return owner_->conn_->peer(); }
  bool SetPendingStream(std::unique_ptr<stream::Stream> s) override {
    if (pending_ || stream_) return false;
    pending_ = std::move(s);
    return true;
  }

  // stream::StreamTransport: this stream's buffer in the session.
  void Send(std::string_view bytes) override { owner_->session_.AppendData(slot_, bytes); }
  void SendShared(const stream::Frame& frame) override {
    if (frame) owner_->session_.AppendData(slot_, *frame);
  }
  size_t pending_output_bytes() const override {
    return owner_->session_.stream_pending_bytes(slot_);
  }
  void Close() override { owner_->session_.EndStream(slot_); }
  void Abort() override { owner_->session_.ResetStream(slot_); }
  void SetTimer(uint64_t timeout_ms) override { owner_->SetStreamTimer(slot_, timeout_ms); }
  // Only WebSocket streams pause their client, and they are HTTP/1.1.
  void PauseReading() override {}
  void ResumeReading() override {}

  H2Connection* owner_;
  uint64_t slot_;
  std::unique_ptr<stream::Stream> pending_;
  std::unique_ptr<stream::Stream> stream_;
  bool has_timer_ = false;
  std::multimap<int64_t, uint64_t>::iterator timer_;
};

Server::H2Connection::H2Connection(Server* server, net::Connection* conn)
    : server_(server),
      conn_(conn),
      session_(this, server, H2OptionsFor(server->options_, conn->id())) {
  server_->sessions_[conn->id()] = this;
  ++server_->metrics_.connections_total;
  ++server_->metrics_.h2_connections_total;
  idle_since_ms_ = NowMs();
  ArmTimer();
}

Server::H2Connection::~H2Connection() = default;

int64_t Server::H2Connection::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Server::StreamSlot* Server::H2Connection::SlotFor(uint64_t slot) {
  if (!session_.has_stream(slot)) return nullptr;
  std::unique_ptr<H2Stream>& p = streams_[slot];
  if (!p) {
    p = std::make_unique<H2Stream>(this, slot);
    session_.Watch(slot);  // OnStreamClosed frees it, started or not
  }
  return p.get();
}

void Server::H2Connection::Shutdown() {
  std::vector<H2Stream*> started;
  for (auto& [slot, st] : streams_) {
    if (st->stream_) started.push_back(st.get());
  }
  for (H2Stream* st : started) st->stream_->OnShutdown();
  session_.Shutdown();
  // Now, not at the end of the turn: the server closes every connection
  // next, and a closing connection frames nothing more.
  session_.Flush();
}

void Server::H2Connection::OnData(std::string_view data) {
  session_.OnData(data);
  ArmTimer();
}

void Server::H2Connection::OnEof() { session_.OnEof(); }

void Server::H2Connection::OnWritten() {
  // The socket took bytes: frames held back at the high-water mark may go.
  if (session_.want_write()) conn_->RequestFlush();
}

void Server::H2Connection::OnFlush() { session_.Flush(); }

void Server::H2Connection::OnStreamStarted(uint64_t slot) {
  auto it = streams_.find(slot);
  if (it == streams_.end() || !it->second->pending_) {
    session_.ResetStream(slot);  // cannot happen: a stream head is only sent with a stream
    return;
  }
  H2Stream* st = it->second.get();
  st->stream_ = std::move(st->pending_);
  ++server_->metrics_.h2_event_streams_total;
  server_->EmitStreamHook(hooks::kOnRealtimeConnect, st, {}, {});
  st->stream_->Start({});
}

void Server::H2Connection::OnStreamDrained(uint64_t slot) {
  auto it = streams_.find(slot);
  if (it != streams_.end() && it->second->stream_) it->second->stream_->OnWritten();
}

void Server::H2Connection::OnStreamClosed(uint64_t slot) {
  auto it = streams_.find(slot);
  if (it == streams_.end()) return;
  std::unique_ptr<H2Stream> st = std::move(it->second);
  streams_.erase(it);
  if (st->has_timer_) timers_.erase(st->timer_);
  const bool streamed = st->stream_ != nullptr;
  if (streamed) st->stream_->OnClose();
  st->stream_.reset();  // its subscriptions end (their hooks) before the disconnect
  if (streamed) server_->EmitStreamHook(hooks::kOnRealtimeDisconnect, st.get(), {}, {});
  ArmTimer();
}

void Server::H2Connection::OnClose() {
  closing_ = true;
  // The connection is gone: every stream ends with it.
  std::map<uint64_t, std::unique_ptr<H2Stream>> streams;
  streams.swap(streams_);
  timers_.clear();
  for (auto& [slot, st] : streams) {
    const bool streamed = st->stream_ != nullptr;
    if (streamed) st->stream_->OnClose();
    st->stream_.reset();
    if (streamed) server_->EmitStreamHook(hooks::kOnRealtimeDisconnect, st.get(), {}, {});
  }
  server_->sessions_.erase(conn_->id());
  server_->MaybeFinishShutdown();
}

void Server::H2Connection::SetStreamTimer(uint64_t slot, uint64_t timeout_ms) {
  auto it = streams_.find(slot);
  if (it == streams_.end() || closing_) return;
  H2Stream* st = it->second.get();
  if (st->has_timer_) timers_.erase(st->timer_);
  st->has_timer_ = timeout_ms != 0;
  if (st->has_timer_) {
    st->timer_ = timers_.emplace(NowMs() + static_cast<int64_t>(timeout_ms), slot);
  }
  ArmTimer();
}

void Server::H2Connection::OnTimer() {
  armed_ms_ = 0;
  const int64_t now = NowMs();
  std::vector<uint64_t> due;
  while (!timers_.empty() && timers_.begin()->first <= now) {
    due.push_back(timers_.begin()->second);
    timers_.erase(timers_.begin());
  }
  for (uint64_t slot : due) {
    auto it = streams_.find(slot);
    if (it == streams_.end()) continue;
    it->second->has_timer_ = false;
    if (it->second->stream_) it->second->stream_->OnTimer();
  }
  const config::Limits& l = server_->options_.limits;
  if (session_.open_streams() == 0 && idle_since_ms_ != 0 &&
      now - idle_since_ms_ >= static_cast<int64_t>(l.idle_timeout_ms)) {
    // Idle: GOAWAY, and the session closes the connection once it is sent.
    session_.Shutdown();
    session_.Flush();
    return;
  }
  if (next_expire_ms_ != 0 && now >= next_expire_ms_) {
    next_expire_ms_ = 0;
    session_.ExpireIncompleteRequests();
  }
  ArmTimer();
}

void Server::H2Connection::ArmTimer() {
  if (closing_ || session_.closed()) return;
  const config::Limits& l = server_->options_.limits;
  const int64_t now = NowMs();
  int64_t deadline = timers_.empty() ? 0 : timers_.begin()->first;
  auto sooner = [&deadline](int64_t t) {
    if (t != 0 && (deadline == 0 || t < deadline)) deadline = t;
  };
  if (session_.open_streams() == 0) {
    if (idle_since_ms_ == 0) idle_since_ms_ = now;
    sooner(idle_since_ms_ + static_cast<int64_t>(l.idle_timeout_ms));
  } else {
    idle_since_ms_ = 0;
  }
  if (session_.incomplete_requests() > 0) {
    if (next_expire_ms_ == 0) next_expire_ms_ = now + static_cast<int64_t>(l.header_timeout_ms);
    sooner(next_expire_ms_);
  } else {
    next_expire_ms_ = 0;
  }
  if (deadline == armed_ms_) return;
  armed_ms_ = deadline;
  conn_->SetTimer(deadline == 0 ? 0 : static_cast<uint64_t>(std::max<int64_t>(1, deadline - now)));
}

// ---- ProtocolSwitch ----

Server::ProtocolSwitch::ProtocolSwitch(Server* server, net::Connection* conn)
    : server_(server), conn_(conn) {
  server_->undecided_.insert(this);
  // A connection that says nothing is closed as an idle one would be.
  conn_->SetTimer(server_->options_.limits.idle_timeout_ms);
}

void Server::ProtocolSwitch::OnData(std::string_view data) {
  if (inner_) return inner_->OnData(data);
  // Under TLS, what ALPN chose is the protocol (RFC 9113 section 3.2: a
  // client that chose h2 and sends something else gets nghttp2's bad-preface
  // GOAWAY). In the clear, or without ALPN, the first bytes tell.
  const std::string_view alpn = conn_->alpn();
  bool h2 = alpn == "h2";
  if (alpn.empty()) {
    head_.append(data);
    const size_t n = std::min(head_.size(), kClientPreface.size());
    h2 = std::string_view(head_).substr(0, n) == kClientPreface.substr(0, n);
    if (h2 && head_.size() < kClientPreface.size()) return;  // too early to tell
  } else {
    head_.append(data);
  }
  server_->undecided_.erase(this);
  if (h2) {
    inner_ = std::make_unique<H2Connection>(server_, conn_);
  } else {
    inner_ = std::make_unique<HttpConnection>(server_, conn_);
  }
  std::string bytes;
  bytes.swap(head_);
  inner_->OnData(bytes);
}

void Server::ProtocolSwitch::OnEof() {
  if (inner_) inner_->OnEof();
}

void Server::ProtocolSwitch::OnTimer() {
  if (inner_) return inner_->OnTimer();
  conn_->Close();
}

void Server::ProtocolSwitch::OnWritten() {
  if (inner_) inner_->OnWritten();
}

void Server::ProtocolSwitch::OnFlush() {
  if (inner_) inner_->OnFlush();
}

void Server::ProtocolSwitch::OnClose() {
  if (inner_) return inner_->OnClose();
  server_->undecided_.erase(this);
  server_->MaybeFinishShutdown();
}

}  // namespace eventide::server
