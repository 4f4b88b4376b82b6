// The fanout and idle modes of eventide-load: see load_stream.h and
// docs/LOAD.md.
//
// Subscriber i connects to --url number i % n; the writer to --write-url.
// Each URL is resolved once, at the start (an Endpoint).
//
// One loop, one timer (1 ms) driving the phases:
//
//   connecting ──all subscribers ready or failed──> writing (warm-up, then
//   the measured window) ──> draining ──every acked position received, or
//   the grace period over──> done           (idle: connecting → holding → done)
//
// Subscribers parse in place: bytes that end mid-line or mid-frame wait in
// the connection's own buffer, whose capacity is kept, so a delivery costs
// no allocation. Latencies go into a fixed histogram.
//
// Deliveries are checked by tools/delivery_check.h.
#include "tools/load_stream.h"

#include <llhttp.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <uv.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/auth/jwt_mint.h"
#include "tools/delivery_check.h"

namespace eventide::load {
namespace {

constexpr char kWsGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// A response head longer than this is not the server we expect.
constexpr size_t kMaxHeadBytes = 16 * 1024;
// The server's streams.ws_max_message_bytes is 1 MiB; allow headroom.
constexpr uint64_t kMaxWsMessageBytes = 16u << 20;
// In-flight PUTs still unanswered this long after the writing stopped are
// given up (counted as write errors) so the run always ends.
constexpr int64_t kAckTimeoutUs = 5'000'000;

bool StartsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

// Leading decimal digits of s; false when there are none.
bool ParseU64(std::string_view s, uint64_t* v) {
  uint64_t r = 0;
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i < 20) r = r * 10 + (s[i++] - '0');
  *v = r;
  return i > 0;
}

// The writer's send time, from `"title":"<µs>"` in an event's record; -1
// when absent (a delete, or a record someone else wrote).
int64_t SendTimeIn(std::string_view s) {
  static constexpr std::string_view kTitle = "\"title\":\"";
  size_t at = s.find(kTitle);
  uint64_t v;
  if (at == std::string_view::npos || !ParseU64(s.substr(at + kTitle.size()), &v)) return -1;
  return static_cast<int64_t>(v);
}

// The writer's sequence number, from `"seq":N` in a message (Nchan runs).
bool SeqIn(std::string_view s, uint64_t* seq) {
  static constexpr std::string_view kSeq = "\"seq\":";
  size_t at = s.rfind(kSeq);
  return at != std::string_view::npos && ParseU64(s.substr(at + kSeq.size()), seq);
}

// The value of header `lower_name` in a response head, trimmed; empty when
// absent.
std::string_view FindHeader(std::string_view head, std::string_view lower_name) {
  size_t line = head.find("\r\n");
  while (line != std::string_view::npos && line + 2 < head.size()) {
    size_t start = line + 2;
    size_t end = head.find("\r\n", start);
    if (end == std::string_view::npos) end = head.size();
    std::string_view l = head.substr(start, end - start);
    size_t colon = l.find(':');
    if (colon == lower_name.size()) {
      bool same = true;
      for (size_t i = 0; i < colon && same; ++i) {
        same = (l[i] | 0x20) == lower_name[i];
      }
      if (same) {
        std::string_view v = l.substr(colon + 1);
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
        return v;
      }
    }
    line = end;
  }
  return {};
}

std::string UrlText(const Url& u) {
  return "http://" + u.host + ":" + std::to_string(u.port) + u.path;
}

// s as a JSON string, quotes included.
std::string JsonQuoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof(esc), "\\u%04x", static_cast<unsigned>(c));
      out += esc;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

int64_t ReadRssBytes(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (StartsWith(line, "VmRSS:")) return std::atoll(line.c_str() + 6) * 1024;
  }
  return -1;
}

// Bytes handed to uv_write by a subscriber (handshake, Pong, Close): rare,
// so each owns its buffer and is freed in its callback.
struct WriteReq {
  uv_write_t req;
  std::string buf;
};

class StreamRun;

// A URL the run connects to, resolved once before any connection opens.
struct Endpoint {
  Url url;
  struct sockaddr_storage addr;
  std::string sse_request;  // the SSE GET, the same for every subscriber here
};

// One subscriber (fanout) or held connection (idle).
class StreamConn {
 public:
  enum class State : uint8_t { kNew, kConnecting, kHandshake, kOpen, kClosing, kClosed };

  StreamConn(StreamRun* run, const Endpoint* ep) : run_(run), ep_(ep) {}
  void Connect();
  // Closes without counting anything (the end of the run).
  void Close();
  // Closes and reports the failure to the run.
  void Fail(const char* why);

  bool ready() const { return ready_; }
  bool live() const { return ready_ && state_ == State::kOpen; }
  State state() const { return state_; }
  const DeliveryCheck& check() const { return check_; }

 private:
  friend class StreamRun;
  void OnConnected(int status);
  void OnRead(ssize_t n, const uv_buf_t* buf);
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
};

// ---- StreamConn ----------------------------------------------------------

void StreamConn::Connect() {
  uv_tcp_init(&run_->loop_, &tcp_);
  tcp_.data = this;
  connect_req_.data = this;
  state_ = State::kConnecting;
  int rc =
      uv_tcp_connect(&connect_req_, &tcp_, reinterpret_cast<const struct sockaddr*>(&ep_->addr),
                     [](uv_connect_t* req, int status) {
                       static_cast<StreamConn*>(req->data)->OnConnected(status);
                     });
  if (rc != 0) Fail("connect");
}

