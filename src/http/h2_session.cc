#include "src/http/h2_session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <charconv>
#include <utility>

#include "src/http/h2_nv.h"

namespace eventide::http {
namespace {

// Above this many bytes waiting for the socket, no more frames are made
// until the owner flushes again (after the kernel took some): stream buffers
// then fill, and a subscriber behind is demoted to the log, instead of the
// connection's buffer growing without bound.
constexpr size_t kHighWaterBytes = 256 << 10;

// A stream's drained buffer keeps its capacity up to this; a bigger one (a
// burst, a catch-up) is freed.
constexpr size_t kKeepBufferBytes = 64 << 10;

// HTTP/2 forbids connection-specific header fields (RFC 9113 section 8.2.2).
bool ConnectionSpecific(std::string_view lower) {
  return lower == "connection" || lower == "keep-alive" || lower == "proxy-connection" ||
         lower == "transfer-encoding" || lower == "upgrade";
}

}  // namespace

struct H2Session::Stream {
  int32_t id = 0;
  Request req;
  std::string cookie;  // cookie crumbs, joined (RFC 9113 section 8.2.3)
  size_t header_bytes = 0;
  bool header_too_large = false;
  bool body_too_large = false;
  bool complete = false;     // END_STREAM (or a limit) seen: the request is as whole as it gets
  bool dispatched = false;   // handed to the handler
  bool responded = false;    // a response head was submitted
  bool streaming = false;    // StartStream: the host owns what follows
  bool watched = false;      // the host hears of its end (Watch, StartStream)
  bool end = false;          // END_STREAM once `out` is framed
  bool deferred = false;     // the data provider waits for bytes
  bool marked = false;       // seen incomplete by ExpireIncompleteRequests
  bool head = false;         // a HEAD: its answer's body is not sent
  bool cut_request = false;  // answered before it was whole: RST_STREAM NO_ERROR once sent
  std::string out;           // body bytes not framed yet: out[off, size)
  size_t off = 0;
  size_t pending() const { return out.size() - off; }
};

// nghttp2's callbacks, as one friend of the session.
struct H2Callbacks {
  static H2Session* Self(void* user_data) { return static_cast<H2Session*>(user_data); }

  static ssize_t Send(nghttp2_session*, const uint8_t* data, size_t length, int, void* user) {
    H2Session* self = Self(user);
    if (self->host_->pending_output_bytes() >= kHighWaterBytes) return NGHTTP2_ERR_WOULDBLOCK;
    self->host_->Send(std::string_view(reinterpret_cast<const char*>(data), length));
    return static_cast<ssize_t>(length);
  }

  static int BeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    H2Session* self = Self(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto st = std::make_unique<H2Session::Stream>();
    st->id = frame->hd.stream_id;
    self->streams_[st->id] = std::move(st);
    ++self->streams_total_;
    ++self->incomplete_;
    return 0;
  }

  static int Header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                    size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    H2Session* self = Self(user);
    H2Session::Stream* st = self->Find(static_cast<uint64_t>(frame->hd.stream_id));
    if (st == nullptr || st->dispatched || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      return 0;  // trailers, or a stream answered already: not kept
    }
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    // HPACK's size of an entry (RFC 7541 section 4.1), as SETTINGS_MAX_HEADER_LIST_SIZE counts.
    st->header_bytes += namelen + valuelen + 32;
    if (st->header_bytes > self->options_.limits.header_bytes) {
      if (!st->header_too_large) {
        st->header_too_large = true;
        self->MarkComplete(st);
        st->cut_request = true;  // the client may be sending more: RST after the 431
        self->completed_.push_back(st->id);
      }
      return 0;
    }
    if (n == ":method") {
      st->req.method.assign(v);
      st->head = v == "HEAD";  // whoever answers it: the handler, a limit, the 408
    } else if (n == ":path") {
      st->req.target.assign(v);
    } else if (n == ":authority") {
      if (st->req.FindHeader("host") == nullptr)
        st->req.headers.push_back({"host", std::string(v)});
    } else if (!n.empty() && n[0] == ':') {
      // :scheme (and :protocol, which is not enabled): nghttp2 checked them.
    } else if (n == "cookie") {
      if (!st->cookie.empty()) st->cookie += "; ";
      st->cookie.append(v);
    } else {
      // nghttp2 refuses upper-case names and connection-specific fields in
      // requests (a stream error), so names arrive as HTTP/1.1's parser gives them.
      st->req.headers.push_back({std::string(n), std::string(v)});
    }
    return 0;
  }

