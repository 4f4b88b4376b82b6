// The pieces of the stream modes (load_stream.h) that their files share:
// the subscriber connection (StreamConn), the writer's connection
// (WriterConn) and the run that owns them and that they report to
// (StreamRun). Private to eventide-load: load_stream.cc implements the run,
// load_stream_conns.cc the connections.
//
// Everything here runs on the run's one loop thread. The run owns every
// connection (unique_ptr in its vectors) and outlives the loop; a
// connection holds a pointer to the run and to the Endpoint it connects to,
// which the run fills before it makes the connections and never resizes.
#ifndef EVENTIDE_TOOLS_LOAD_STREAM_RUN_H_
#define EVENTIDE_TOOLS_LOAD_STREAM_RUN_H_

#include <llhttp.h>
#include <sys/socket.h>
#include <uv.h>

#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tools/delivery_check.h"
#include "tools/load_common.h"
#include "tools/load_stream.h"

namespace eventide::load {

inline bool StartsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

// Leading decimal digits of s; false when there are none.
inline bool ParseU64(std::string_view s, uint64_t* v) {
  uint64_t r = 0;
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i < 20) r = r * 10 + (s[i++] - '0');
  *v = r;
  return i > 0;
}

// Bytes handed to uv_write by a subscriber (handshake, Pong, Close): rare,
// so each owns its buffer and is freed in its callback.
struct WriteReq {
  uv_write_t req;
  std::string buf;
};

class H2ClientConn;
class StreamRun;

// A URL the run connects to, resolved once before any connection opens.
struct Endpoint {
  Url url;
  struct sockaddr_storage addr;
  std::string sse_request;  // the SSE GET, the same for every subscriber here
};

// One subscriber (fanout) or held connection (idle). What it receives is
// parsed and checked here whatever carries it: its own HTTP/1.1 connection
// (tcp_), or, with --http2, one stream of an H2ClientConn that many
// subscribers share (load_h2.h). The transport only hands over the response
// head and the body's bytes; the SSE parser, the readiness notice, the
// latency samples and the delivery check are the same for both.
class StreamConn {
 public:
  enum class State : uint8_t { kNew, kConnecting, kHandshake, kOpen, kClosing, kClosed };

  // REQUIRES: *h2, when given, outlives this subscriber (the run owns both).
  StreamConn(StreamRun* run, const Endpoint* ep, H2ClientConn* h2 = nullptr)
      : run_(run), ep_(ep), h2_(h2) {}
  // HTTP/1.1: connects and sends the request. HTTP/2: opens a stream on the
  // shared connection (which connects on the first).
  void Connect();
  // Closes without counting anything (the end of the run).
  void Close();
  // Closes and reports the failure to the run.
  void Fail(const char* why);

  bool ready() const { return ready_; }
  bool live() const { return ready_ && state_ == State::kOpen; }
  State state() const { return state_; }
  const DeliveryCheck& check() const { return check_; }

  // From the H2ClientConn carrying this subscriber, for its stream: a field
  // of the response head, the end of the head, body bytes (read at now_us).
  void OnH2Header(std::string_view name, std::string_view value);
  void OnH2HeadEnd();
  void OnH2Body(std::string_view data, int64_t now_us);

 private:
  friend class StreamRun;
  friend class H2ClientConn;
  void OnConnected(int status);
  void OnRead(ssize_t n, const uv_buf_t* buf);
  // Bytes received (now_us_ set): buffered with an incomplete tail, parsed.
  void OnBytes(std::string_view data);
  // Parses what `data` holds; returns the bytes used (the rest is an
  // incomplete line or frame).
  size_t Consume(std::string_view data);
  bool CheckHead(std::string_view head);
  size_t ConsumeSse(std::string_view data);
  void DispatchSse();
  size_t ConsumeWs(std::string_view data);
  void OnWsText(std::string_view text);
  void SendFrame(uint8_t opcode, std::string_view payload);
  void Send(std::string bytes);
  void Deliver(uint64_t pos, int64_t sent_us);

  StreamRun* run_;
  const Endpoint* ep_;       // the --url it subscribes to
  std::string auth_header_;  // "Authorization: Bearer …\r\n" with --jwt-secret
  State state_ = State::kNew;
  bool ready_ = false;  // its first notice (connected / subscribed) arrived
  bool nchan_ = false;  // the server is Nchan (StreamOptions::nchan_pub_path)
  // HTTP/2: the connection carrying it and its stream there (0: none yet,
  // or detached after it closed); the response head's status and whether
  // its content-type is text/event-stream. nullptr: HTTP/1.1 over tcp_.
  H2ClientConn* h2_;
  int32_t h2_stream_id_ = 0;
  int h2_status_ = 0;
  bool h2_event_stream_ = false;
  uv_tcp_t tcp_;
  uv_connect_t connect_req_;
  std::string in_;   // bytes of an incomplete line or frame
  std::string msg_;  // a fragmented WebSocket message being reassembled
  uint8_t msg_opcode_ = 0;
  char accept_[29] = {};  // the Sec-WebSocket-Accept we expect
  int64_t now_us_ = 0;    // receive time of the bytes being parsed

  // The SSE event being parsed.
  enum class SseKind : uint8_t { kMessage, kUpdate, kDelete, kPublish, kOther };
  SseKind sse_kind_ = SseKind::kMessage;
  bool sse_has_id_ = false;
  bool sse_connected_ = false;
  uint64_t sse_id_ = 0;
  int64_t sse_sent_us_ = -1;

  DeliveryCheck check_;
};