void StreamConn::OnConnected(int status) {
  if (state_ != State::kConnecting) return;  // closed meanwhile
  if (status != 0) {
    Fail("connect");
    return;
  }
  state_ = State::kHandshake;
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&tcp_),
      [](uv_handle_t*, size_t, uv_buf_t* buf) {
        // One loop thread: every read lands in the same slab and is parsed
        // (or its tail copied to the connection) before the next.
        static char slab[65536];
        *buf = uv_buf_init(slab, sizeof(slab));
      },
      [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
        static_cast<StreamConn*>(s->data)->OnRead(n, buf);
      });
  const Url& u = ep_->url;
  if (run_->o_.protocol == StreamProtocol::kSse) {
    if (auth_header_.empty()) {
      Send(ep_->sse_request);
    } else {
      std::string req = ep_->sse_request;
      req.insert(req.size() - 2, auth_header_);
      Send(std::move(req));
    }
    return;
  }
  unsigned char raw[16];
  for (int i = 0; i < 16; i += 4) {
    uint32_t r = run_->Random32();
    std::memcpy(raw + i, &r, 4);
  }
  RAND_bytes(raw, sizeof(raw));  // keeps the xorshift bytes if it fails
  char key[25];
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(key), raw, sizeof(raw));
  std::string concat = std::string(key) + kWsGuid;
  unsigned char sha[EVP_MAX_MD_SIZE];
  unsigned int sha_len = 0;
  EVP_Digest(concat.data(), concat.size(), sha, &sha_len, EVP_sha1(), nullptr);
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(accept_), sha, static_cast<int>(sha_len));
  std::string req = "GET " + u.path + " HTTP/1.1\r\nHost: " + u.host + ":" +
                    std::to_string(u.port) +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                    "\r\nSec-WebSocket-Version: 13\r\n" + auth_header_ + "\r\n";
  Send(std::move(req));
}

void StreamConn::OnRead(ssize_t n, const uv_buf_t* buf) {
  if (n == 0) return;
  if (n < 0) {
    Fail(n == UV_EOF ? "closed" : "reset");
    return;
  }
  now_us_ = NowMicros();
  std::string_view data(buf->base, static_cast<size_t>(n));
  const bool buffered = !in_.empty();
  if (buffered) {
    in_.append(data);
    data = in_;
  }
  size_t used = Consume(data);
  if (state_ != State::kHandshake && state_ != State::kOpen) return;
  if (buffered) {
    in_.erase(0, used);
  } else {
    in_.assign(data.substr(used));
  }
}

size_t StreamConn::Consume(std::string_view data) {
  size_t pos = 0;
  if (state_ == State::kHandshake) {
    size_t end = data.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      if (data.size() > kMaxHeadBytes) Fail("handshake");
      return 0;
    }
    if (!CheckHead(data.substr(0, end + 4))) {
      Fail("handshake");
      return 0;
    }
    state_ = State::kOpen;
    pos = end + 4;
    // Nchan says nothing when a subscription starts: the head is the sign.
    if (nchan_ && !ready_) run_->OnReady(this);
  }
  data.remove_prefix(pos);
  return pos + (run_->o_.protocol == StreamProtocol::kSse ? ConsumeSse(data) : ConsumeWs(data));
}

bool StreamConn::CheckHead(std::string_view head) {
  // "HTTP/1.1 200 OK": the status is at offset 9.
  uint64_t status = 0;
  if (!StartsWith(head, "HTTP/1.") || head.size() < 12 || !ParseU64(head.substr(9), &status)) {
    return false;
  }
  if (run_->o_.protocol == StreamProtocol::kSse) {
    // The stream is the raw body to the end of the connection (no
    // content-length, not chunked: docs/STREAMS.md).
    return status == 200 &&
           FindHeader(head, "content-type").find("text/event-stream") != std::string_view::npos;
  }
  return status == 101 && FindHeader(head, "sec-websocket-accept") == std::string_view(accept_);
}

size_t StreamConn::ConsumeSse(std::string_view data) {
  size_t pos = 0;
  for (;;) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string_view::npos) break;
    std::string_view line = data.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      DispatchSse();
      continue;
    }
    size_t colon = line.find(':');
    std::string_view field = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "data") {
      int64_t t = SendTimeIn(value);
      if (t >= 0) sse_sent_us_ = t;
      if (value.find("\"type\":\"connected\"") != std::string_view::npos) sse_connected_ = true;
      if (nchan_) {
        // Nchan: events have no name, and their id is Nchan's own; the
        // message carries the sequence number.
        sse_has_id_ = SeqIn(value, &sse_id_);
        if (sse_has_id_) sse_kind_ = SseKind::kPublish;
      }
    } else if (field == "id" && !nchan_) {
      sse_has_id_ = ParseU64(value, &sse_id_);
    } else if (field == "event") {
      sse_kind_ = value == "update"    ? SseKind::kUpdate
                  : value == "delete"  ? SseKind::kDelete
                  : value == "publish" ? SseKind::kPublish
                  : value == "message" ? SseKind::kMessage
                                       : SseKind::kOther;
    }
    // retry:, comments and unknown fields carry nothing we check.
  }
  return pos;
}

