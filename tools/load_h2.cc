// See load_h2.h.
#include "tools/load_h2.h"

#include <nghttp2/nghttp2.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/http/h2_nv.h"
#include "tools/load_common.h"
#include "tools/load_stream_run.h"

namespace eventide::load {
// nghttp2's callbacks, as one friend of the connection.
struct H2ClientCallbacks {
  static H2ClientConn* Self(void* user) { return static_cast<H2ClientConn*>(user); }

  static StreamConn* Find(H2ClientConn* self, int32_t id) {
    auto it = self->streams_.find(id);
    return it == self->streams_.end() ? nullptr : it->second;
  }

  static int Header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                    size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_RESPONSE) {
      return 0;  // trailers: nothing we check
    }
    if (StreamConn* c = Find(Self(user), frame->hd.stream_id)) {
      c->OnH2Header(std::string_view(reinterpret_cast<const char*>(name), namelen),
                    std::string_view(reinterpret_cast<const char*>(value), valuelen));
    }
    return 0;
  }

  static int FrameRecv(nghttp2_session* ng, const nghttp2_frame* frame, void* user) {
    H2ClientConn* self = Self(user);
    if (frame->hd.type == NGHTTP2_SETTINGS && (frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
      const uint32_t max =
          nghttp2_session_get_remote_settings(ng, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
      if (self->planned_ > max && !self->warned_) {
        self->warned_ = true;
        std::fprintf(stderr,
                     "eventide-load: %zu streams planned on one connection, the server runs %u "
                     "at once (its limits.max_concurrent_streams): raise --h2-connections\n",
                     self->planned_, max);
      }
      return 0;
    }
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
      if (StreamConn* c = Find(self, frame->hd.stream_id)) c->OnH2HeadEnd();
    }
    return 0;
  }

  static int DataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                       size_t len, void* user) {
    H2ClientConn* self = Self(user);
    if (StreamConn* c = Find(self, stream_id)) {
      c->OnH2Body(std::string_view(reinterpret_cast<const char*>(data), len), self->now_us_);
    }
    return 0;
  }

  static int StreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
    // A subscription never ends by itself: the server ended or refused it.
    StreamConn* c = Self(user)->Detach(stream_id);
    if (c == nullptr) return 0;
    c->Fail(error_code == NGHTTP2_NO_ERROR         ? "closed"
            : error_code == NGHTTP2_REFUSED_STREAM ? "h2_refused"
                                                   : "reset");
    return 0;
  }
};

H2ClientConn::H2ClientConn(StreamRun* run, const Endpoint* ep) : run_(run), ep_(ep) {
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_header_callback(cb, H2ClientCallbacks::Header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, H2ClientCallbacks::FrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, H2ClientCallbacks::DataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, H2ClientCallbacks::StreamClose);
  // The client preface (the magic and our SETTINGS) goes out with the first
  // mem_send, once connected.
  nghttp2_session_client_new(&ng_, cb, this);
  nghttp2_session_callbacks_del(cb);
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(run_->o_.h2_window_bytes)},
  };
  nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, settings, 2);
  // The connection's window: the same bound for all its streams together
  // (StreamOptions::h2_window_bytes).
  nghttp2_session_set_local_window_size(ng_, NGHTTP2_FLAG_NONE, 0, run_->o_.h2_window_bytes);
}

H2ClientConn::~H2ClientConn() { nghttp2_session_del(ng_); }

void H2ClientConn::Open(StreamConn* c) {
  if (failed_ != nullptr || state_ == State::kClosing || state_ == State::kClosed) {
    c->Fail(failed_ != nullptr ? failed_ : "closed");
    return;
  }
  const Url& u = ep_->url;
  const std::string authority = u.host + ":" + std::to_string(u.port);
  // auth_header_ is "Authorization: Bearer …\r\n" (HTTP/1.1's line).
  std::string_view auth = c->auth_header_;
  constexpr std::string_view kAuth = "Authorization: ";
  if (StartsWith(auth, kAuth)) auth = auth.substr(kAuth.size(), auth.size() - kAuth.size() - 2);
  std::vector<nghttp2_nv> nva = {
      http::H2Nv(":method", "GET"),
      http::H2Nv(":scheme", "http"),
      http::H2Nv(":authority", authority),
      http::H2Nv(":path", u.path),
      http::H2Nv("accept", "text/event-stream"),
  };
  if (!auth.empty()) nva.push_back(http::H2Nv("authorization", auth));
  const int32_t id = nghttp2_submit_request(ng_, nullptr, nva.data(), nva.size(), nullptr, nullptr);
  if (id < 0) {
    c->Fail("h2_submit");  // stream ids exhausted (2^30 requests): not in a run
    return;
  }
  c->h2_stream_id_ = id;
  streams_[id] = c;
  if (state_ == State::kIdle) {
    Connect();
  } else {
    Flush();
  }
}

