// The glue between a net::Connection and an http::H2Session (HTTP/2), and
// between each HTTP/2 stream that became an event stream (SSE, GraphQL over
// SSE, the dialects' SSE) and its stream::Stream. Private to src/server.
//
//   net::Connection ──bytes──▶ H2Session ──requests──▶ Server::OnRequest
//        ▲                        │  StartStream(slot)
//        └── OnFlush: frames ◀────┤
//                                 ▼
//                   H2Stream (a StreamSlot per started stream) ◀── stream::Stream
//                     Send → H2Session::AppendData (that stream's buffer, framed
//                     as the peer's window allows), SetTimer → this connection's timers
//
// Also here: ProtocolSwitch, the handler every connection starts with when
// HTTP/2 is on, which picks HTTP/1.1 or HTTP/2 by the first bytes (the
// client preface; TLS clients that chose h2 by ALPN send it too).
#ifndef EVENTIDE_SRC_SERVER_H2_CONNECTION_H_
#define EVENTIDE_SRC_SERVER_H2_CONNECTION_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "src/http/h2_session.h"
#include "src/server/conn.h"
#include "src/server/server.h"

namespace eventide::server {

class Server::H2Connection final : public Server::Conn,
                                   public net::ConnectionHandler,
                                   public http::H2Host {
 public:
  H2Connection(Server* server, net::Connection* conn);
  ~H2Connection() override;

  // Server::Conn
  StreamSlot* SlotFor(uint64_t slot) override;
  http::Responder* responder() override { return &session_; }
  void Shutdown() override;
  bool h2() const override { return true; }

  // net::ConnectionHandler
  void OnData(std::string_view data) override;
  void OnEof() override;
  void OnTimer() override;
  void OnWritten() override;
  void OnFlush() override;
  void OnClose() override;

  // http::H2Host
  void Send(std::string_view bytes) override { conn_->Send(bytes); }
  void Close() override { conn_->Close(); }
  void WantFlush() override { conn_->RequestFlush(); }
  size_t pending_output_bytes() const override { return conn_->pending_output_bytes(); }
  void OnStreamStarted(uint64_t slot) override;
  void OnStreamDrained(uint64_t slot) override;
  void OnStreamClosed(uint64_t slot) override;

  size_t open_streams() const { return session_.open_streams(); }
  size_t event_streams() const { return streams_.size(); }

 private:
  class H2Stream;
  // The connection's one timer serves every stream's (SetTimer), the idle
  // timeout with no stream open, and the slowloris check.
  void SetStreamTimer(uint64_t slot, uint64_t timeout_ms);
  void ArmTimer();
  static int64_t NowMs();

  Server* server_;
  net::Connection* conn_;
  http::H2Session session_;
  std::map<uint64_t, std::unique_ptr<H2Stream>> streams_;  // by slot (stream id)
  std::multimap<int64_t, uint64_t> timers_;                // deadline -> slot
  int64_t idle_since_ms_ = 0;                              // no stream open since (0: some are)
  int64_t next_expire_ms_ = 0;                             // the next slowloris check (0: none due)
  int64_t armed_ms_ = 0;  // the deadline the timer is armed for (0: none)
  bool closing_ = false;
};

// Picks the protocol by the first bytes, then hands the connection to an
// HttpConnection or an H2Connection and forwards everything to it.
class Server::ProtocolSwitch final : public net::ConnectionHandler {
 public:
  ProtocolSwitch(Server* server, net::Connection* conn);

  void OnData(std::string_view data) override;
  void OnEof() override;
  void OnTimer() override;
  void OnWritten() override;
  void OnFlush() override;
  void OnClose() override;

 private:
  Server* server_;
  net::Connection* conn_;
  std::string head_;  // the first bytes, until they decide
  std::unique_ptr<net::ConnectionHandler> inner_;
};

}  // namespace eventide::server

#endif  // EVENTIDE_SRC_SERVER_H2_CONNECTION_H_
