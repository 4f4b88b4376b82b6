// What the server keeps of each connection, whatever its protocol, and of
// each place a stream can live. Private to src/server.
//
//   Conn        one TCP/TLS connection: HttpConnection (HTTP/1.1) or
//               H2Connection (HTTP/2), in Server::sessions_ by connection id
//   StreamSlot  where a stream answered on one request writes: the whole
//               connection on HTTP/1.1, one HTTP/2 stream on h2
#ifndef EVENTIDE_SRC_SERVER_CONN_H_
#define EVENTIDE_SRC_SERVER_CONN_H_

#include <memory>
#include <string>
#include <utility>

#include "src/server/server.h"

namespace eventide::server {

class Server::StreamSlot : public stream::StreamTransport {
 public:
  // Who the stream is for, as its hooks tell (set with the pending stream).
  struct Identity {
    const config::App* app = nullptr;
    std::string dialect;  // sse, ws, graphql, ayb, snackbase
    std::string subject;  // "" = anonymous
  };
  void set_identity(Identity id) { identity_ = std::move(id); }
  const Identity& identity() const { return identity_; }
  // The connection's id, and its peer's address.
  virtual uint64_t id() const = 0;
  virtual const std::string& peer() const = 0;
  // The stream that takes over once its response head is sent. False when
  // one is waiting or running already (a second stream request pipelined on
  // one HTTP/1.1 connection is never answered: the first keeps it).
  virtual bool SetPendingStream(std::unique_ptr<stream::Stream> s) = 0;

 private:
  Identity identity_;
};

class Server::Conn {
 public:
  virtual ~Conn() = default;
  // Where a stream answered on request `slot` would live; nullptr when that
  // request is gone (an HTTP/2 stream the client reset).
  virtual StreamSlot* SlotFor(uint64_t slot) = 0;
  // What answers this connection's requests by slot (Server::FindResponder).
  virtual http::Responder* responder() = 0;
  // The server is shutting down: streams say goodbye.
  virtual void Shutdown() = 0;
  virtual bool h2() const = 0;
};

}  // namespace eventide::server

#endif  // EVENTIDE_SRC_SERVER_CONN_H_