void StreamConn::DispatchSse() {
  if (sse_kind_ == SseKind::kUpdate || sse_kind_ == SseKind::kDelete ||
      sse_kind_ == SseKind::kPublish) {
    if (sse_has_id_) Deliver(sse_id_, sse_sent_us_);
  } else if (sse_kind_ == SseKind::kMessage && sse_connected_ && !ready_) {
    run_->OnReady(this);
  }
  sse_kind_ = SseKind::kMessage;
  sse_has_id_ = false;
  sse_connected_ = false;
  sse_sent_us_ = -1;
}

size_t StreamConn::ConsumeWs(std::string_view data) {
  size_t pos = 0;
  while (state_ == State::kOpen) {
    const size_t avail = data.size() - pos;
    if (avail < 2) break;
    const auto* b = reinterpret_cast<const uint8_t*>(data.data() + pos);
    const bool fin = (b[0] & 0x80) != 0;
    const uint8_t op = b[0] & 0x0f;
    if ((b[1] & 0x80) != 0) {  // RFC 6455 5.1: a server never masks
      Fail("ws_protocol");
      break;
    }
    uint64_t len = b[1] & 0x7f;
    size_t hdr = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = (uint64_t{b[2]} << 8) | b[3];
      hdr = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 2; i < 10; ++i) len = (len << 8) | b[i];
      hdr = 10;
    }
    if (len > kMaxWsMessageBytes) {
      Fail("ws_protocol");
      break;
    }
    if (avail < hdr + len) break;
    std::string_view payload = data.substr(pos + hdr, static_cast<size_t>(len));
    pos += hdr + static_cast<size_t>(len);
    switch (op) {
      case 0x9:  // Ping: the server closes a connection that does not answer
        SendFrame(0xA, payload);
        break;
      case 0xA:  // Pong
        break;
      case 0x8:  // Close: echo its code, then the server ends the connection
        SendFrame(0x8, payload.substr(0, std::min<size_t>(2, payload.size())));
        Fail("ws_close");
        break;
      case 0x1:
      case 0x2:
        if (fin) {
          if (op == 0x1) OnWsText(payload);
        } else {
          msg_opcode_ = op;
          msg_.assign(payload);
        }
        break;
      case 0x0:
        msg_.append(payload);
        if (msg_.size() > kMaxWsMessageBytes) {
          Fail("ws_protocol");
          break;
        }
        if (fin) {
          if (msg_opcode_ == 0x1) OnWsText(msg_);
          msg_.clear();
        }
        break;
      default:
        Fail("ws_protocol");
        break;
    }
  }
  return pos;
}

void StreamConn::OnWsText(std::string_view text) {
  if (nchan_) {  // the message as published
    uint64_t seq;
    if (SeqIn(text, &seq)) Deliver(seq, SendTimeIn(text));
    return;
  }
  static constexpr std::string_view kType = "{\"message_type\":\"";
  if (StartsWith(text, kType)) {
    std::string_view type = text.substr(kType.size());
    if (StartsWith(type, "Update\"") || StartsWith(type, "Delete\"") ||
        StartsWith(type, "Publish\"")) {
      // "seq" follows the data (which may hold any field), so look from the end.
      static constexpr std::string_view kSeq = ",\"seq\":";
      size_t at = text.rfind(kSeq);
      uint64_t seq;
      if (at != std::string_view::npos && ParseU64(text.substr(at + kSeq.size()), &seq)) {
        Deliver(seq, SendTimeIn(text));
      }
    }
    return;  // Synced, Retained, Reset: notices
  }
  if (!ready_ && text.find("\"type\":\"subscribed\"") != std::string_view::npos) {
    run_->OnReady(this);
  }
  // pong, ack, error: notices.
}

void StreamConn::Deliver(uint64_t pos, int64_t sent_us) {
  run_->OnDelivery(now_us_, sent_us);
  check_.Receive(pos);
}

void StreamConn::SendFrame(uint8_t opcode, std::string_view payload) {
  // Control frames only: payload ≤ 125 bytes (RFC 6455 5.5), masked.
  payload = payload.substr(0, std::min<size_t>(payload.size(), 125));
  std::string f(6 + payload.size(), '\0');
  f[0] = static_cast<char>(0x80 | opcode);
  f[1] = static_cast<char>(0x80 | payload.size());
  uint32_t mask = run_->Random32();
  std::memcpy(&f[2], &mask, 4);
  for (size_t i = 0; i < payload.size(); ++i)
    f[6 + i] = static_cast<char>(payload[i] ^ f[2 + i % 4]);
  Send(std::move(f));
}

void StreamConn::Send(std::string bytes) {
  auto* w = new WriteReq;
  w->buf = std::move(bytes);
  w->req.data = this;
  uv_buf_t b = uv_buf_init(w->buf.data(), static_cast<unsigned>(w->buf.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1,
                    [](uv_write_t* req, int status) {
                      auto* wr = reinterpret_cast<WriteReq*>(req);
                      auto* c = static_cast<StreamConn*>(req->data);
                      delete wr;
                      if (status != 0 && status != UV_ECANCELED) c->Fail("write");
                    });
  if (rc != 0) {
    delete w;  // the callback will not run
    Fail("write");
  }
}

void StreamConn::Close() {
  if (state_ == State::kNew || state_ == State::kClosing || state_ == State::kClosed) return;
  state_ = State::kClosing;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_),
           [](uv_handle_t* h) { static_cast<StreamConn*>(h->data)->state_ = State::kClosed; });
}

