#include "src/net/connection.h"

#include <arpa/inet.h>

#include <cstring>
#include <utility>

#include "src/common/logging.h"
#include "src/net/tls.h"

namespace eventide::net {
namespace {

// Reads of up to 64 KiB: large enough for a pipelined burst or a TLS record
// (16 KiB) several times over, small enough to stay in cache.
constexpr size_t kReadBufferBytes = 64 << 10;

std::string PeerName(uv_tcp_t* tcp) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_tcp_getpeername(tcp, reinterpret_cast<struct sockaddr*>(&ss), &len) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<struct sockaddr_in*>(&ss);
    uv_ip4_name(a, host, sizeof(host));
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<struct sockaddr_in6*>(&ss);
    uv_ip6_name(a, host, sizeof(host));
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

}  // namespace

void ConnectionHandler::OnEof() {}

// One uv_write: owns (or holds references to) the bytes until libuv is done
// with them.
struct Connection::WriteReq {
  uv_write_t req;
  std::vector<Piece> pieces;
  std::string owned;  // the owned pieces' bytes
  size_t bytes = 0;
  Connection* conn;
};

Connection::Connection(Listener* owner, uint64_t id) : owner_(owner), id_(id) {
  tcp_.data = this;
  timer_.data = this;
}

Connection::~Connection() = default;

void Connection::Start(std::unique_ptr<ConnectionHandler> handler, TlsContext* tls) {
  handler_ = std::move(handler);
  if (tls != nullptr) tls_ = std::make_unique<TlsSession>(tls);
  peer_ = PeerName(&tcp_);
  uv_tcp_nodelay(&tcp_, 1);
  ResumeReading();
}

std::string_view Connection::alpn() const { return tls_ ? tls_->alpn() : std::string_view(); }

void Connection::AppendOwned(std::string_view bytes) {
  if (bytes.empty()) return;
  if (pieces_.empty() || pieces_.back().shared) pieces_.push_back(Piece{nullptr, owned_.size(), 0});
  owned_.append(bytes);
  pieces_.back().len += bytes.size();
  queued_bytes_ += bytes.size();
}

void Connection::TakeTlsOutput() {
  const size_t before = owned_.size();
  tls_->TakeOutput(&owned_);
  const size_t added = owned_.size() - before;
  if (added == 0) return;
  if (pieces_.empty() || pieces_.back().shared) pieces_.push_back(Piece{nullptr, before, 0});
  pieces_.back().len += added;
  queued_bytes_ += added;
  owner_->ScheduleFlush(this);
}

void Connection::Send(std::string_view bytes) {
  if (closing_ || bytes.empty()) return;
  if (tls_) {
    tls_held_.append(bytes);
  } else {
    AppendOwned(bytes);
  }
  owner_->ScheduleFlush(this);
}

void Connection::EncryptHeld() {
  if (!tls_ || tls_held_.empty() || handles_closing_) return;
  Status s = tls_->Write(tls_held_);
  tls_held_.clear();
  if (!s.ok()) {
    LogLine(LogLevel::kWarn, "tls write failed", {{"peer", peer_}, {"error", s.ToString()}});
    Abort();
    return;
  }
  TakeTlsOutput();
}

void Connection::SendShared(const std::shared_ptr<const std::string>& bytes) {
  if (closing_ || !bytes || bytes->empty()) return;
  if (tls_) {
    Send(*bytes);  // each connection's records differ: encrypt a copy
    return;
  }
  pieces_.push_back(Piece{bytes, 0, bytes->size()});
  queued_bytes_ += bytes->size();
  owner_->ScheduleFlush(this);
}

void Connection::RequestFlush() {
  if (closing_ || handles_closing_) return;
  owner_->ScheduleFlush(this);
}

void Connection::Flush() {
  // Bytes the handler sends from OnFlush go out in this write: the flag
  // stays set meanwhile, so they do not schedule another.
  if (!closing_ && !handles_closing_ && handler_) handler_->OnFlush();
  EncryptHeld();
  flush_scheduled_ = false;
  if (pieces_.empty() || handles_closing_) return;
  // Most flushes fit in the socket buffer: write them now, with no request
  // to allocate and no poll-set change (uv_write would arm and disarm
  // POLLOUT: an epoll_ctl per response). uv_try_write refuses (EAGAIN) while
  // earlier uv_writes are queued, so order is kept.
  bufs_.clear();
  for (const Piece& p : pieces_) {
    const char* base = p.shared ? p.shared->data() + p.off : owned_.data() + p.off;
    bufs_.push_back(uv_buf_init(const_cast<char*>(base), static_cast<unsigned>(p.len)));
  }
  int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), bufs_.data(),
                       static_cast<unsigned>(bufs_.size()));
  if (n < 0 && n != UV_EAGAIN) {
    Abort();
    return;
  }
  size_t done = n > 0 ? static_cast<size_t>(n) : 0;
  if (done == queued_bytes_) {
    pieces_.clear();
    owned_.clear();  // both keep their capacity for the next turn
    queued_bytes_ = 0;
    if (!closing_ && handler_) handler_->OnWritten();
    return;
  }
  // The rest waits for the socket: it goes to libuv's queue, and the request
  // keeps the bytes (and the shared buffers) alive until its callback.
  auto* w = new WriteReq;
  w->req.data = w;
  w->conn = this;
  size_t first = 0;
  while (done >= pieces_[first].len) done -= pieces_[first++].len;
  pieces_[first].off += done;
  pieces_[first].len -= done;
  w->pieces.assign(pieces_.begin() + static_cast<ptrdiff_t>(first), pieces_.end());
  w->owned.swap(owned_);  // offsets into it stay valid
  pieces_.clear();
  owned_.clear();
  queued_bytes_ = 0;
  bufs_.clear();
  for (const Piece& p : w->pieces) {
    const char* base = p.shared ? p.shared->data() + p.off : w->owned.data() + p.off;
    bufs_.push_back(uv_buf_init(const_cast<char*>(base), static_cast<unsigned>(p.len)));
    w->bytes += p.len;
  }
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), bufs_.data(),
                    static_cast<unsigned>(bufs_.size()), OnWriteDone);
  if (rc != 0) {
    // The callback will not run: clean up here.
    delete w;
    Abort();
    return;
  }
  in_flight_bytes_ += w->bytes;
}