  static int DataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                       size_t len, void* user) {
    H2Session* self = Self(user);
    H2Session::Stream* st = self->Find(static_cast<uint64_t>(stream_id));
    if (st == nullptr || st->complete) return 0;
    if (st->req.body.size() + len > self->options_.limits.body_bytes) {
      st->body_too_large = true;
      self->MarkComplete(st);
      st->cut_request = true;  // RST after the 413, unless the client ended already
      self->completed_.push_back(stream_id);
      return 0;
    }
    st->req.body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }

  static int FrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    H2Session* self = Self(user);
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) return 0;
    H2Session::Stream* st = self->Find(static_cast<uint64_t>(frame->hd.stream_id));
    if (st == nullptr || st->complete) return 0;
    self->MarkComplete(st);
    self->completed_.push_back(st->id);
    return 0;
  }

  // An answer given before its request was whole goes out in full, and then
  // RST_STREAM NO_ERROR tells the client to stop sending the rest (RFC 9113
  // section 8.1). Not before: a stream with a RST_STREAM queued is closing,
  // and nghttp2 drops whatever else is queued for it, the answer's HEADERS
  // included.
  static int FrameSend(nghttp2_session* ng, const nghttp2_frame* frame, void* user) {
    H2Session* self = Self(user);
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) return 0;
    H2Session::Stream* st = self->Find(static_cast<uint64_t>(frame->hd.stream_id));
    if (st == nullptr || !st->cut_request) return 0;
    st->cut_request = false;
    if (nghttp2_session_get_stream_remote_close(ng, st->id) == 0) {
      nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
    }
    return 0;
  }

  static int StreamClose(nghttp2_session*, int32_t stream_id, uint32_t, void* user) {
    H2Session* self = Self(user);
    auto it = self->streams_.find(stream_id);
    if (it == self->streams_.end()) return 0;
    if (it->second->watched) self->closed_started_.push_back(static_cast<uint64_t>(stream_id));
    if (!it->second->complete) --self->incomplete_;
    self->streams_.erase(it);
    return 0;
  }

  // The body's bytes are not copied into nghttp2's buffer: SendData writes
  // them from the stream's own buffer (NGHTTP2_DATA_FLAG_NO_COPY).
  static ssize_t ReadData(nghttp2_session*, int32_t stream_id, uint8_t*, size_t length,
                          uint32_t* flags, nghttp2_data_source*, void* user) {
    H2Session* self = Self(user);
    H2Session::Stream* st = self->Find(static_cast<uint64_t>(stream_id));
    if (st == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    const size_t n = std::min(length, st->pending());
    if (n == 0 && !st->end) {
      st->deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (st->end && n == st->pending()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  static int SendData(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd, size_t length,
                      nghttp2_data_source*, void* user) {
    H2Session* self = Self(user);
    H2Session::Stream* st = self->Find(static_cast<uint64_t>(frame->hd.stream_id));
    // A frame held back at the high-water mark (WOULDBLOCK below) whose
    // stream was reset since (ResetStream dropped its bytes): that stream's
    // failure, not the connection's. Its RST_STREAM CANCEL is queued already,
    // so nghttp2 drops the frame and sends no other.
    if (st == nullptr || st->pending() < length) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (self->host_->pending_output_bytes() >= kHighWaterBytes) return NGHTTP2_ERR_WOULDBLOCK;
    self->host_->Send(std::string_view(reinterpret_cast<const char*>(framehd), 9));
    // We never pad, so a frame is its header and its data.
    self->host_->Send(std::string_view(st->out).substr(st->off, length));
    st->off += length;
    if (st->off == st->out.size()) {
      // Drained: a burst's buffer is not kept for the stream's whole life.
      if (st->out.capacity() > kKeepBufferBytes) {
        std::string().swap(st->out);
      } else {
        st->out.clear();
      }
      st->off = 0;
    }
    const auto id = static_cast<uint64_t>(st->id);
    if (st->streaming && (self->drained_.empty() || self->drained_.back() != id)) {
      self->drained_.push_back(id);
    }
    return 0;
  }
};

H2Session::H2Session(H2Host* host, RequestHandler* handler, const H2Options& options)
    : host_(host), handler_(handler), options_(options) {
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_send_callback(cb, H2Callbacks::Send);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, H2Callbacks::BeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cb, H2Callbacks::Header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, H2Callbacks::DataChunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, H2Callbacks::FrameRecv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, H2Callbacks::StreamClose);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, H2Callbacks::FrameSend);
  nghttp2_session_callbacks_set_send_data_callback(cb, H2Callbacks::SendData);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  // Streams beyond the limit the peer was told are refused by the library.
  nghttp2_option_set_max_send_header_block_length(opt, 64 << 10);
  nghttp2_session_server_new2(&ng_, cb, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(options_.limits.header_bytes)},
      // A request body of up to body_bytes in one window: no round trip per 64 KiB.
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
       static_cast<uint32_t>(std::min<uint64_t>(options_.limits.body_bytes, (1u << 31) - 1))},
  };
  nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, settings, 3);
}

