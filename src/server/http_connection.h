// The glue between a net::Connection and its http::Session or stream.
// Private to src/server.
#ifndef EVENTIDE_SRC_SERVER_HTTP_CONNECTION_H_
#define EVENTIDE_SRC_SERVER_HTTP_CONNECTION_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "src/hooks/envelope.h"
#include "src/server/conn.h"
#include "src/server/server.h"

namespace eventide::server {

// Glue between a net::Connection and an http::Session (HTTP/1.1), and, once a
// response turns into a stream (SSE, WebSocket), between the connection and
// the stream.
class Server::HttpConnection final : public Server::Conn,
                                     public Server::StreamSlot,
                                     public net::ConnectionHandler,
                                     public http::Transport {
 public:
  HttpConnection(Server* server, net::Connection* conn)
      : server_(server), conn_(conn), session_(this, server, SessionOptionsFor(server, conn)) {
    server_->sessions_[conn->id()] = this;
    ++server_->metrics_.connections_total;
    ++server_->metrics_.http1_connections_total;
  }
  ~HttpConnection() override = default;

  // Server::Conn: one HTTP/1.1 connection carries at most one stream.
  StreamSlot* SlotFor(uint64_t) override { return this; }
  http::Responder* responder() override {
    if (stream_) return stream_->responder();
    return &session_;
  }
  void Shutdown() override {
    if (stream_) stream_->OnShutdown();
  }
  bool h2() const override { return false; }

  // Server::StreamSlot
  bool SetPendingStream(std::unique_ptr<stream::Stream> s) override {
    if (pending_stream_ || stream_) return false;
    pending_stream_ = std::move(s);
    return true;
  }
  uint64_t id() const override { return conn_->id(); }
  const std::string& peer() const override { return conn_->peer(); }

  // net::ConnectionHandler
  void OnData(std::string_view data) override {
    if (stream_) return stream_->OnData(data);
    session_.OnData(data);
  }
  void OnEof() override {
    if (stream_) return stream_->OnEof();
    session_.OnEof();
  }
  void OnTimer() override {
    if (stream_) return stream_->OnTimer();
    session_.OnTimer();
  }
  void OnWritten() override {
    if (stream_) stream_->OnWritten();
  }
  void OnClose() override {
    const bool streamed = stream_ != nullptr;
    if (stream_) stream_->OnClose();
    stream_.reset();  // its subscriptions end (their hooks) before the disconnect
    if (streamed) server_->EmitStreamHook(hooks::kOnRealtimeDisconnect, this, {}, {});
    pending_stream_.reset();
    server_->sessions_.erase(conn_->id());
    server_->MaybeFinishShutdown();
  }

  // http::Transport and stream::StreamTransport
  void Send(std::string_view bytes) override { conn_->Send(bytes); }
  void SendShared(const stream::Frame& frame) override { conn_->SendShared(frame); }
  void Close() override { conn_->Close(); }
  void Abort() override { conn_->Abort(); }
  size_t pending_output_bytes() const override { return conn_->pending_output_bytes(); }
  void PauseReading() override { conn_->PauseReading(); }
  void ResumeReading() override { conn_->ResumeReading(); }
  void SetTimer(uint64_t timeout_ms) override { conn_->SetTimer(timeout_ms); }
  void OnStreamStarted(std::string_view early) override {
    stream_ = std::move(pending_stream_);
    if (!stream_) {  // cannot happen: a stream head is only sent with a stream
      conn_->Close();
      return;
    }
    conn_->ResumeReading();   // to see the client's EOF (and WebSocket frames)
    std::string copy(early);  // `early` lives in the session, which is done
    server_->EmitStreamHook(hooks::kOnRealtimeConnect, this, {}, {});
    stream_->Start(copy);
  }

 private:
  static http::SessionOptions SessionOptionsFor(Server* server, net::Connection* conn) {
    const config::Limits& l = server->options_.limits;
    http::SessionOptions o;
    o.limits.header_bytes = l.header_bytes;
    o.limits.body_bytes = l.body_bytes;
    o.header_timeout_ms = l.header_timeout_ms;
    o.idle_timeout_ms = l.idle_timeout_ms;
    o.max_pipelined_requests = l.max_pipelined_requests;
    o.id = conn->id();
    return o;
  }

  Server* server_;
  net::Connection* conn_;
  http::Session session_;
  std::unique_ptr<stream::Stream> pending_stream_;
  std::unique_ptr<stream::Stream> stream_;
};

}  // namespace eventide::server

#endif  // EVENTIDE_SRC_SERVER_HTTP_CONNECTION_H_