void Connection::OnWriteDone(uv_write_t* req, int status) {
  auto* w = static_cast<WriteReq*>(req->data);
  Connection* c = w->conn;
  c->in_flight_bytes_ -= w->bytes;
  delete w;
  if (status != 0) {
    c->Abort();
    return;
  }
  if (!c->closing_ && c->handler_) c->handler_->OnWritten();
  c->MaybeFinishClose();
}

void Connection::Close() {
  if (closing_) return;
  closing_ = true;
  PauseReading();
  if (tls_ && !handles_closing_) {
    EncryptHeld();                 // what was sent before the close goes before close_notify
    if (handles_closing_) return;  // the write failed: aborted
    tls_->Shutdown();
    TakeTlsOutput();
  }
  MaybeFinishClose();
}

void Connection::Abort() {
  closing_ = true;
  pieces_.clear();
  owned_.clear();
  tls_held_.clear();
  queued_bytes_ = 0;
  CloseHandles();
}

void Connection::MaybeFinishClose() {
  if (!closing_ || handles_closing_) return;
  if (queued_bytes_ > 0 || in_flight_bytes_ > 0) return;  // let the output drain first
  CloseHandles();
}

void Connection::CloseHandles() {
  if (handles_closing_) return;
  handles_closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnHandleClosed);
}

void Connection::OnHandleClosed(uv_handle_t* handle) {
  auto* c = static_cast<Connection*>(handle->data);
  if (--c->handles_open_ > 0) return;
  // Both handles are closed: nothing of libuv refers to the connection now.
  if (c->handler_) c->handler_->OnClose();
  c->owner_->connections_.erase(c->id_);
  delete c;
}

void Connection::PauseReading() {
  if (!reading_ || handles_closing_) return;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  reading_ = false;
}

void Connection::ResumeReading() {
  if (reading_ || closing_ || handles_closing_) return;
  auto alloc = [](uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* c = static_cast<Connection*>(h->data);
    std::string& rb = c->owner_->read_buf_;
    *buf = uv_buf_init(rb.data(), static_cast<unsigned>(rb.size()));
  };
  auto read = [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    static_cast<Connection*>(s->data)->OnRead(nread, buf);
  };
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), alloc, read) == 0) reading_ = true;
}

void Connection::SetTimer(uint64_t timeout_ms) {
  if (handles_closing_) return;
  if (timeout_ms == 0) {
    uv_timer_stop(&timer_);
    return;
  }
  uv_timer_start(
      &timer_,
      [](uv_timer_t* t) {
        auto* c = static_cast<Connection*>(t->data);
        if (!c->handles_closing_ && c->handler_) c->handler_->OnTimer();
      },
      timeout_ms, 0);
}

void Connection::OnRead(ssize_t nread, const uv_buf_t* buf) {
  if (nread == 0) return;  // EAGAIN
  if (nread < 0) {
    if (nread == UV_EOF) {
      PauseReading();
      if (handler_) handler_->OnEof();
      Close();
    } else {
      Abort();  // ECONNRESET and the like: nothing more can be sent either
    }
    return;
  }
  std::string_view data(buf->base, static_cast<size_t>(nread));
  if (!tls_) {
    handler_->OnData(data);
    return;
  }
  plain_.clear();
  Status s = tls_->Feed(data, &plain_);
  TakeTlsOutput();  // handshake records, alerts
  if (!s.ok()) {
    LogLine(LogLevel::kInfo, "tls error", {{"peer", peer_}, {"error", s.message()}});
    closing_ = true;  // send the alert, if any, then close
    PauseReading();
    MaybeFinishClose();
    return;
  }
  if (!plain_.empty()) handler_->OnData(plain_);
  if (!closing_ && tls_->peer_closed()) Close();
}

// ---- Listener ----