void StreamConn::Fail(const char* why) {
  if (state_ == State::kNew || state_ == State::kClosing || state_ == State::kClosed) return;
  Close();
  run_->OnConnFailed(this, ready_, why);
}

// ---- WriterConn ----------------------------------------------------------

void WriterConn::Connect() {
  closed_ = false;
  closing_ = false;
  connected_ = false;
  writing_ = false;
  head_ = in_flight_ = 0;
  out_.clear();
  uv_tcp_init(&run_->loop_, &tcp_);
  tcp_.data = this;
  connect_req_.data = this;
  write_req_.data = this;
  llhttp_init(&parser_, HTTP_RESPONSE, &run_->writer_settings_);
  parser_.data = this;
  int rc = uv_tcp_connect(&connect_req_, &tcp_,
                          reinterpret_cast<const struct sockaddr*>(&run_->writer_ep_.addr),
                          [](uv_connect_t* req, int status) {
                            static_cast<WriterConn*>(req->data)->OnConnected(status);
                          });
  if (rc != 0) Fail("connect");
}

void WriterConn::OnConnected(int status) {
  if (closing_) return;
  if (status != 0) {
    Fail("connect");
    return;
  }
  connected_ = true;
  uv_tcp_nodelay(&tcp_, 1);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&tcp_),
      [](uv_handle_t*, size_t, uv_buf_t* buf) {
        static char slab[65536];
        *buf = uv_buf_init(slab, sizeof(slab));
      },
      [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
        static_cast<WriterConn*>(s->data)->OnRead(n, buf);
      });
}

void WriterConn::Issue(uint64_t seq) {
  const int64_t now = NowMicros();
  // Eventide: PUT …/w<id> {"title":"<now>","content":"<content_>"}
  // Nchan:    POST /pub/… {"title":"<now>","content":"<content_>","seq":<seq>}
  static constexpr std::string_view kOpen = "{\"title\":\"", kMid = "\",\"content\":\"",
                                    kClose = "\"}", kSeqOpen = "\",\"seq\":";
  const bool nchan = !run_->o_.nchan_pub_path.empty();
  char time[24];
  int time_len = std::snprintf(time, sizeof(time), "%lld", static_cast<long long>(now));
  char seq_text[24];
  int seq_len =
      std::snprintf(seq_text, sizeof(seq_text), "%llu", static_cast<unsigned long long>(seq));
  const std::string& content = run_->content_;
  size_t len = kOpen.size() + static_cast<size_t>(time_len) + kMid.size() + content.size() +
               (nchan ? kSeqOpen.size() + static_cast<size_t>(seq_len) + 1 : kClose.size());
  char length[32];
  int length_len = std::snprintf(length, sizeof(length), "%zu\r\n\r\n", len);
  out_.append(run_->put_prefix_);
  if (!nchan) {
    char id[24];
    int id_len = std::snprintf(
        id, sizeof(id), "%llu",
        static_cast<unsigned long long>(seq % static_cast<uint64_t>(run_->o_.record_ids)));
    out_.append(id, static_cast<size_t>(id_len));
  }
  out_.append(run_->put_headers_);
  out_.append(length, static_cast<size_t>(length_len));
  out_.append(kOpen);
  out_.append(time, static_cast<size_t>(time_len));
  out_.append(kMid);
  out_.append(content);
  if (nchan) {
    out_.append(kSeqOpen);
    out_.append(seq_text, static_cast<size_t>(seq_len));
    out_.push_back('}');
  } else {
    out_.append(kClose);
  }
  sent_at_[(head_ + in_flight_) % sent_at_.size()] = now;
  seq_at_[(head_ + in_flight_) % seq_at_.size()] = seq;
  ++in_flight_;
}

void WriterConn::Flush() {
  if (!connected() || writing_ || out_.empty()) return;
  writing_ = true;
  writing_buf_.swap(out_);
  out_.clear();
  uv_buf_t b = uv_buf_init(writing_buf_.data(), static_cast<unsigned>(writing_buf_.size()));
  if (uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1,
               [](uv_write_t* w, int status) {
                 auto* c = static_cast<WriterConn*>(w->data);
                 c->writing_ = false;
                 if (status != 0) {
                   if (status != UV_ECANCELED) c->Fail("write");
                   return;
                 }
                 c->Flush();
               }) != 0) {
    writing_ = false;
    Fail("write");
  }
}

void WriterConn::OnRead(ssize_t n, const uv_buf_t* buf) {
  if (n == 0) return;
  if (n < 0) {
    Fail(n == UV_EOF ? "closed" : "reset");
    return;
  }
  std::string_view data(buf->base, static_cast<size_t>(n));
  while (!data.empty() && !closing_) {
    message_done_ = false;
    llhttp_errno_t err = llhttp_execute(&parser_, data.data(), data.size());
    size_t used = data.size();
    if (err == HPE_PAUSED) {
      used = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data.data());
      llhttp_resume(&parser_);
    } else if (err != HPE_OK) {
      Fail("parse");
      return;
    }
    data.remove_prefix(used);
    if (message_done_) {
      if (in_flight_ == 0) {
        Fail("parse");
        return;
      }
      int64_t sent = sent_at_[head_];
      if (!run_->o_.nchan_pub_path.empty()) {
        // Nchan stores messages in the order one connection sends them:
        // the writer's sequence number is the position.
        has_position_ = true;
        position_ = seq_at_[head_];
      }
      head_ = (head_ + 1) % sent_at_.size();
      --in_flight_;
      run_->OnAck(parser_.status_code, has_position_, position_, sent);
      has_position_ = false;
      if (!llhttp_should_keep_alive(&parser_)) {
        Fail("closed");
        return;
      }
    }
  }
}