// A keep-alive connection of the writer: pipelined PUTs, responses parsed by
// llhttp for their status and Event-Position.
class WriterConn {
 public:
  WriterConn(StreamRun* run, int index, int max_in_flight)
      : run_(run),
        index_(index),
        sent_at_(static_cast<size_t>(max_in_flight)),
        seq_at_(static_cast<size_t>(max_in_flight)) {}
  void Connect();
  void Close();
  void Fail(const char* why);
  // Appends one PUT stamped with the current time; Flush() writes it.
  void Issue(uint64_t seq);
  void Flush();

  bool connected() const { return connected_ && !closing_; }
  bool closed() const { return closed_; }
  int in_flight() const { return static_cast<int>(in_flight_); }

 private:
  friend class StreamRun;
  void OnConnected(int status);
  void OnRead(ssize_t n, const uv_buf_t* buf);

  StreamRun* run_;
  int index_;
  uv_tcp_t tcp_;
  uv_connect_t connect_req_;
  uv_write_t write_req_;
  llhttp_t parser_;
  bool connected_ = false, closing_ = false, closed_ = true, writing_ = false;
  std::string out_, writing_buf_;
  // Send times of the requests in flight, a ring (answers come in order).
  std::vector<int64_t> sent_at_;
  std::vector<uint64_t> seq_at_;  // and their sequence numbers (Nchan runs)
  size_t head_ = 0, in_flight_ = 0;
  // The response being parsed.
  std::string field_, value_;
  uint64_t position_ = 0;
  bool has_position_ = false;
  bool message_done_ = false;
};

class StreamRun {
 public:
  StreamRun(const StreamOptions& o, bool fanout) : o_(o), fanout_(fanout) {}
  int Run();

  // From the connections.
  void OnReady(StreamConn* c);
  void OnConnFailed(StreamConn* c, bool was_ready, const char* why);
  void OnDelivery(int64_t now_us, int64_t sent_us) {
    ++deliveries_;
    if (now_us >= measure_start_us_ && now_us < measure_end_us_) ++measured_deliveries_;
    if (sent_us >= measure_start_us_ && sent_us < measure_end_us_) {
      latency_.Record(now_us - sent_us);
    }
  }
  void OnAck(int status, bool has_position, uint64_t position, int64_t sent_us);
  void OnWriterFailed(WriterConn* w, const char* why);
  uint32_t Random32() {
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return static_cast<uint32_t>(rng_);
  }

  const StreamOptions& o_;
  uv_loop_t loop_;
  // One per --url, in order; filled before the subscribers that point into
  // it are made, and never resized after.
  std::vector<Endpoint> endpoints_;
  Endpoint writer_ep_;  // --write-url
  llhttp_settings_t writer_settings_;
  std::string put_prefix_;   // "PUT /app/table/w"
  std::string content_;      // the records' "content": --payload-bytes of 'x'
  std::string put_headers_;  // " HTTP/1.1\r\nHost: …\r\nContent-Length: "

 private:
  enum class Phase { kConnecting, kWriting, kDraining, kHolding, kDone };
  static bool Resolve(const Url& u, Endpoint* ep);
  std::string UrlsText() const;
  std::string WriterText() const;
  void StartConnects();
  void Tick();
  void Pace(int64_t now);
  void AllConnected(int64_t now);
  void Finish();
  int Report();

  bool fanout_;
  Phase phase_ = Phase::kConnecting;
  uv_timer_t timer_;
  uv_signal_t sigint_;
  uint64_t rng_ = 0x9e3779b97f4a7c15ull;

  // --http2: the connections carrying the subscribers, --h2-connections
  // per endpoint in endpoints_ order. Declared before conns_, so destroyed
  // after them.
  std::vector<std::unique_ptr<H2ClientConn>> h2_conns_;
  std::vector<std::unique_ptr<StreamConn>> conns_;
  size_t next_to_connect_ = 0;
  int connecting_ = 0;      // between Connect() and ready / failure
  size_t resolved_ = 0;     // ready or failed
  size_t ready_count_ = 0;  // ever ready
  bool starting_connects_ = false;
  bool no_more_connects_ = false;
  uint64_t connect_failures_ = 0, disconnects_ = 0;
  std::map<std::string, uint64_t> errors_;
  int64_t connect_start_us_ = 0, connected_us_ = 0;

  // Writer (fanout).
  std::vector<std::unique_ptr<WriterConn>> writers_;
  size_t next_writer_ = 0;
  int in_flight_ = 0;
  uint64_t issued_ = 0, acked_total_ = 0, acked_measured_ = 0, write_errors_ = 0;
  std::vector<uint64_t> acked_;  // in answer order; sorted for the report
  uint64_t max_acked_ = 0;
  Histogram ack_latency_;
  int64_t write_start_us_ = 0, drain_start_us_ = 0, acks_done_us_ = 0, last_check_us_ = 0;
  int64_t measure_start_us_ = INT64_MAX, measure_end_us_ = INT64_MAX;
  int64_t end_us_ = 0;

  // Subscribers' side.
  uint64_t deliveries_ = 0, measured_deliveries_ = 0;
  Histogram latency_;

  // Idle.
  int64_t hold_end_us_ = 0;
  int64_t rss_before_ = -1, rss_connected_ = -1, rss_end_ = -1;
  // Fanout with --server-pid: the server's CPU ticks when the measured
  // window opened and when it closed (-1: not read).
  int64_t cpu_start_ticks_ = -1, cpu_end_ticks_ = -1;
};

}  // namespace eventide::load

#endif  // EVENTIDE_TOOLS_LOAD_STREAM_RUN_H_