Listener::Listener(uv_loop_t* loop, ListenerOptions options, HandlerFactory factory)
    : loop_(loop), options_(std::move(options)), factory_(std::move(factory)) {
  server_.data = this;
  prepare_.data = this;
  check_.data = this;
  idle_.data = this;
  read_buf_.resize(kReadBufferBytes);
}

Listener::~Listener() = default;

Status Listener::Start() {
  struct sockaddr_storage addr;
  int rc;
  if (options_.host.find(':') != std::string::npos) {
    rc = uv_ip6_addr(options_.host.c_str(), options_.port,
                     reinterpret_cast<struct sockaddr_in6*>(&addr));
  } else {
    rc = uv_ip4_addr(options_.host.c_str(), options_.port,
                     reinterpret_cast<struct sockaddr_in*>(&addr));
  }
  if (rc != 0) return Status::InvalidArgument("bad listen address " + options_.host);
  uv_tcp_init(loop_, &server_);
  uv_prepare_init(loop_, &prepare_);
  uv_check_init(loop_, &check_);
  uv_idle_init(loop_, &idle_);
  handles_open_ = true;
  // Unreferenced like the flush hooks; an active idle handle still makes
  // poll return at once.
  uv_prepare_start(&prepare_, [](uv_prepare_t* p) { static_cast<Listener*>(p->data)->FlushAll(); });
  uv_check_start(&check_, [](uv_check_t* c) { static_cast<Listener*>(c->data)->FlushAll(); });
  // The flush hooks must not keep the loop alive on their own.
  uv_unref(reinterpret_cast<uv_handle_t*>(&prepare_));
  uv_unref(reinterpret_cast<uv_handle_t*>(&check_));
  uv_unref(reinterpret_cast<uv_handle_t*>(&idle_));
  rc = uv_tcp_bind(&server_, reinterpret_cast<struct sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 511, OnConnection);
  if (rc != 0) {
    return Status::IOError("listen on " + options_.host + ":" + std::to_string(options_.port) +
                           ": " + uv_strerror(rc));
  }
  listening_ = true;
  struct sockaddr_storage bound;
  int len = sizeof(bound);
  uv_tcp_getsockname(&server_, reinterpret_cast<struct sockaddr*>(&bound), &len);
  bound_port_ = bound.ss_family == AF_INET6
                    ? ntohs(reinterpret_cast<struct sockaddr_in6*>(&bound)->sin6_port)
                    : ntohs(reinterpret_cast<struct sockaddr_in*>(&bound)->sin_port);
  return Status::OK();
}

void Listener::OnConnection(uv_stream_t* server, int status) {
  auto* self = static_cast<Listener*>(server->data);
  if (status != 0) {
    LogLine(LogLevel::kWarn, "accept failed", {{"error", uv_strerror(status)}});
    return;
  }
  auto* c = new Connection(self, self->next_id_++);
  uv_tcp_init(self->loop_, &c->tcp_);
  uv_timer_init(self->loop_, &c->timer_);
  c->handles_open_ = 2;
  self->connections_[c->id_] = c;
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp_)) != 0) {
    c->CloseHandles();
    return;
  }
  if (self->connections_.size() > self->options_.max_connections) {
    // Over the limit: answer (in the clear; a TLS client sees a failed
    // handshake) and close, rather than leave the client hanging.
    c->peer_ = PeerName(&c->tcp_);
    LogLine(LogLevel::kWarn, "connection limit reached", {{"peer", c->peer_}});
    if (self->options_.tls == nullptr) c->Send(self->options_.over_limit_response);
    c->Close();
    return;
  }
  c->Start(self->factory_(c), self->options_.tls);
}

void Listener::ScheduleFlush(Connection* c) {
  if (c->flush_scheduled_) return;
  c->flush_scheduled_ = true;
  to_flush_.push_back(c);
}

void Listener::FlushAll() {
  // A flush can abort a connection, which frees it only in a later close
  // callback, so the pointers stay valid for this pass.
  flushing_.swap(to_flush_);
  for (Connection* c : flushing_) {
    c->Flush();
    c->MaybeFinishClose();
  }
  flushing_.clear();
  // Asked for during this pass: the next turn must not wait in poll for them.
  const bool more = !to_flush_.empty();
  if (more && !idle_active_) {
    uv_idle_start(&idle_, [](uv_idle_t* i) { static_cast<Listener*>(i->data)->FlushAll(); });
  } else if (!more && idle_active_) {
    uv_idle_stop(&idle_);
  }
  idle_active_ = more;
}

void Listener::StopAccepting() {
  if (!listening_) return;
  listening_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&server_), nullptr);
}

void Listener::CloseAll() {
  std::vector<Connection*> all;
  all.reserve(connections_.size());
  for (auto& [id, c] : connections_) all.push_back(c);
  for (Connection* c : all) c->Close();
}

Connection* Listener::Find(uint64_t id) const {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second;
}

void Listener::CloseHandles() {
  StopAccepting();
  if (!handles_open_) return;
  handles_open_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), nullptr);
}

}  // namespace eventide::net