void WriterConn::Close() {
  if (closed_ || closing_) return;
  closing_ = true;
  connected_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_),
           [](uv_handle_t* h) { static_cast<WriterConn*>(h->data)->closed_ = true; });
}

void WriterConn::Fail(const char* why) {
  if (closed_ || closing_) return;
  Close();
  run_->OnWriterFailed(this, why);
}

// ---- StreamRun -----------------------------------------------------------

bool StreamRun::Resolve(const Url& u, Endpoint* ep) {
  struct addrinfo hints = {};
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* res = nullptr;
  int rc = getaddrinfo(u.host.c_str(), std::to_string(u.port).c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    std::fprintf(stderr, "eventide-load: cannot resolve %s: %s\n", u.host.c_str(),
                 gai_strerror(rc));
    return false;
  }
  ep->url = u;
  std::memcpy(&ep->addr, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  ep->sse_request = "GET " + u.path + " HTTP/1.1\r\nHost: " + u.host + ":" +
                    std::to_string(u.port) + "\r\nAccept: text/event-stream\r\n\r\n";
  return true;
}

// "http://a:1/p", or "http://a:1/p, http://b:2/p" for several --url.
std::string StreamRun::UrlsText() const {
  std::string s;
  for (const Endpoint& ep : endpoints_) s += (s.empty() ? "" : ", ") + UrlText(ep.url);
  return s;
}

// Where the writer sends: --write-url, or Nchan's publisher location.
std::string StreamRun::WriterText() const {
  Url u = writer_ep_.url;
  if (!o_.nchan_pub_path.empty()) u.path = o_.nchan_pub_path;
  return UrlText(u);
}

int StreamRun::Run() {
  bool tls = o_.write_url.tls && fanout_;
  for (const Url& u : o_.urls) tls = tls || u.tls;
  if (o_.urls.empty() || tls) {
    std::fprintf(stderr, "eventide-load: fanout and idle speak http:// only\n");
    return 2;
  }
  if (!o_.nchan_pub_path.empty() && o_.writer_connections != 1) {
    std::fprintf(stderr,
                 "eventide-load: --nchan-pub needs --writers 1 (the sequence is the order)\n");
    return 2;
  }
  endpoints_.resize(o_.urls.size());
  for (size_t i = 0; i < o_.urls.size(); ++i) {
    if (!Resolve(o_.urls[i], &endpoints_[i])) return 2;
  }
  if (fanout_ && !Resolve(o_.write_url, &writer_ep_)) return 2;
  uv_loop_init(&loop_);
  RAND_bytes(reinterpret_cast<unsigned char*>(&rng_), sizeof(rng_));
  rng_ |= 1;  // xorshift must not start at 0
  const Url& wu = o_.write_url;
  const std::string host = wu.host + ":" + std::to_string(wu.port);
  std::string path = wu.path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  // A PUT is put_prefix_, the id's number, put_headers_, the body's length
  // and the body (WriterConn::Issue).
  put_prefix_ = o_.nchan_pub_path.empty() ? "PUT " + path + "/w" : "POST " + o_.nchan_pub_path;
  content_.assign(static_cast<size_t>(o_.payload_bytes), 'x');
  put_headers_ =
      " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nContent-Length: ";
  llhttp_settings_init(&writer_settings_);
  writer_settings_.on_header_field = [](llhttp_t* p, const char* at, size_t len) {
    static_cast<WriterConn*>(p->data)->field_.append(at, len);
    return 0;
  };
  writer_settings_.on_header_value = [](llhttp_t* p, const char* at, size_t len) {
    static_cast<WriterConn*>(p->data)->value_.append(at, len);
    return 0;
  };
  writer_settings_.on_header_value_complete = [](llhttp_t* p) {
    auto* w = static_cast<WriterConn*>(p->data);
    if (w->field_.size() == 14 && strncasecmp(w->field_.c_str(), "event-position", 14) == 0) {
      w->has_position_ = ParseU64(w->value_, &w->position_);
    }
    w->field_.clear();
    w->value_.clear();
    return 0;
  };
  writer_settings_.on_message_complete = [](llhttp_t* p) {
    static_cast<WriterConn*>(p->data)->message_done_ = true;
    return static_cast<int>(HPE_PAUSED);
  };

  if (o_.server_pid > 0) rss_before_ = ReadRssBytes(o_.server_pid);
  connect_start_us_ = NowMicros();
  if (fanout_) {
    const int per_conn = (o_.max_in_flight + o_.writer_connections - 1) / o_.writer_connections;
    for (int i = 0; i < o_.writer_connections; ++i) {
      writers_.push_back(std::make_unique<WriterConn>(this, i, per_conn));
      writers_.back()->Connect();
    }
    acked_.reserve(static_cast<size_t>(
                       o_.rate * static_cast<double>(o_.warmup_us + o_.duration_us) / 1e6 * 1.1) +
                   1024);
  }
  conns_.reserve(static_cast<size_t>(o_.connections));
  for (int i = 0; i < o_.connections; ++i) {
    // Round-robin over the --url values: with n nodes, node k serves
    // subscribers k, k+n, …, so each takes an equal share (±1).
    conns_.push_back(std::make_unique<StreamConn>(
        this, &endpoints_[static_cast<size_t>(i) % endpoints_.size()]));
    conns_.back()->nchan_ = o_.nchan;
    if (!o_.jwt_secret.empty()) {
      conns_.back()->auth_header_ =
          "Authorization: Bearer " +
          auth::MintHs256(o_.jwt_secret, R"({"sub":"user-)" + std::to_string(i) + R"("})") + "\r\n";
    }
  }
  StartConnects();

  uv_timer_init(&loop_, &timer_);
  timer_.data = this;
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<StreamRun*>(t->data)->Tick(); }, 1, 1);
  uv_signal_init(&loop_, &sigint_);
  sigint_.data = this;
  uv_signal_start(
      &sigint_, [](uv_signal_t* s, int) { static_cast<StreamRun*>(s->data)->Finish(); }, SIGINT);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
  return Report();
}