H2Session::~H2Session() {
  // nghttp2_session_del calls no callbacks that reach the host.
  streams_.clear();
  nghttp2_session_del(ng_);
}

H2Session::Stream* H2Session::Find(uint64_t slot) const {
  auto it = streams_.find(static_cast<int32_t>(slot));
  return it == streams_.end() ? nullptr : it->second.get();
}

void H2Session::MarkComplete(Stream* st) {
  if (st->complete) return;
  st->complete = true;
  --incomplete_;
}

void H2Session::OnData(std::string_view data) {
  if (closed_) return;
  in_library_ = true;
  const ssize_t rc =
      nghttp2_session_mem_recv(ng_, reinterpret_cast<const uint8_t*>(data.data()), data.size());
  in_library_ = false;
  if (rc < 0) {
    // A connection error the library could not answer itself (a bad
    // preface, a HPACK failure it reports): a GOAWAY, then the close.
    Fatal();
    return;
  }
  DispatchCompleted();
  Flush();
}

void H2Session::OnEof() {
  if (closed_) return;
  // The peer sends nothing more: nothing it asked will be read; answers
  // still go out, and the connection closes when they have.
  Shutdown();
  Flush();
}

void H2Session::Fatal() {
  nghttp2_session_terminate_session(ng_, NGHTTP2_PROTOCOL_ERROR);
  Flush();
  if (!closed_) {
    closed_ = true;
    host_->Close();
  }
}

void H2Session::DispatchCompleted() {
  // The handler may answer at once, which may complete nothing new; but a
  // handler's answer never re-enters the library's receive path.
  std::vector<int32_t> done;
  done.swap(completed_);
  for (int32_t id : done) {
    Stream* st = Find(static_cast<uint64_t>(id));
    if (st == nullptr || st->dispatched || closed_) continue;
    st->dispatched = true;
    if (st->header_too_large) {
      RespondError(static_cast<uint64_t>(id), 431, "header_too_large",
                   "the request's header list exceeds " +
                       std::to_string(options_.limits.header_bytes) + " bytes");
      continue;
    }
    if (st->body_too_large) {
      RespondError(static_cast<uint64_t>(id), 413, "body_too_large",
                   "the body exceeds " + std::to_string(options_.limits.body_bytes) + " bytes");
      continue;
    }
    Request& r = st->req;
    if (!st->cookie.empty()) r.headers.push_back({"cookie", std::move(st->cookie)});
    if (r.method == "CONNECT" || r.target.empty()) {
      // Extended CONNECT (RFC 8441) is not offered; plain CONNECT has no
      // meaning here.
      RespondError(static_cast<uint64_t>(id), 405, "method_not_allowed",
                   "CONNECT is not supported");
      continue;
    }
    const size_t q = r.target.find('?');
    r.path = r.target.substr(0, q);
    if (q != std::string::npos) r.query = r.target.substr(q + 1);
    r.keep_alive = true;
    r.upgrade = false;
    r.version_minor = 1;
    handler_->OnRequest(this, static_cast<uint64_t>(id), r);
    // The request is not needed once handed over (an event stream lives on
    // without it). Streams close only while frames are sent, so `st` is live.
    if (Stream* still = Find(static_cast<uint64_t>(id))) {
      still->req = Request();
      still->cookie = std::string();
    }
  }
}

