// Bytes from a peer through the whole HTTP/2 connection state machine
// (http::H2Session over nghttp2: framing, HPACK, flow control, limits,
// GOAWAY), with a host that collects the frames and a handler that answers
// some requests at once, holds others for later, and turns others into event
// streams (StartStream, then AppendData / EndStream / ResetStream over later
// turns, more data when a stream drains), as the server does with SSE.
//
// Input: byte 0 says how the rest is fed: bits 0-5 the chunk size (1 + the
// value; 63: the whole input at once), bit 6 a slow socket (the kernel takes
// 16 KiB every fourth turn, so the session meets its high-water mark), bit 7 set: the
// input is sent as it is, without the client preface put in front of it.
// Byte 1 seeds the handler's choices; with its bit 7 set the server also
// shuts down (GOAWAY, open streams finish) at some turn. The client's bytes
// follow (the preface excluded unless bit 7 of byte 0 is set).
//
// Invariants: no crash, no ASan/UBSan report; the handler sees each stream's
// request once, complete and within the limits, and nothing after the
// connection closed; OnStreamStarted only inside StartStream, OnStreamDrained
// and OnStreamClosed only for streams the host started or watched, closed at
// most once and gone after; nothing sent after Close. The output is whole
// frames of at most 16384 bytes, the server's SETTINGS first, no PUSH_PROMISE
// or PRIORITY; HEADERS once per (odd) stream and HPACK-decodable to a
// :status first and lower-case, connection-free names; DATA only after them
// and nothing after END_STREAM or RST_STREAM, a RST_STREAM NO_ERROR only after
// a whole answer; each stream's DATA is a prefix
// of the bytes the handler gave it (all of them once it ended), a
// Content-Length equal to that body (none on a stream); no DATA on the
// answer to a HEAD, even when the handler gave a body; a response only for
// a request the handler answered, with its status. A GOAWAY with an error
// code is the last frame, and the connection is closed once it is sent; the
// connection closes only after a GOAWAY (either side's) or bytes that are not
// HTTP/2.
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "src/http/h2_session.h"
#include "src/http/response.h"

namespace {

using eventide::http::Exchange;
using eventide::http::H2Host;
using eventide::http::H2Options;
using eventide::http::H2Session;
using eventide::http::Request;
using eventide::http::ResponseHead;

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// Body bytes the handler hands over per input, at most: bounds time and memory.
constexpr size_t kMaxBodyBytes = 2 << 20;
constexpr size_t kBodyLimit = 4096;    // limits.body_bytes (also the initial window)
constexpr size_t kHeaderLimit = 1024;  // limits.header_bytes

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "h2_session_fuzzer: check failed: %s\n", what);
    std::abort();
  }
}

// Byte `i` of the body of stream `slot`: position-dependent, so a byte lost,
// repeated or moved shows.
char BodyByte(uint64_t slot, size_t i) {
  return static_cast<char>((i * 7 + i / 251 + slot * 13) & 0xff);
}

// What the handler did with one stream's request.
struct Slot {
  int mode = 0;
  bool answered = false;   // Respond or StartStream called
  bool streaming = false;  // StartStream
  bool watched = false;    // Watch
  bool ended = false;      // EndStream or ResetStream called
  bool closed = false;     // OnStreamClosed heard
  bool bodiless = false;   // 204 or 304: the body given is not sent
  bool head = false;       // a HEAD: the body given is not sent, its length is
  int status = 0;
  std::string expected;   // the body bytes the session took for it
  int64_t declared = -1;  // the content-length it should state
};

// Handler modes, by request.
enum Mode {
  kAnswerNow,        // 200 with a body of 0..70000 bytes, at once
  kHold,             // answered in a later turn
  kStreamEnd,        // StartStream at once, data over turns, EndStream
  kStreamReset,      // StartStream at once, data over turns, ResetStream
  kBodiless,         // 204 or 304 at once, with a body that must not be sent
  kWatchThenDecide,  // Watch, then StartStream or Respond in a later turn
  kHoldThenDrop,     // ResetStream without an answer, or a 503, later
  kFirehose,         // StartStream at once, 32..64 KiB every turn (the high-water mark)
  kModes
};

