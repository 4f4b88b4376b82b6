// The connections of the stream modes: a subscriber (StreamConn: SSE or
// WebSocket over its own HTTP/1.1 connection) and a writer connection
// (WriterConn: pipelined PUTs). See load_stream_run.h.
//
// Subscribers parse in place: bytes that end mid-line or mid-frame wait in
// the connection's own buffer, whose capacity is kept, so a delivery costs
// no allocation.
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <strings.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "tools/load_common.h"
#include "tools/load_h2.h"
#include "tools/load_stream_run.h"

namespace eventide::load {
namespace {

constexpr char kWsGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// A response head longer than this is not the server we expect.
constexpr size_t kMaxHeadBytes = 16 * 1024;
// The server's streams.ws_max_message_bytes is 1 MiB; allow headroom.
constexpr uint64_t kMaxWsMessageBytes = 16u << 20;

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

}  // namespace

// ---- StreamConn ----------------------------------------------------------

void StreamConn::Connect() {
  if (h2_ != nullptr) {
    state_ = State::kHandshake;  // until the response head
    h2_->Open(this);
    return;
  }
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
  StartReading(&tcp_, [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
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
  OnBytes(std::string_view(buf->base, static_cast<size_t>(n)));
}

void StreamConn::OnBytes(std::string_view data) {
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
  if (h2_ != nullptr) {
    // Its stream only: the connection carries others.
    state_ = State::kClosed;
    h2_->Cancel(this);
    return;
  }
  state_ = State::kClosing;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_),
           [](uv_handle_t* h) { static_cast<StreamConn*>(h->data)->state_ = State::kClosed; });
}

void StreamConn::Fail(const char* why) {
  if (state_ == State::kNew || state_ == State::kClosing || state_ == State::kClosed) return;
  Close();
  run_->OnConnFailed(this, ready_, why);
}

void StreamConn::OnH2Header(std::string_view name, std::string_view value) {
  if (name == ":status") {
    uint64_t status = 0;
    h2_status_ = ParseU64(value, &status) ? static_cast<int>(status) : 0;
  } else if (name == "content-type") {
    h2_event_stream_ = value.find("text/event-stream") != std::string_view::npos;
  }
}

void StreamConn::OnH2HeadEnd() {
  if (state_ != State::kHandshake) return;
  // As CheckHead for HTTP/1.1: the stream is the DATA of this one response.
  if (h2_status_ != 200 || !h2_event_stream_) {
    Fail("handshake");
    return;
  }
  state_ = State::kOpen;
}

void StreamConn::OnH2Body(std::string_view data, int64_t now_us) {
  if (state_ != State::kOpen) return;
  now_us_ = now_us;
  OnBytes(data);
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
  StartReading(&tcp_, [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
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

}  // namespace eventide::load