void H2Session::SubmitHead(Stream* st, const ResponseHead& head, std::string_view body,
                           bool streaming) {
  st->responded = true;
  st->streaming = streaming;
  if (streaming) st->watched = true;
  // Names lower-cased into one scratch string; values point into `head`.
  std::vector<nghttp2_nv> nva;
  nva.reserve(head.headers.size() + 8);
  char status[4];
  auto r = std::to_chars(status, status + sizeof(status), head.status);
  nva.push_back(H2Nv(":status", std::string_view(status, static_cast<size_t>(r.ptr - status))));
  names_.clear();
  struct Span {
    size_t off, len;
    std::string_view value;
  };
  std::vector<Span> spans;
  auto add = [&](std::string_view name, std::string_view value) {
    const size_t off = names_.size();
    for (char c : name) names_.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
    if (ConnectionSpecific(std::string_view(names_).substr(off))) {
      names_.resize(off);
      return;
    }
    spans.push_back({off, name.size(), value});
  };
  for (const Header& h : head.headers) add(h.name, h.value);
  // Rendered lines "name: value\r\n".
  std::string_view raw = head.raw_headers;
  while (!raw.empty()) {
    size_t eol = raw.find("\r\n");
    std::string_view line = raw.substr(0, eol);
    raw = eol == std::string_view::npos ? std::string_view() : raw.substr(eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    add(line.substr(0, colon), value);
  }
  char length[24];
  std::string_view length_text;
  const bool bodiless = head.status == 204 || head.status == 304;
  int64_t declared = head.content_length;
  if (st->head && !streaming) {
    // A HEAD's answer states the length of the body it does not send, an
    // error's as well as a GET's (RFC 9110 section 9.3.2): DATA on it is a
    // stream error for the client (RFC 9113 section 8.1.1).
    if (declared < 0) declared = static_cast<int64_t>(body.size());
    body = {};
  }
  if (!streaming && !bodiless) {
    auto lr = std::to_chars(length, length + sizeof(length),
                            declared >= 0 ? static_cast<uint64_t>(declared) : body.size());
    length_text = std::string_view(length, static_cast<size_t>(lr.ptr - length));
  }
  for (const Span& s : spans)
    nva.push_back(H2Nv(std::string_view(names_).substr(s.off, s.len), s.value));
  if (!length_text.empty()) nva.push_back(H2Nv("content-length", length_text));
  const bool has_body = streaming || (!bodiless && !body.empty());
  if (!has_body) {
    st->end = true;
    nghttp2_submit_response(ng_, st->id, nva.data(), nva.size(), nullptr);
    return;
  }
  st->out.assign(body);
  st->off = 0;
  st->end = !streaming;
  nghttp2_data_provider prd;
  prd.source.ptr = nullptr;
  prd.read_callback = H2Callbacks::ReadData;
  nghttp2_submit_response(ng_, st->id, nva.data(), nva.size(), &prd);
}

void H2Session::Respond(uint64_t slot, const ResponseHead& head, std::string_view body) {
  if (closed_) return;
  Stream* st = Find(slot);
  if (st == nullptr || st->responded) return;
  // A request answered before it was whole (the 408): the rest of it is not
  // wanted. RST_STREAM NO_ERROR after the answer (H2Callbacks::FrameSend)
  // tells the client to stop sending (RFC 9113 section 8.1).
  if (!st->complete) {
    MarkComplete(st);
    st->cut_request = true;
  }
  SubmitHead(st, head, body, false);
  host_->WantFlush();
}

void H2Session::StartStream(uint64_t slot, const ResponseHead& head) {
  if (closed_) return;
  Stream* st = Find(slot);
  if (st == nullptr || st->responded) return;
  SubmitHead(st, head, {}, true);
  host_->WantFlush();
  host_->OnStreamStarted(slot);
}

void H2Session::AppendData(uint64_t slot, std::string_view bytes) {
  Stream* st = Find(slot);
  if (st == nullptr || !st->streaming || st->end || bytes.empty()) return;
  if (st->off > 0 && st->off >= st->out.size() / 2) {
    st->out.erase(0, st->off);  // keep the buffer from creeping
    st->off = 0;
  }
  st->out.append(bytes);
  if (st->deferred) {
    st->deferred = false;
    nghttp2_session_resume_data(ng_, st->id);
    host_->WantFlush();
  }
}

void H2Session::EndStream(uint64_t slot) {
  Stream* st = Find(slot);
  if (st == nullptr || !st->streaming || st->end) return;
  st->end = true;
  if (st->deferred) {
    st->deferred = false;
    nghttp2_session_resume_data(ng_, st->id);
  }
  host_->WantFlush();
}

void H2Session::ResetStream(uint64_t slot) {
  Stream* st = Find(slot);
  if (st == nullptr) return;
  st->out.clear();
  st->off = 0;
  st->end = true;
  nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
  host_->WantFlush();
}

size_t H2Session::stream_pending_bytes(uint64_t slot) const {
  const Stream* st = Find(slot);
  return st == nullptr ? 0 : st->pending();
}

void H2Session::Watch(uint64_t slot) {
  if (Stream* st = Find(slot)) st->watched = true;
}

bool H2Session::want_write() const { return nghttp2_session_want_write(ng_) != 0; }

void H2Session::Shutdown() {
  if (shutting_down_ || closed_) return;
  shutting_down_ = true;
  nghttp2_submit_goaway(ng_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(ng_),
                        NGHTTP2_NO_ERROR, nullptr, 0);
  host_->WantFlush();
}

void H2Session::ExpireIncompleteRequests() {
  for (auto& [id, st] : streams_) {
    if (st->complete) continue;
    if (!st->marked) {
      st->marked = true;
      continue;
    }
    st->dispatched = true;
    RespondError(static_cast<uint64_t>(id), 408, "request_timeout",
                 "the request was not complete in time");
  }
  Flush();
}

void H2Session::Flush() {
  if (closed_ || in_library_) return;
  for (;;) {
    in_library_ = true;
    const int rc = nghttp2_session_send(ng_);
    in_library_ = false;
    if (rc != 0) {
      closed_ = true;
      host_->Close();
      return;
    }
    // Tell the owner after the library is done: its answers may queue more.
    std::vector<uint64_t> closed;
    closed.swap(closed_started_);
    std::vector<uint64_t> drained;
    drained.swap(drained_);
    for (uint64_t id : closed) host_->OnStreamClosed(id);
    for (uint64_t id : drained) {
      if (Find(id) != nullptr) host_->OnStreamDrained(id);
    }
    if (closed_) return;
    // Another pass only when telling the owner queued frames the socket can take.
    if ((closed.empty() && drained.empty()) || nghttp2_session_want_write(ng_) == 0 ||
        host_->pending_output_bytes() >= kHighWaterBytes) {
      break;
    }
  }
  if (nghttp2_session_want_read(ng_) == 0 && nghttp2_session_want_write(ng_) == 0) {
    // The session is over: GOAWAY both ways, or ours after a protocol
    // error, with no stream left open.
    closed_ = true;
    host_->Close();
  }
}

}  // namespace eventide::http