uint32_t Be(const uint8_t* p, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

// Whether `bytes`, read as frames from the start, hold a GOAWAY.
bool HasGoaway(std::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  for (size_t at = 0; at + 9 <= bytes.size(); at += 9 + Be(p + at, 3)) {
    if (p[at + 3] == 7) return true;
  }
  return false;
}

class Driver final : public H2Host, public eventide::http::RequestHandler {
 public:
  explicit Driver(uint32_t seed) : rng_(seed * 2654435761u + 1) {}

  // H2Host
  void Send(std::string_view bytes) override {
    Check(!closed, "Send after Close");
    out.append(bytes);
    unwritten += bytes.size();
    max_unwritten = std::max(max_unwritten, unwritten);
  }
  void Close() override {
    Check(!closed, "Close twice");
    // The session ends the connection after a GOAWAY, either side's, or when
    // the peer's bytes are not HTTP/2 (inside OnData). Anything else is a
    // failure of the session's own (nghttp2_session_send failing).
    Check(in_on_data || peer_goaway || HasGoaway(out), "the connection closed without a GOAWAY");
    closed = true;
  }
  void WantFlush() override { want_flush = true; }
  size_t pending_output_bytes() const override { return unwritten; }
  void OnStreamStarted(uint64_t slot) override {
    Check(slot == starting_, "OnStreamStarted outside StartStream for that stream");
    started_heard_ = true;
    // The server starts the stream's transport here, which writes at once
    // (the SSE preamble).
    if (Rand() % 2 == 0) Append(slot, 1 + Rand() % 64);
  }
  void OnStreamDrained(uint64_t slot) override {
    auto it = slots.find(slot);
    Check(it != slots.end() && it->second.streaming, "OnStreamDrained for a stream not started");
    Check(!it->second.closed, "OnStreamDrained after OnStreamClosed");
    Check(session->has_stream(slot), "OnStreamDrained for a stream that is gone");
    // A subscriber catching up writes more when its buffer drains.
    if (Rand() % 4 == 0) Append(slot, 1 + Rand() % 2048);
  }
  void OnStreamClosed(uint64_t slot) override {
    auto it = slots.find(slot);
    Check(it != slots.end() && (it->second.streaming || it->second.watched),
          "OnStreamClosed for a stream neither started nor watched");
    Check(!it->second.closed, "OnStreamClosed twice");
    it->second.closed = true;
    Check(!session->has_stream(slot), "a closed stream is still there");
    // What a stream's owner may do as it goes: ignored, and harmless.
    session->AppendData(slot, "late");
    session->EndStream(slot);
    Check(session->stream_pending_bytes(slot) == 0, "a closed stream holds bytes");
  }

  // RequestHandler
  void OnRequest(Exchange* exchange, uint64_t slot, Request& req) override {
    Check(exchange == session, "a request from another exchange");
    Check(!closed, "a request after Close");
    Check(slot % 2 == 1, "a request on an even stream");
    Check(slots.count(slot) == 0, "a stream's request handed over twice");
    Check(!req.method.empty() && !req.target.empty(), "a request without :method or :path");
    Check(req.path == req.target.substr(0, req.target.find('?')), "path is not the target's");
    Check(req.body.size() <= kBodyLimit, "a body over the limit");
    Slot& s = slots[slot];
    s.mode = static_cast<int>(((seed_byte_ & 127) + requests++) % kModes);
    s.head = req.method == "HEAD";
    switch (s.mode) {
      case kAnswerNow:
        Answer(slot, 200, BodySize());
        break;
      case kStreamEnd:
      case kStreamReset:
      case kFirehose:
        Start(slot);
        break;
      case kBodiless:
        Answer(slot, Rand() % 2 == 0 ? 204 : 304, 1 + Rand() % 100);
        break;
      case kWatchThenDecide:
        s.watched = true;
        session->Watch(slot);
        break;
      default:
        break;  // held
    }
  }

  // One loop turn after bytes were read: the kernel takes output, held
  // answers and stream data go out, timers fire.
  void Turn(bool slow) {
    // A slow socket takes 16 KiB every fourth turn and nothing otherwise.
    const size_t taken = !slow ? unwritten : ++turns_ % 4 == 0 ? 16384 : 0;
    unwritten -= std::min(unwritten, taken);
    std::vector<uint64_t> live;
    for (auto& [slot, s] : slots) {
      if (!s.closed && !s.ended) live.push_back(slot);
    }
    for (uint64_t slot : live) Act(slot);
    if (const uint64_t any = Rand() % 64;
        Rand() % 16 == 0 && slots.count(any) == 0 && !session->has_stream(any)) {
      // Calls for a stream that does not exist (yet, or any more): ignored.
      session->AppendData(any, "x");
      session->EndStream(any);
      session->ResetStream(any);
      ResponseHead head;
      session->Respond(any, head, "nobody asked");
      session->StartStream(any, head);
      Check(session->stream_pending_bytes(any) == 0, "bytes for a stream that does not exist");
    }
    // The slowloris check: two calls answer a request 408 that stayed
    // incomplete between them.
    if (Rand() % 32 == 0) session->ExpireIncompleteRequests();
    if ((seed_byte_ & 128) != 0 && Rand() % 16 == 0) session->Shutdown();
    FlushIfWanted();
  }

  // At the end: everything the handler holds is answered or ended, and the
  // output is drained as far as the peer's windows let it.
  void Finish() {
    for (int round = 0; round < 64 && !closed; ++round) {
      unwritten = 0;
      std::vector<uint64_t> live;
      for (auto& [slot, s] : slots) {
        if (!s.closed && !s.ended) live.push_back(slot);
      }
      for (uint64_t slot : live) {
        Slot& s = slots[slot];
        if (s.streaming) {
          s.ended = true;
          session->EndStream(slot);
        } else if (!s.answered) {
          Answer(slot, 200, 5);
        }
      }
      const size_t before = out.size();
      want_flush = false;
      session->Flush();
      if (closed || (out.size() == before && !want_flush && !session->want_write())) break;
    }
  }

  void FlushIfWanted() {
    if (want_flush && !closed) {
      want_flush = false;
      session->Flush();
    }
  }

  uint32_t Rand() {
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 17;
    rng_ ^= rng_ << 5;
    return rng_;
  }

  H2Session* session = nullptr;
  std::string out;
  bool in_on_data = false;   // inside H2Session::OnData
  bool peer_goaway = false;  // the peer's bytes hold a GOAWAY frame
  size_t unwritten = 0;      // sent and not yet taken by the "kernel"
  size_t max_unwritten = 0;
  bool closed = false;
  bool want_flush = false;
  std::map<uint64_t, Slot> slots;
  uint64_t requests = 0;
  uint8_t seed_byte_ = 0;

 private:
  size_t BodySize() {
    switch (Rand() % 8) {
      case 0:
        return 0;
      case 1:
        return 16384 + Rand() % 60000;  // beyond the default window of 65535
      default:
        return 1 + Rand() % 300;
    }
  }

  std::string Body(uint64_t slot, size_t from, size_t n) {
    if (body_bytes_ + n > kMaxBodyBytes)
      n = body_bytes_ < kMaxBodyBytes ? kMaxBodyBytes - body_bytes_ : 0;
    body_bytes_ += n;
    std::string b(n, '\0');
    for (size_t i = 0; i < n; ++i) b[i] = BodyByte(slot, from + i);
    return b;
  }

  void Answer(uint64_t slot, int status, size_t n) {
    Slot& s = slots[slot];
    const bool open = session->has_stream(slot);
    ResponseHead head;
    head.status = status;
    head.headers.push_back({"x-slot", std::to_string(slot)});
    // Not for HTTP/2: dropped. Upper case: lower-cased.
    head.headers.push_back({"Connection", "keep-alive"});
    head.headers.push_back({"X-Mode", std::to_string(s.mode)});
    head.raw_headers = "x-raw: 1\r\nTransfer-Encoding: chunked\r\n";
    // A HEAD is answered with the body a GET would get, or none with the
    // length stated (as the REST reads do), by turns.
    std::string body = Body(slot, 0, n);
    if (s.head && Rand() % 2 == 0) {
      head.content_length = static_cast<int64_t>(body.size());
      body.clear();
    }
    s.status = status;
    s.bodiless = status == 204 || status == 304;
    if (open) {
      s.answered = true;
      s.expected = s.head ? std::string() : body;
      s.declared =
          head.content_length >= 0 ? head.content_length : static_cast<int64_t>(body.size());
    }
    session->Respond(slot, head, body);
  }

  void Start(uint64_t slot) {
    Slot& s = slots[slot];
    if (s.head) {
      // The server streams only GETs and POSTs: a HEAD's answer is a
      // response, never a stream.
      Answer(slot, 200, BodySize());
      return;
    }
    const bool open = session->has_stream(slot);
    ResponseHead head;
    head.headers.push_back({"content-type", "text/event-stream"});
    head.headers.push_back({"cache-control", "no-cache"});
    s.status = 200;
    if (open) {
      s.answered = true;
      s.streaming = true;
    }
    starting_ = slot;
    started_heard_ = false;
    session->StartStream(slot, head);
    starting_ = 0;
    Check(started_heard_ == open,
          "StartStream on an open stream did not start it (or did on a gone one)");
  }

  void Append(uint64_t slot, size_t n) {
    Slot& s = slots[slot];
    std::string b = Body(slot, s.expected.size(), n);
    if (b.empty()) return;
    if (s.streaming && !s.ended && !s.closed && session->has_stream(slot)) s.expected += b;
    session->AppendData(slot, b);
  }

  void Act(uint64_t slot) {
    Slot& s = slots[slot];
    const uint32_t r = Rand() % 8;
    if (s.streaming && s.mode == kFirehose) {
      Append(slot, 32768 + Rand() % 32768);
      if (r == 0 && Rand() % 8 == 0) {
        s.ended = true;
        session->EndStream(slot);
      } else if (r == 1 && Rand() % 8 == 0) {
        // Reset while its frames may wait at the high-water mark (a
        // subscriber aborted: the stall timeout, a token running out).
        s.ended = true;
        session->ResetStream(slot);
      }
      return;
    }
    if (s.streaming) {
      if (r < 4) {
        Append(slot, r == 0 ? 16384 + Rand() % 20000 : 1 + Rand() % 200);
      } else if (r == 4 && s.mode != kStreamReset) {
        s.ended = true;
        session->EndStream(slot);
      } else if (r == 4) {
        s.ended = true;
        session->ResetStream(slot);
      }
      return;
    }
    if (s.answered || r >= 4) return;
    switch (s.mode) {
      case kHold:
        Answer(slot, 200, BodySize());
        break;
      case kWatchThenDecide:
        if (r < 2) {
          Start(slot);
        } else {
          Answer(slot, 201, BodySize());
        }
        break;
      case kHoldThenDrop:
        if (r < 2) {
          s.ended = true;
          session->ResetStream(slot);
        } else {
          s.status = 503;
          if (session->has_stream(slot)) {
            s.answered = true;
            const std::string error = eventide::http::ErrorBody("overloaded", "later");
            s.expected = s.head ? std::string() : error;
            s.declared = static_cast<int64_t>(error.size());
          }
          session->RespondError(slot, 503, "overloaded", "later");
        }
        break;
      default:
        break;
    }
  }

  uint32_t rng_;
  uint64_t turns_ = 0;
  uint64_t starting_ = 0;
  bool started_heard_ = false;
  size_t body_bytes_ = 0;
};

// What the frames in the output said about one stream.
struct Rx {
  bool headers = false;
  bool ended = false;  // END_STREAM
  bool reset = false;  // RST_STREAM
  int status = 0;
  int64_t content_length = -1;
  std::string data;
};

bool ConnectionSpecific(std::string_view n) {
  return n == "connection" || n == "keep-alive" || n == "proxy-connection" ||
         n == "transfer-encoding" || n == "upgrade";
}

void DecodeHeaders(nghttp2_hd_inflater* inflater, const std::string& block, Rx* rx) {
  const uint8_t* in = reinterpret_cast<const uint8_t*>(block.data());
  size_t left = block.size();
  bool first = true;
  for (;;) {
    nghttp2_nv nv;
    int flags = 0;
    const ssize_t rv = nghttp2_hd_inflate_hd2(inflater, &nv, &flags, in, left, 1);
    Check(rv >= 0, "a server header block does not decode");
    in += rv;
    left -= static_cast<size_t>(rv);
    if (flags & NGHTTP2_HD_INFLATE_EMIT) {
      std::string_view name(reinterpret_cast<const char*>(nv.name), nv.namelen);
      std::string_view value(reinterpret_cast<const char*>(nv.value), nv.valuelen);
      if (first) {
        Check(name == ":status", "the first response header is not :status");
        Check(value.size() == 3 && value[0] >= '1' && value[0] <= '5', "a bad :status");
        rx->status = std::atoi(std::string(value).c_str());
      } else {
        Check(name.empty() || name[0] != ':', "a pseudo-header after :status");
      }
      first = false;
      for (char c : name) Check(!(c >= 'A' && c <= 'Z'), "an upper-case header name");
      Check(!ConnectionSpecific(name), "a connection-specific header over HTTP/2");
      if (name == "content-length") {
        Check(rx->content_length < 0, "two content-length headers");
        rx->content_length = std::strtoll(std::string(value).c_str(), nullptr, 10);
      }
    }
    if (flags & NGHTTP2_HD_INFLATE_FINAL) {
      nghttp2_hd_inflate_end_headers(inflater);
      break;
    }
    if (rv == 0 && left == 0) break;
  }
  Check(!first, "a response header block without :status");
}

// Reads the server's output as frames and checks them (see the top).
void CheckOutput(const Driver& d) {
  nghttp2_hd_inflater* inflater = nullptr;
  Check(nghttp2_hd_inflate_new(&inflater) == 0, "nghttp2_hd_inflate_new");
  std::map<uint32_t, Rx> rx;
  const auto* p = reinterpret_cast<const uint8_t*>(d.out.data());
  const size_t size = d.out.size();
  size_t at = 0;
  bool first = true;
  bool goaway_error = false;
  uint32_t continuing = 0;  // a header block waits for CONTINUATION on this stream
  bool continuing_end_stream = false;
  std::string block;
  while (at < size) {
    Check(size - at >= 9, "a partial frame header");
    const uint32_t len = Be(p + at, 3);
    const uint8_t type = p[at + 3];
    const uint8_t flags = p[at + 4];
    const uint32_t sid = Be(p + at + 5, 4) & 0x7fffffff;
    Check(len <= 16384, "a frame over 16384 bytes");
    Check(size - at - 9 >= len, "a partial frame");
    const uint8_t* payload = p + at + 9;
    Check(!goaway_error, "a frame after a GOAWAY with an error code");
    if (first)
      Check(type == NGHTTP2_SETTINGS && !(flags & NGHTTP2_FLAG_ACK),
            "the server's first frame is not SETTINGS");
    first = false;
    if (continuing != 0) {
      Check(type == NGHTTP2_CONTINUATION && sid == continuing, "a header block interrupted");
    }
    switch (type) {
      case NGHTTP2_DATA: {
        Check(sid != 0 && sid % 2 == 1, "DATA on stream 0 or an even stream");
        Check(!(flags & NGHTTP2_FLAG_PADDED), "padded DATA");
        Rx& r = rx[sid];
        Check(r.headers, "DATA before HEADERS");
        Check(!r.ended && !r.reset, "DATA after END_STREAM or RST_STREAM");
        r.data.append(reinterpret_cast<const char*>(payload), len);
        if (flags & NGHTTP2_FLAG_END_STREAM) r.ended = true;
        break;
      }
      case NGHTTP2_HEADERS: {
        Check(sid != 0 && sid % 2 == 1, "HEADERS on stream 0 or an even stream");
        Check(!(flags & (NGHTTP2_FLAG_PADDED | NGHTTP2_FLAG_PRIORITY)),
              "padded or prioritised HEADERS");
        Rx& r = rx[sid];
        Check(!r.headers, "a second HEADERS on a stream (the server sends no trailers)");
        Check(!r.reset, "HEADERS after RST_STREAM");
        r.headers = true;
        block.assign(reinterpret_cast<const char*>(payload), len);
        if (flags & NGHTTP2_FLAG_END_HEADERS) {
          DecodeHeaders(inflater, block, &r);
          if (flags & NGHTTP2_FLAG_END_STREAM) r.ended = true;
        } else {
          continuing = sid;
          continuing_end_stream = (flags & NGHTTP2_FLAG_END_STREAM) != 0;
        }
        break;
      }
      case NGHTTP2_CONTINUATION: {
        Check(continuing != 0 && sid == continuing, "a CONTINUATION without HEADERS");
        block.append(reinterpret_cast<const char*>(payload), len);
        if (flags & NGHTTP2_FLAG_END_HEADERS) {
          Rx& r = rx[sid];
          DecodeHeaders(inflater, block, &r);
          if (continuing_end_stream) r.ended = true;
          continuing = 0;
        }
        break;
      }
      case NGHTTP2_RST_STREAM: {
        Check(len == 4 && sid != 0, "a bad RST_STREAM");
        Rx& r = rx[sid];
        // NO_ERROR only asks the client to stop sending a request already
        // answered in full (RFC 9113 section 8.1).
        if (Be(payload, 4) == NGHTTP2_NO_ERROR) {
          Check(r.headers && r.ended, "RST_STREAM NO_ERROR before a complete answer");
        }
        r.reset = true;
        break;
      }
      case NGHTTP2_SETTINGS:
        Check(sid == 0, "SETTINGS on a stream");
        Check((flags & NGHTTP2_FLAG_ACK) ? len == 0 : len % 6 == 0, "a bad SETTINGS length");
        break;
      case NGHTTP2_PING:
        Check(sid == 0 && len == 8, "a bad PING");
        break;
      case NGHTTP2_GOAWAY:
        Check(sid == 0 && len >= 8, "a bad GOAWAY");
        if (Be(payload + 4, 4) != NGHTTP2_NO_ERROR) goaway_error = true;
        break;
      case NGHTTP2_WINDOW_UPDATE:
        Check(len == 4 && (Be(payload, 4) & 0x7fffffff) != 0, "a bad WINDOW_UPDATE");
        break;
      default:
        Check(false, "a frame the server never sends (PRIORITY, PUSH_PROMISE, unknown)");
    }
    at += 9 + len;
  }
  nghttp2_hd_inflate_del(inflater);

  for (const auto& [sid, r] : rx) {
    if (!r.headers) continue;
    auto it = d.slots.find(sid);
    if (it == d.slots.end()) {
      // The session's own answer (408, 413, 431, 405): whole when it ended
      // (or without a body: the request may have been a HEAD).
      if (r.ended && r.content_length >= 0 && !r.data.empty()) {
        Check(r.data.size() == static_cast<size_t>(r.content_length),
              "an answer shorter or longer than its content-length");
      }
      Check(r.status >= 400, "a success the handler never gave");
      continue;
    }
    const Slot& s = it->second;
    Check(s.answered, "a response for a request the handler did not answer");
    Check(r.status == s.status, "a response with another status than the handler's");
    if (s.streaming) {
      Check(r.content_length < 0, "a content-length on a stream");
    } else if (!s.bodiless) {
      Check(r.content_length == s.declared, "content-length is not the body's");
    }
    if (s.head) Check(r.data.empty(), "DATA on the answer to a HEAD");
    const std::string want = s.bodiless ? std::string() : s.expected;
    if (want.compare(0, r.data.size(), r.data) != 0 || r.data.size() > want.size()) {
      size_t i = 0;
      while (i < r.data.size() && i < want.size() && r.data[i] == want[i]) ++i;
      std::fprintf(stderr,
                   "h2_session_fuzzer: stream %u (mode %d, %s): %zu bytes of DATA, %zu given; "
                   "they differ from byte %zu\n",
                   sid, s.mode, s.streaming ? "a stream" : "a response", r.data.size(), want.size(),
                   i);
    }
    Check(want.compare(0, r.data.size(), r.data) == 0 && r.data.size() <= want.size(),
          "DATA is not the body the handler gave");
    if (r.ended && !r.reset) Check(r.data == want, "a stream ended before all its body was sent");
  }
  if (std::getenv("H2_SESSION_FUZZER_VERBOSE") != nullptr) {
    // A summary per input, to see what a seed reaches.
    size_t started = 0, answered = 0, with_data = 0, ended = 0, reset = 0;
    for (const auto& [slot, s] : d.slots) {
      started += s.streaming ? 1 : 0;
      answered += s.answered ? 1 : 0;
    }
    for (const auto& [sid, r] : rx) {
      with_data += r.data.empty() ? 0 : 1;
      ended += r.ended ? 1 : 0;
      reset += r.reset ? 1 : 0;
    }
    std::fprintf(
        stderr,
        "h2_session_fuzzer: %zu requests (%zu answered, %zu streams started); output %zu "
        "bytes: %zu responses, %zu with DATA, %zu ended, %zu reset; goaway error %d; closed %d; "
        "at most %zu bytes unwritten\n",
        d.slots.size(), answered, started, d.out.size(), rx.size(), with_data, ended, reset,
        goaway_error ? 1 : 0, d.closed ? 1 : 0, d.max_unwritten);
  }
  // The session ends after a protocol error: the GOAWAY went out, and the
  // connection closed (nothing was holding the output at the end).
  if (goaway_error) Check(d.closed, "the connection stays open after a GOAWAY with an error code");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t how = data[0];
  size_t chunk = 1 + (how & 63);
  const bool slow = (how & 64) != 0;
  std::string input;
  if ((how & 128) == 0) input.assign(kPreface);
  input.append(reinterpret_cast<const char*>(data) + 2, size - 2);
  if ((how & 63) == 63) chunk = input.size();

  Driver d(data[1]);
  d.seed_byte_ = data[1];
  d.peer_goaway =
      HasGoaway(std::string_view(input).substr(std::min(input.size(), kPreface.size())));
  H2Options options;
  options.limits.header_bytes = kHeaderLimit;
  options.limits.body_bytes = kBodyLimit;
  options.max_concurrent_streams = 8;
  options.id = 7;
  {
    H2Session session(&d, &d, options);
    d.session = &session;
    Check(session.id() == 7 && session.protocol() == "h2", "id or protocol");
    // The server flushes its SETTINGS at the first turn.
    d.FlushIfWanted();
    for (size_t at = 0; at < input.size() && !d.closed; at += chunk) {
      d.in_on_data = true;
      session.OnData(std::string_view(input).substr(at, chunk));
      d.in_on_data = false;
      Check(session.closed() == d.closed, "closed() disagrees with the host");
      if (!d.closed) d.Turn(slow);
    }
    // Turns with no bytes read: held answers and stream data go on.
    for (int turn = 0; turn < 8 && !d.closed; ++turn) d.Turn(slow);
    if (!d.closed) session.OnEof();
    d.Finish();
    Check(session.closed() == d.closed, "closed() disagrees with the host");
    CheckOutput(d);
    // The session is destroyed here with streams possibly open: no callback
    // may reach the host (OnStreamClosed is not called for them).
    d.closed = true;
  }
  return 0;
}
