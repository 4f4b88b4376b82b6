// The HTTP/2 transport of the stream modes (--http2): one client connection
// to the server, prior knowledge over cleartext TCP (h2c, RFC 9113 section
// 3.3), that carries many subscribers, each SSE subscription one stream.
// libnghttp2's client session does the framing, HPACK and flow control; this
// file moves its bytes over a libuv TCP handle (nghttp2_session_mem_recv on
// every read, nghttp2_session_mem_send into one buffer per flush) and hands
// each stream's response head and DATA to its StreamConn, which parses and
// checks them exactly as it does bytes from its own HTTP/1.1 connection.
//
//   StreamConn::Connect ──Open──▶ H2ClientConn ──HEADERS (stream id)──▶ server
//   StreamConn ◀──OnH2Header / OnH2HeadEnd / OnH2Body (by stream id)── DATA
//
// Lifetimes: the run owns the H2ClientConns and their StreamConns and
// outlives both; a StreamConn stays attached to its stream until the stream
// closes, Cancel detaches it, or the connection is lost. Nothing here calls
// nghttp2_session_mem_recv/mem_send from inside nghttp2's callbacks: calls
// that come back in while the library runs (a subscriber failing, the run
// opening the next subscriber) only queue frames, and the flush after the
// library returns sends them.
//
// The loop thread only.
#ifndef EVENTIDE_TOOLS_LOAD_H2_H_
#define EVENTIDE_TOOLS_LOAD_H2_H_

#include <uv.h>

#include <cstdint>
#include <map>
#include <string>

struct nghttp2_session;

namespace eventide::load {

class StreamConn;
class StreamRun;
struct Endpoint;

class H2ClientConn {
 public:
  // Connects on the first Open.
  // REQUIRES: *run and *ep outlive this connection.
  H2ClientConn(StreamRun* run, const Endpoint* ep);
  ~H2ClientConn();
  H2ClientConn(const H2ClientConn&) = delete;
  H2ClientConn& operator=(const H2ClientConn&) = delete;

  // A subscriber will be carried here: only counted, to warn when more are
  // planned than the server lets run at once (SETTINGS_MAX_CONCURRENT_STREAMS;
  // the rest would wait for a free stream that never comes).
  void Plan() { ++planned_; }
  // Submits c's GET (the SSE subscription) as a new stream. When the
  // connection is lost already, c fails at once with the reason.
  void Open(StreamConn* c);
  // c's stream is reset (RST_STREAM CANCEL) and c hears nothing more from it.
  void Cancel(StreamConn* c);
  // The end of the run: closes the socket. Streams still attached are
  // detached without a word (the run closes their subscribers itself).
  void Close();

 private:
  friend struct H2ClientCallbacks;
  enum class State : uint8_t { kIdle, kConnecting, kOpen, kClosing, kClosed };

  void Connect();
  void OnConnected(int status);
  void OnRead(ssize_t n, const uv_buf_t* buf);
  // Serializes the session's queued frames and writes them (one uv_write
  // in flight; what is queued meanwhile goes in the next).
  void Flush();
  void OnWritten(int status);
  // The connection is lost: every subscriber on it fails with `why`, and
  // later Opens fail the same way.
  void FailAll(const char* why);
  void CloseSocket();
  // Detaches stream `id` from its subscriber; nullptr when none.
  StreamConn* Detach(int32_t id);

  StreamRun* run_;
  const Endpoint* ep_;
  nghttp2_session* ng_ = nullptr;
  State state_ = State::kIdle;
  const char* failed_ = nullptr;  // why the connection was lost
  bool in_library_ = false;       // inside nghttp2_session_mem_recv/mem_send
  bool warned_ = false;
  size_t planned_ = 0;
  uv_tcp_t tcp_;
  uv_connect_t connect_req_;
  uv_write_t write_req_;
  bool writing_ = false;
  std::string out_;                         // frames not handed to uv_write yet
  std::string writing_buf_;                 // the bytes of the uv_write in flight
  int64_t now_us_ = 0;                      // receive time of the bytes being parsed
  std::map<int32_t, StreamConn*> streams_;  // attached subscribers by stream id
};

}  // namespace eventide::load

#endif  // EVENTIDE_TOOLS_LOAD_H2_H_