void StreamRun::StartConnects() {
  // Connect() may fail at once and call back here: the outer call goes on.
  if (starting_connects_) return;
  starting_connects_ = true;
  while (!no_more_connects_ && connecting_ < o_.connect_concurrency &&
         next_to_connect_ < conns_.size()) {
    ++connecting_;
    conns_[next_to_connect_++]->Connect();
  }
  starting_connects_ = false;
}

void StreamRun::OnReady(StreamConn* c) {
  c->ready_ = true;
  --connecting_;
  ++resolved_;
  ++ready_count_;
  StartConnects();
}

void StreamRun::OnConnFailed(StreamConn* c, bool was_ready, const char* why) {
  if (phase_ == Phase::kDone) return;
  ++errors_[why];
  if (!was_ready) {
    --connecting_;
    ++resolved_;
    ++connect_failures_;
    StartConnects();
  } else {
    ++disconnects_;
  }
}

void StreamRun::OnAck(int status, bool has_position, uint64_t position, int64_t sent_us) {
  --in_flight_;
  const int64_t now = NowMicros();
  if (status < 200 || status > 299 || !has_position) {
    ++write_errors_;
    ++errors_[has_position ? "status_" + std::to_string(status) : "no_position"];
    return;
  }
  ++acked_total_;
  acked_.push_back(position);
  max_acked_ = std::max(max_acked_, position);
  if (now >= measure_start_us_ && now < measure_end_us_) ++acked_measured_;
  if (sent_us >= measure_start_us_ && sent_us < measure_end_us_) ack_latency_.Record(now - sent_us);
  Pace(now);  // a freed slot may let a late write go
}

void StreamRun::OnWriterFailed(WriterConn* w, const char* why) {
  if (phase_ == Phase::kDone) return;
  ++errors_[std::string("writer_") + why];
  // Its unanswered PUTs will never be acknowledged.
  write_errors_ += w->in_flight_;
  in_flight_ -= static_cast<int>(w->in_flight_);
  w->in_flight_ = 0;
}

