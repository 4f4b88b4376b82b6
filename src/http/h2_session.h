// One HTTP/2 connection's state machine over libnghttp2 (framing, HPACK,
// flow control and the protocol's checks are the library's), independent of
// sockets like http::Session: bytes in (OnData), requests out to the same
// RequestHandler as HTTP/1.1, responses and streams back by slot, where a
// slot is the HTTP/2 stream id.
//
//   bytes --> nghttp2 --> Request (headers + body, END_STREAM) --> handler.OnRequest
//                                                                  |
//   host <-- Flush(): frames <-- nghttp2 <-- Respond(slot, head, body)
//                                        <-- StartStream(slot, head), then
//                                            AppendData(slot, bytes) as events come
//
// Output is lazy: calls queue frames and ask the host for a flush
// (H2Host::WantFlush); Flush() hands them to the host in one go. A streaming response's bytes
// wait in that stream's own buffer until the peer's flow-control window takes
// them, so a stream whose reader stops does not hold up the others; its
// buffered bytes are what pending_output_bytes reports for it, which is how a
// subscriber is demoted to catching up from the log (stream::Hub).
//
// Requests on different streams are independent (no pipelining order).
// Handler calls are never made from inside nghttp2's callbacks: completed
// requests and closed streams are collected while bytes are parsed and
// handed over after.
//
// Not thread-safe: the loop thread only.
#ifndef EVENTIDE_SRC_HTTP_H2_SESSION_H_
#define EVENTIDE_SRC_HTTP_H2_SESSION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "src/http/exchange.h"
#include "src/http/parser.h"

struct nghttp2_session;

namespace eventide::http {

// The connection under an H2Session, and the owner of its streams.
class H2Host {
 public:
  virtual ~H2Host() = default;
  // Frames for the peer.
  virtual void Send(std::string_view bytes) = 0;
  // Closes the connection once queued bytes are written.
  virtual void Close() = 0;
  // Frames are queued: call Flush soon (the server: at the end of this loop
  // turn, so one turn's frames go out in one write).
  virtual void WantFlush() = 0;
  // Bytes handed to Send and not yet taken by the kernel: above a high-water
  // mark the session stops framing until the owner calls Flush again.
  virtual size_t pending_output_bytes() const = 0;
  // A response head sent by StartStream went out: from now on the stream
  // `slot` carries a stream of events (AppendData, EndStream, ResetStream).
  virtual void OnStreamStarted(uint64_t slot) = 0;
  // Some of stream `slot`'s buffered bytes were framed: its buffer shrank.
  virtual void OnStreamDrained(uint64_t slot) = 0;
  // A started or watched stream (StartStream, Watch) is gone: ended, or
  // reset by either side. Not called when the whole session is destroyed.
  virtual void OnStreamClosed(uint64_t slot) = 0;
};

struct H2Options {
  Limits limits;                          // header_bytes: the header list; body_bytes
  uint32_t max_concurrent_streams = 128;  // SETTINGS_MAX_CONCURRENT_STREAMS
  uint64_t id = 0;                        // the connection's id, for the handler
};

class H2Session final : public Exchange {
 public:
  // REQUIRES: host and handler outlive the session.
  H2Session(H2Host* host, RequestHandler* handler, const H2Options& options);
  ~H2Session() override;
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;

  // Exchange
  uint64_t id() const override { return options_.id; }
  void Respond(uint64_t slot, const ResponseHead& head, std::string_view body) override;
  void StartStream(uint64_t slot, const ResponseHead& head) override;
  std::string_view protocol() const override { return "h2"; }

  // Bytes from the peer (after the connection preface was recognised, the
  // preface included). A protocol error queues a GOAWAY; the connection then
  // closes once it is sent.
  void OnData(std::string_view data);
  // The peer sent EOF.
  void OnEof();
  // Frames what is queued, as far as the host's output allows; closes the
  // connection when the session is over (GOAWAY exchanged, nothing left).
  void Flush();

  // A started stream's output: queued in its buffer, framed as the peer's
  // window allows. Ignored for an unknown or ended stream.
  void AppendData(uint64_t slot, std::string_view bytes);
  // Ends stream `slot` (END_STREAM) once its buffer is framed.
  void EndStream(uint64_t slot);
  // Resets stream `slot` now (RST_STREAM CANCEL), dropping its buffer.
  void ResetStream(uint64_t slot);
  // Stream `slot`'s bytes not yet framed (0 for an unknown stream).
  size_t stream_pending_bytes(uint64_t slot) const;
  // Whether stream `slot` is open (its request not answered, or answered
  // and still sending).
  bool has_stream(uint64_t slot) const { return Find(slot) != nullptr; }
  // Reports stream `slot`'s end to the host (OnStreamClosed) even if it is
  // never started: the host keeps state for it.
  void Watch(uint64_t slot);
  // Frames are waiting to be made (Flush would produce bytes).
  bool want_write() const;

  // No new streams (GOAWAY with the last stream id); open ones go on until
  // they end. The connection closes when the last one has.
  void Shutdown();
  // Requests that began and did not complete within the header timeout
  // since the previous call are answered 408 (the slowloris check; the owner
  // calls it every header_timeout_ms while incomplete_requests() > 0).
  void ExpireIncompleteRequests();

  size_t open_streams() const { return streams_.size(); }
  size_t incomplete_requests() const { return incomplete_; }
  uint64_t streams_total() const { return streams_total_; }
  bool closed() const { return closed_; }

 private:
  struct Stream;
  friend struct H2Callbacks;

  Stream* Find(uint64_t slot) const;
  // The request is as whole as it will get (END_STREAM, a limit, an answer).
  void MarkComplete(Stream* st);
  void DispatchCompleted();
  void SubmitHead(Stream* st, const ResponseHead& head, std::string_view body, bool streaming);
  void Fatal();

  H2Host* host_;
  RequestHandler* handler_;
  H2Options options_;
  nghttp2_session* ng_ = nullptr;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  // Collected inside nghttp2's callbacks, handed over after.
  std::vector<int32_t> completed_;        // requests that ended (END_STREAM)
  std::vector<uint64_t> closed_started_;  // started streams that closed
  std::vector<uint64_t> drained_;         // started streams whose buffer was framed
  bool in_library_ = false;               // inside nghttp2_session_mem_recv/send
  bool shutting_down_ = false;
  bool closed_ = false;
  uint64_t streams_total_ = 0;
  size_t incomplete_ = 0;  // open streams whose request is not complete
  std::string names_;      // scratch: lower-cased response header names
};

}  // namespace eventide::http

#endif  // EVENTIDE_SRC_HTTP_H2_SESSION_H_