void H2ClientConn::Cancel(StreamConn* c) {
  const int32_t id = c->h2_stream_id_;
  if (id == 0 || Detach(id) == nullptr) return;
  if (state_ == State::kClosing || state_ == State::kClosed || failed_ != nullptr) return;
  nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  Flush();
}

StreamConn* H2ClientConn::Detach(int32_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return nullptr;
  StreamConn* c = it->second;
  streams_.erase(it);
  c->h2_stream_id_ = 0;
  return c;
}

void H2ClientConn::Connect() {
  state_ = State::kConnecting;
  uv_tcp_init(&run_->loop_, &tcp_);
  tcp_.data = this;
  connect_req_.data = this;
  write_req_.data = this;
  int rc =
      uv_tcp_connect(&connect_req_, &tcp_, reinterpret_cast<const struct sockaddr*>(&ep_->addr),
                     [](uv_connect_t* req, int status) {
                       static_cast<H2ClientConn*>(req->data)->OnConnected(status);
                     });
  if (rc != 0) FailAll("connect");
}

void H2ClientConn::OnConnected(int status) {
  if (state_ != State::kConnecting) return;  // closed meanwhile
  if (status != 0) {
    FailAll("connect");
    return;
  }
  state_ = State::kOpen;
  uv_tcp_nodelay(&tcp_, 1);
  StartReading(&tcp_, [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    static_cast<H2ClientConn*>(s->data)->OnRead(n, buf);
  });
  Flush();  // the preface and every request submitted so far
}

void H2ClientConn::OnRead(ssize_t n, const uv_buf_t* buf) {
  if (n == 0 || state_ != State::kOpen) return;
  if (n < 0) {
    FailAll(n == UV_EOF ? "closed" : "reset");
    return;
  }
  now_us_ = NowMicros();
  in_library_ = true;
  const ssize_t rc = nghttp2_session_mem_recv(ng_, reinterpret_cast<const uint8_t*>(buf->base),
                                              static_cast<size_t>(n));
  in_library_ = false;
  if (rc < 0) {
    FailAll("h2_protocol");
    return;
  }
  Flush();  // WINDOW_UPDATEs, SETTINGS ACK, PING ACK, RST_STREAMs queued meanwhile
}

void H2ClientConn::Flush() {
  if (in_library_ || state_ != State::kOpen) return;
  in_library_ = true;
  for (;;) {
    const uint8_t* data = nullptr;
    const ssize_t len = nghttp2_session_mem_send(ng_, &data);
    if (len < 0) {
      in_library_ = false;
      FailAll("h2_protocol");
      return;
    }
    if (len == 0) break;
    out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(len));
  }
  in_library_ = false;
  if (nghttp2_session_want_read(ng_) == 0 && nghttp2_session_want_write(ng_) == 0 && out_.empty() &&
      !writing_) {
    FailAll("closed");  // the session is over (GOAWAY both ways, or a connection error)
    return;
  }
  if (writing_ || out_.empty()) return;
  writing_ = true;
  writing_buf_.swap(out_);
  out_.clear();
  uv_buf_t b = uv_buf_init(writing_buf_.data(), static_cast<unsigned>(writing_buf_.size()));
  if (uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1,
               [](uv_write_t* w, int status) {
                 static_cast<H2ClientConn*>(w->data)->OnWritten(status);
               }) != 0) {
    writing_ = false;  // the callback will not run
    FailAll("write");
  }
}

void H2ClientConn::OnWritten(int status) {
  writing_ = false;
  if (status != 0) {
    if (status != UV_ECANCELED) FailAll("write");
    return;
  }
  Flush();
}

void H2ClientConn::FailAll(const char* why) {
  if (failed_ != nullptr || state_ == State::kClosing || state_ == State::kClosed) return;
  failed_ = why;
  CloseSocket();
  // Detach all first: each Fail reaches the run, which may open the next
  // subscriber (here, where it fails at once).
  std::map<int32_t, StreamConn*> lost;
  lost.swap(streams_);
  for (auto& [id, c] : lost) c->h2_stream_id_ = 0;
  for (auto& [id, c] : lost) c->Fail(why);
}

void H2ClientConn::Close() {
  for (auto& [id, c] : streams_) c->h2_stream_id_ = 0;
  streams_.clear();
  CloseSocket();
}

void H2ClientConn::CloseSocket() {
  if (state_ == State::kIdle) {
    state_ = State::kClosed;  // never connected: no handle to close
    return;
  }
  if (state_ == State::kClosing || state_ == State::kClosed) return;
  state_ = State::kClosing;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_),
           [](uv_handle_t* h) { static_cast<H2ClientConn*>(h->data)->state_ = State::kClosed; });
}

}  // namespace eventide::load