void StreamRun::Tick() {
  const int64_t now = NowMicros();
  switch (phase_) {
    case Phase::kConnecting:
      if (now - connect_start_us_ > o_.connect_timeout_us && !no_more_connects_) {
        no_more_connects_ = true;
        size_t never = conns_.size() - next_to_connect_;
        connect_failures_ += never;
        resolved_ += never;
        if (never) errors_["connect_timeout"] += never;
        for (auto& c : conns_) {
          if (!c->ready() && (c->state() == StreamConn::State::kConnecting ||
                              c->state() == StreamConn::State::kHandshake ||
                              c->state() == StreamConn::State::kOpen)) {
            c->Fail("connect_timeout");
          }
        }
      }
      if (resolved_ == conns_.size()) AllConnected(now);
      break;
    case Phase::kWriting:
      if (now >= measure_end_us_) {
        phase_ = Phase::kDraining;
        drain_start_us_ = now;
      } else {
        Pace(now);
      }
      break;
    case Phase::kDraining: {
      if (in_flight_ > 0 && now - drain_start_us_ > kAckTimeoutUs) {
        errors_["ack_timeout"] += static_cast<uint64_t>(in_flight_);
        write_errors_ += static_cast<uint64_t>(in_flight_);
        for (auto& w : writers_) w->Close();  // late answers must not count
        in_flight_ = 0;
      }
      if (in_flight_ > 0) break;
      if (acks_done_us_ == 0) acks_done_us_ = now;
      if (now - acks_done_us_ > o_.drain_us) {
        Finish();
        break;
      }
      if (now - last_check_us_ < 10'000) break;  // scanning 10,000 conns: not every ms
      last_check_us_ = now;
      bool all = true;
      for (auto& c : conns_) {
        if (c->live() && c->check().last() < max_acked_) {
          all = false;
          break;
        }
      }
      if (all) Finish();
      break;
    }
    case Phase::kHolding:
      if (now >= hold_end_us_) Finish();
      break;
    case Phase::kDone:
      break;
  }
}

void StreamRun::AllConnected(int64_t now) {
  connected_us_ = now;
  if (o_.server_pid > 0) rss_connected_ = ReadRssBytes(o_.server_pid);
  if (!fanout_) {
    phase_ = Phase::kHolding;
    hold_end_us_ = now + o_.hold_us;
    return;
  }
  if (ready_count_ == 0) {  // nobody to write for
    Finish();
    return;
  }
  phase_ = Phase::kWriting;
  write_start_us_ = now;
  measure_start_us_ = now + o_.warmup_us;
  measure_end_us_ = measure_start_us_ + o_.duration_us;
  Pace(now);
}

void StreamRun::Pace(int64_t now) {
  if (phase_ != Phase::kWriting || writers_.empty()) return;
  // Writes due so far on the schedule (the first at once); a backlog from a
  // full window is sent as slots free up.
  const uint64_t due =
      static_cast<uint64_t>(static_cast<double>(now - write_start_us_) * o_.rate / 1e6) + 1;
  const int per_conn = static_cast<int>(writers_[0]->sent_at_.size());
  bool any = false;
  while (issued_ < due && in_flight_ < o_.max_in_flight) {
    WriterConn* w = nullptr;
    for (size_t i = 0; i < writers_.size() && w == nullptr; ++i) {
      WriterConn* cand = writers_[(next_writer_ + i) % writers_.size()].get();
      if (cand->connected() && cand->in_flight() < per_conn) w = cand;
    }
    if (w == nullptr) break;
    next_writer_ = (static_cast<size_t>(w->index_) + 1) % writers_.size();
    w->Issue(++issued_);
    ++in_flight_;
    any = true;
  }
  if (any) {
    for (auto& w : writers_) w->Flush();
  }
  // A writer connection that dropped is reopened while writing goes on.
  for (auto& w : writers_) {
    if (w->closed()) w->Connect();
  }
}

void StreamRun::Finish() {
  if (phase_ == Phase::kDone) return;
  end_us_ = NowMicros();
  if (o_.server_pid > 0) rss_end_ = ReadRssBytes(o_.server_pid);
  phase_ = Phase::kDone;
  for (auto& c : conns_) c->Close();
  for (auto& w : writers_) w->Close();
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
}

int StreamRun::Report() {
  const char* proto = o_.protocol == StreamProtocol::kSse ? "sse" : "ws";
  const double connect_s =
      connected_us_ ? static_cast<double>(connected_us_ - connect_start_us_) / 1e6 : 0;
  std::string errs;
  for (auto& [kind, n] : errors_) {
    errs += (errs.empty() ? "\"" : ",\"") + kind + "\":" + std::to_string(n);
  }
  char buf[1024];
  if (!fanout_) {
    const int64_t per_conn =
        rss_before_ >= 0 && rss_connected_ >= 0 && ready_count_ > 0
            ? (rss_connected_ - rss_before_) / static_cast<int64_t>(ready_count_)
            : -1;
    const double held_s = hold_end_us_ ? static_cast<double>(end_us_ - connected_us_) / 1e6 : 0;
    if (o_.json) {
      std::snprintf(buf, sizeof(buf),
                    "{\"mode\":\"idle\",\"protocol\":\"%s\",\"connections\":%d,\"connected\":%zu,"
                    "\"connect_failures\":%llu,\"connect_seconds\":%.3f,\"hold_seconds\":%.3f,"
                    "\"disconnects\":%llu,\"server_pid\":%d,\"rss_before_bytes\":%lld,"
                    "\"rss_connected_bytes\":%lld,\"rss_end_bytes\":%lld,"
                    "\"rss_per_connection_bytes\":%lld,\"errors\":{%s}}",
                    proto, o_.connections, ready_count_,
                    static_cast<unsigned long long>(connect_failures_), connect_s, held_s,
                    static_cast<unsigned long long>(disconnects_), static_cast<int>(o_.server_pid),
                    static_cast<long long>(rss_before_), static_cast<long long>(rss_connected_),
                    static_cast<long long>(rss_end_), static_cast<long long>(per_conn),
                    errs.c_str());
      std::printf("%s\n", buf);
    } else {
      std::printf("idle %s %s: %zu of %d connected in %.3f s, held %.1f s\n", proto,
                  UrlsText().c_str(), ready_count_, o_.connections, connect_s, held_s);
      std::printf("  connect failures %llu, disconnects %llu\n",
                  static_cast<unsigned long long>(connect_failures_),
                  static_cast<unsigned long long>(disconnects_));
      if (o_.server_pid > 0) {
        std::printf(
            "  server RSS: %lld before, %lld connected, %lld at the end: %lld bytes per "
            "connection\n",
            static_cast<long long>(rss_before_), static_cast<long long>(rss_connected_),
            static_cast<long long>(rss_end_), static_cast<long long>(per_conn));
      }
      for (auto& [kind, n] : errors_) {
        std::printf("  error %s: %llu\n", kind.c_str(), static_cast<unsigned long long>(n));
      }
    }
    return connect_failures_ || disconnects_ ? 1 : 0;
  }

  std::sort(acked_.begin(), acked_.end());
  uint64_t missing = 0, dups = 0, ooo = 0, subs_missing = 0, subs_dups = 0, subs_ooo = 0;
  for (auto& c : conns_) {
    if (!c->ready()) continue;  // a connect failure, counted as such
    const DeliveryCheck& check = c->check();
    uint64_t m = check.Missing(acked_);
    missing += m;
    dups += check.duplicates();
    ooo += check.out_of_order();
    subs_missing += m > 0;
    subs_dups += check.duplicates() > 0;
    subs_ooo += check.out_of_order() > 0;
  }
  int64_t window_end = std::min(end_us_, measure_end_us_);
  double secs = measure_start_us_ != INT64_MAX && window_end > measure_start_us_
                    ? static_cast<double>(window_end - measure_start_us_) / 1e6
                    : 0;
  double write_rate = secs > 0 ? static_cast<double>(acked_measured_) / secs : 0;
  double delivery_rate = secs > 0 ? static_cast<double>(measured_deliveries_) / secs : 0;
  const uint64_t expected = acked_total_ * ready_count_;
  if (o_.json) {
    // "urls":[…],"write_url":"…", — what the run measured between.
    std::string urls_json = "\"urls\":[";
    for (size_t i = 0; i < endpoints_.size(); ++i) {
      urls_json += (i ? "," : "") + JsonQuoted(UrlText(endpoints_[i].url));
    }
    urls_json += "],\"write_url\":" + JsonQuoted(WriterText()) + ",";
    std::string s;
    // The URLs may be long: %s of urls_json must not be cut off.
    std::vector<char> head(urls_json.size() + 1024);
    std::snprintf(
        head.data(), head.size(),
        "{\"mode\":\"fanout\",\"protocol\":\"%s\",\"subscribers\":%d,\"connected\":%zu,"
        "%s\"connect_failures\":%llu,\"connect_seconds\":%.3f,\"target_rate\":%.1f,"
        "\"seconds\":%.3f,\"writes_sent\":%llu,\"acked_writes\":%llu,\"write_errors\":%llu,"
        "\"write_rate\":%.1f,\"deliveries\":%llu,\"expected_deliveries\":%llu,"
        "\"deliveries_per_second\":%.1f,",
        proto, o_.connections, ready_count_, urls_json.c_str(),
        static_cast<unsigned long long>(connect_failures_), connect_s, o_.rate, secs,
        static_cast<unsigned long long>(issued_), static_cast<unsigned long long>(acked_total_),
        static_cast<unsigned long long>(write_errors_), write_rate,
        static_cast<unsigned long long>(deliveries_), static_cast<unsigned long long>(expected),
        delivery_rate);
    s = head.data();
    s += "\"latency_ms\":" + latency_.Json() + ",\"ack_latency_ms\":" + ack_latency_.Json();
    std::snprintf(
        buf, sizeof(buf),
        ",\"missing\":%llu,\"duplicates\":%llu,\"out_of_order\":%llu,"
        "\"subscribers_missing\":%llu,\"subscribers_duplicates\":%llu,"
        "\"subscribers_out_of_order\":%llu,\"disconnects\":%llu,\"errors\":{",
        static_cast<unsigned long long>(missing), static_cast<unsigned long long>(dups),
        static_cast<unsigned long long>(ooo), static_cast<unsigned long long>(subs_missing),
        static_cast<unsigned long long>(subs_dups), static_cast<unsigned long long>(subs_ooo),
        static_cast<unsigned long long>(disconnects_));
    s += buf + errs + "}}";
    std::printf("%s\n", s.c_str());
  } else {
    std::printf("fanout %s %s: %zu of %d subscribers connected in %.3f s\n", proto,
                UrlsText().c_str(), ready_count_, o_.connections, connect_s);
    if (endpoints_.size() > 1 || WriterText() != UrlText(endpoints_[0].url)) {
      std::printf("  writer: %s\n", WriterText().c_str());
    }
    std::printf(
        "  writes: target %.1f/s, achieved %.1f/s over %.2f s; %llu sent, %llu acked, "
        "%llu errors\n",
        o_.rate, write_rate, secs, static_cast<unsigned long long>(issued_),
        static_cast<unsigned long long>(acked_total_),
        static_cast<unsigned long long>(write_errors_));
    std::printf("  ack latency ms: %s\n", ack_latency_.Text().c_str());
    std::printf("  deliveries: %llu (expected %llu), %.0f/s\n",
                static_cast<unsigned long long>(deliveries_),
                static_cast<unsigned long long>(expected), delivery_rate);
    std::printf("  end-to-end latency ms: %s\n", latency_.Text().c_str());
    std::printf(
        "  missing %llu (%llu subscribers), duplicates %llu (%llu), out of order %llu "
        "(%llu)\n",
        static_cast<unsigned long long>(missing), static_cast<unsigned long long>(subs_missing),
        static_cast<unsigned long long>(dups), static_cast<unsigned long long>(subs_dups),
        static_cast<unsigned long long>(ooo), static_cast<unsigned long long>(subs_ooo));
    std::printf("  connect failures %llu, disconnects %llu\n",
                static_cast<unsigned long long>(connect_failures_),
                static_cast<unsigned long long>(disconnects_));
    for (auto& [kind, n] : errors_) {
      std::printf("  error %s: %llu\n", kind.c_str(), static_cast<unsigned long long>(n));
    }
  }
  bool fault = connect_failures_ || disconnects_ || missing || dups || ooo || write_errors_ ||
               (o_.rate > 0 && acked_total_ == 0);
  return fault ? 1 : 0;
}

}  // namespace

int RunFanout(const StreamOptions& o) {
  StreamRun run(o, true);
  return run.Run();
}

int RunIdle(const StreamOptions& o) {
  StreamRun run(o, false);
  return run.Run();
}

}  // namespace eventide::load
