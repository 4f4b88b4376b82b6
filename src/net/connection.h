// TCP connections on a libuv loop, optionally through TLS (memory BIOs), and
// the listener that accepts them. Loop thread only, everything here.
//
// Ownership: a Listener owns its Connections; each Connection owns its
// handler, its uv_tcp_t and (under TLS) its TlsSession. A connection is freed
// only in its uv_close callback, after the handler's OnClose, so a handler
// may call Close() from inside any of its own callbacks.
//
// Output: Send() appends to the connection's buffer and SendShared() queues a
// reference to a buffer shared with other connections (an event frame that
// every subscriber receives: no copy on plain TCP). Under TLS a turn's sends
// are gathered and encrypted at the flush, so many small sends (an HTTP/2
// session's frames, a burst of events) make few records. Output is written once per
// loop turn (a uv_prepare and a uv_check flush every connection that has
// output), so many small sends in one turn cost one writev.
#ifndef EVENTIDE_SRC_NET_CONNECTION_H_
#define EVENTIDE_SRC_NET_CONNECTION_H_

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "wal/status.h"

namespace eventide::net {

class Connection;
class TlsContext;
class TlsSession;

class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  // Plaintext bytes from the peer.
  virtual void OnData(std::string_view data) = 0;
  // The peer sent EOF. The default closes the connection once output drains.
  virtual void OnEof();
  // The connection's timer (SetTimer) fired.
  virtual void OnTimer() {}
  // Called after written bytes were handed to the kernel; pending output may
  // now be below a limit the handler cares about.
  virtual void OnWritten() {}
  // The connection's output is about to be written (once per loop turn, when
  // RequestFlush or a Send asked for it): a handler that frames lazily (an
  // HTTP/2 session) produces its bytes here, so one turn's events go out as
  // one write.
  virtual void OnFlush() {}
  // The connection is gone (closed by either side); called once, last.
  virtual void OnClose() {}
};

class Listener;

class Connection {
 public:
  uint64_t id() const { return id_; }
  const std::string& peer() const { return peer_; }
  bool tls() const { return tls_ != nullptr; }
  // Under TLS, the protocol ALPN selected ("" in the clear or without one).
  std::string_view alpn() const;
  bool closing() const { return closing_; }

  // Queues bytes for the peer (encrypted under TLS). Ignored once closing.
  void Send(std::string_view bytes);
  // Queues a shared buffer: on plain TCP it is written from where it is (a
  // reference is held until the kernel took it); under TLS it is encrypted
  // like Send.
  void SendShared(const std::shared_ptr<const std::string>& bytes);
  // Bytes queued or in flight that the kernel has not taken yet.
  size_t pending_output_bytes() const {
    return queued_bytes_ + in_flight_bytes_ + tls_held_.size();
  }
  // Asks for OnFlush (and a write) at the end of this loop turn.
  void RequestFlush();
  // Stops reading and closes once queued output is written (and, under TLS,
  // after a close_notify).
  void Close();
  // Closes at once, dropping queued output.
  void Abort();
  void PauseReading();
  void ResumeReading();
  // (Re)arms the single per-connection timer; 0 cancels it.
  void SetTimer(uint64_t timeout_ms);

  ConnectionHandler* handler() const { return handler_.get(); }

 private:
  friend class Listener;
  struct WriteReq;
  Connection(Listener* owner, uint64_t id);
  ~Connection();

  void Start(std::unique_ptr<ConnectionHandler> handler, TlsContext* tls);
  void OnRead(ssize_t nread, const uv_buf_t* buf);
  void Flush();
  void MaybeFinishClose();
  void CloseHandles();
  static void OnWriteDone(uv_write_t* req, int status);
  static void OnHandleClosed(uv_handle_t* handle);

  Listener* owner_;
  uint64_t id_;
  std::string peer_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  std::unique_ptr<ConnectionHandler> handler_;
  std::unique_ptr<TlsSession> tls_;
  // Queued output, in order: pieces of `owned_` (bytes copied in, or TLS
  // records) and shared buffers.
  struct Piece {
    std::shared_ptr<const std::string> shared;  // null: owned_[off, off + len)
    size_t off = 0;
    size_t len = 0;
  };
  void AppendOwned(std::string_view bytes);
  void TakeTlsOutput();
  // Under TLS: encrypts the plaintext sent this turn, as few records.
  void EncryptHeld();
  std::vector<Piece> pieces_;
  std::string owned_;
  size_t queued_bytes_ = 0;
  std::vector<uv_buf_t> bufs_;  // scratch for a flush
  std::string plain_;           // scratch: decrypted bytes of one read
  std::string tls_held_;        // under TLS: plaintext sent this turn, encrypted at the flush
  size_t in_flight_bytes_ = 0;
  bool flush_scheduled_ = false;
  bool reading_ = false;
  bool closing_ = false;  // Close() or Abort() called
  bool handles_closing_ = false;
  int handles_open_ = 0;
};

struct ListenerOptions {
  std::string host = "127.0.0.1";
  int port = 9996;  // 0: ephemeral (see Listener::port)
  // Connections beyond this many get `over_limit_response` and are closed.
  uint64_t max_connections = 10000;
  std::string over_limit_response;
  TlsContext* tls = nullptr;  // not owned; nullptr: plain TCP
};

class Listener {
 public:
  using HandlerFactory = std::function<std::unique_ptr<ConnectionHandler>(Connection*)>;

  // REQUIRES: loop outlives the Listener.
  Listener(uv_loop_t* loop, ListenerOptions options, HandlerFactory factory);
  ~Listener();

  // Binds and listens.
  Status Start();
  // The port bound (useful with port 0).
  int port() const { return bound_port_; }
  // Stops accepting; existing connections stay.
  void StopAccepting();
  // Calls Close() on every connection.
  void CloseAll();
  size_t connection_count() const { return connections_.size(); }
  // nullptr when the connection is gone.
  Connection* Find(uint64_t id) const;
  // Closes the loop handles the listener owns (call after all connections
  // have closed, before uv_loop_close).
  void CloseHandles();

 private:
  friend class Connection;
  static void OnConnection(uv_stream_t* server, int status);
  static void OnFlushHook(uv_handle_t* handle);
  void ScheduleFlush(Connection* c);
  void FlushAll();

  uv_loop_t* loop_;
  ListenerOptions options_;
  HandlerFactory factory_;
  uv_tcp_t server_;
  uv_prepare_t prepare_;
  uv_check_t check_;
  // Runs while flushes were asked for during a flush pass (a handler that
  // sends more once the socket took its bytes: HTTP/2 frames held at the
  // high-water mark): an active idle handle keeps the loop from blocking in
  // poll, so they go out in the next turn, not at the next unrelated event.
  uv_idle_t idle_;
  bool idle_active_ = false;
  bool listening_ = false;
  bool handles_open_ = false;
  int bound_port_ = 0;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Connection*> connections_;
  std::vector<Connection*> to_flush_;
  std::vector<Connection*> flushing_;
  // One read buffer for every connection: a read callback consumes its bytes
  // before the loop reads again.
  std::string read_buf_;
};

}  // namespace eventide::net

#endif  // EVENTIDE_SRC_NET_CONNECTION_H_
