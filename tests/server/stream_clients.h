// Raw-socket stream clients for the integration tests, so a test controls and
// sees every byte: an SSE reader (events parsed by the WHATWG rules of
// tests/stream/sse_client.h) and a minimal RFC 6455 client (masked frames,
// fragments, control frames, close codes).
#ifndef EVENTIDE_TESTS_SERVER_STREAM_CLIENTS_H_
#define EVENTIDE_TESTS_SERVER_STREAM_CLIENTS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/server/harness.h"
#include "tests/stream/sse_client.h"

namespace eventide::testing {

using std::chrono::milliseconds;

// A connected socket with a read buffer.
class RawSocket {
 public:
  // `rcvbuf`: a small receive buffer (bytes) to make a slow reader; 0 keeps
  // the default.
  explicit RawSocket(int port, int rcvbuf = 0);
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool Send(std::string_view bytes);
  // Sends `chunk` again and again until `max_bytes` went out, or the peer
  // took nothing for `stall` (it stopped reading). Returns the bytes sent.
  size_t SendUntilBlocked(std::string_view chunk, size_t max_bytes, milliseconds stall);
  // Reads what is available into buffer() (waits up to `timeout`): >0 bytes
  // read, 0 on timeout, -1 at EOF or error.
  int ReadMore(milliseconds timeout);
  // Reads a response head ("HTTP/1.1 …\r\n…\r\n\r\n"); the bytes after it
  // stay in buffer(). status 0 when none came.
  HttpResponse ReadHead(milliseconds timeout);
  std::string& buffer() { return buf_; }
  bool eof() const { return eof_; }
  void Close();

 private:
  int fd_ = -1;
  bool eof_ = false;
  std::string buf_;
};

// GET path with SSE, then events as they come.
class SseConn {
 public:
  SseConn(int port, const std::string& path, std::vector<std::string> headers = {}, int rcvbuf = 0,
          const std::string& method = "GET", const std::string& body = "");
  const HttpResponse& head() const { return head_; }
  // Reads until pred(events()) holds (true) or timeout / EOF (false).
  bool WaitFor(const std::function<bool(const std::vector<stream::ClientEvent>&)>& pred,
               milliseconds timeout = milliseconds(10000));
  // Reads whatever arrives within `timeout`.
  void Drain(milliseconds timeout);
  const std::vector<stream::ClientEvent>& events() const { return events_; }
  uint64_t retry_ms() const { return parser_.retry_ms(); }
  bool eof() const { return sock_.eof(); }
  // The events named `type` (e.g. "update"), in order.
  std::vector<stream::ClientEvent> Named(const std::string& type) const;
  RawSocket& socket() { return sock_; }

 private:
  void Parse();
  RawSocket sock_;
  HttpResponse head_;
  stream::SseClient parser_;
  std::vector<stream::ClientEvent> events_;
};

struct WsMessage {
  uint8_t opcode = 0;  // 1 text, 2 binary, 8 close, 9 ping, 10 pong
  std::string payload;
  uint16_t close_code = 0;  // for a close
};

class WsConn {
 public:
  // Sends the handshake (`key` and `version` as given; headers extra) and
  // reads the answer's head.
  WsConn(int port, const std::string& path, std::vector<std::string> headers = {},
         std::string key = "dGhlIHNhbXBsZSBub25jZQ==", std::string version = "13", int rcvbuf = 0);
  const HttpResponse& head() const { return head_; }
  bool upgraded() const { return head_.status == 101; }

  // A masked frame (a client's), or unmasked when `masked` is false.
  bool SendFrame(uint8_t opcode, std::string_view payload, bool fin = true, bool masked = true);
  bool SendText(std::string_view text) { return SendFrame(1, text); }
  // The next complete message (fragments joined); Pings are answered with a
  // Pong first when auto_pong. nullopt on timeout or EOF.
  std::optional<WsMessage> Next(milliseconds timeout = milliseconds(10000));
  // The next text message, skipping control frames; "" on timeout/close.
  std::string NextText(milliseconds timeout = milliseconds(10000));
  // Text messages until one contains `needle` (inclusive); empty if none.
  std::vector<std::string> TextsUntil(const std::string& needle,
                                      milliseconds timeout = milliseconds(10000));
  // Reads until a Close arrives; its code, or 0 if none came.
  uint16_t WaitClose(milliseconds timeout = milliseconds(10000));
  bool auto_pong = true;
  int pings_seen = 0;
  RawSocket& socket() { return sock_; }

 private:
  RawSocket sock_;
  HttpResponse head_;
  std::string partial_;  // a fragmented message's payload so far
  uint8_t partial_opcode_ = 0;
};

}  // namespace eventide::testing

#endif  // EVENTIDE_TESTS_SERVER_STREAM_CLIENTS_H_
