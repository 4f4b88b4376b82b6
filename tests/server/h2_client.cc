#include "tests/server/h2_client.h"

#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "tests/server/harness.h"

namespace eventide::testing {

struct H2ClientCallbacks {
  static H2Client* Self(void* u) { return static_cast<H2Client*>(u); }

  static ssize_t Send(nghttp2_session*, const uint8_t* data, size_t n, int, void* u) {
    H2Client* c = Self(u);
    size_t done = 0;
    while (done < n) {
      ssize_t w = ::send(c->fd_, data + done, n - done, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
      done += static_cast<size_t>(w);
    }
    return static_cast<ssize_t>(n);
  }
  static int Header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t nl,
                    const uint8_t* value, size_t vl, uint8_t, void* u) {
    H2Client::Response& r = Self(u)->responses_[f->hd.stream_id];
    std::string n(reinterpret_cast<const char*>(name), nl);
    std::string v(reinterpret_cast<const char*>(value), vl);
    if (n == ":status") r.status = std::atoi(v.c_str());
    r.headers[n] = v;
    return 0;
  }
  static int Data(nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t n, void* u) {
    Self(u)->responses_[id].body.append(reinterpret_cast<const char*>(d), n);
    return 0;
  }
  static int Frame(nghttp2_session*, const nghttp2_frame* f, void* u) {
    H2Client* c = Self(u);
    if (f->hd.type == NGHTTP2_GOAWAY) {
      c->goaway_ = true;
      c->goaway_code_ = f->goaway.error_code;
    }
    if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      c->responses_[f->hd.stream_id].ended = true;
    }
    return 0;
  }
  static int Close(nghttp2_session*, int32_t id, uint32_t code, void* u) {
    H2Client::Response& r = Self(u)->responses_[id];
    r.closed = true;
    r.error = code;
    return 0;
  }
  static ssize_t ReadBody(nghttp2_session*, int32_t id, uint8_t* buf, size_t len, uint32_t* flags,
                          nghttp2_data_source*, void* u) {
    auto& [body, off] = Self(u)->bodies_[id];
    const size_t n = std::min(len, body.size() - off);
    std::memcpy(buf, body.data() + off, n);
    off += n;
    if (off == body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
};

H2Client::H2Client(int port, uint32_t window, bool auto_window) {
  fd_ = ConnectLoopback(port);
  if (fd_ < 0) return;
  nghttp2_session_callbacks* cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_send_callback(cb, H2ClientCallbacks::Send);
  nghttp2_session_callbacks_set_on_header_callback(cb, H2ClientCallbacks::Header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, H2ClientCallbacks::Data);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, H2ClientCallbacks::Frame);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, H2ClientCallbacks::Close);
  nghttp2_option* opt;
  nghttp2_option_new(&opt);
  if (!auto_window) nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_session_client_new2(&s_, cb, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window}};
  nghttp2_submit_settings(s_, NGHTTP2_FLAG_NONE, iv, 1);
  if (auto_window) {
    // The connection's own window too, so streams are bounded by theirs only.
    nghttp2_session_set_local_window_size(s_, NGHTTP2_FLAG_NONE, 0, 1 << 30);
  }
}

H2Client::~H2Client() {
  if (s_ != nullptr) nghttp2_session_del(s_);
  if (fd_ >= 0) ::close(fd_);
}

int32_t H2Client::Submit(const std::string& method, const std::string& path,
                         std::vector<std::pair<std::string, std::string>> headers,
                         const std::string& body) {
  headers.insert(
      headers.begin(),
      {{":method", method}, {":path", path}, {":scheme", "http"}, {":authority", "127.0.0.1"}});
  std::vector<nghttp2_nv> nva;
  for (auto& [n, v] : headers) {
    nva.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()),
                   n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
  }
  if (body.empty()) {
    return nghttp2_submit_request(s_, nullptr, nva.data(), nva.size(), nullptr, this);
  }
  nghttp2_data_provider prd;
  prd.source.ptr = nullptr;
  prd.read_callback = H2ClientCallbacks::ReadBody;
  // The stream id is known only after submitting: the body is keyed on it
  // before the first send asks for it.
  const int32_t id = nghttp2_submit_request(s_, nullptr, nva.data(), nva.size(), &prd, this);
  if (id > 0) bodies_[id] = {body, 0};
  return id;
}

bool H2Client::Pump(int wait_ms) {
  if (fd_ < 0 || eof_) return false;
  if (nghttp2_session_send(s_) != 0) {
    eof_ = true;
    return false;
  }
  pollfd p{fd_, POLLIN, 0};
  int rc = ::poll(&p, 1, wait_ms);
  if (rc <= 0) return true;
  char buf[65536];
  ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
  if (n <= 0) {
    if (n < 0 && errno == EINTR) return true;
    eof_ = true;
    return false;
  }
  if (nghttp2_session_mem_recv(s_, reinterpret_cast<uint8_t*>(buf), static_cast<size_t>(n)) < 0) {
    eof_ = true;
    return false;
  }
  return nghttp2_session_send(s_) == 0;
}

bool H2Client::RunUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (!Pump(20)) return done();
  }
  return true;
}

const H2Client::Response& H2Client::Wait(int32_t id, std::chrono::milliseconds timeout) {
  RunUntil([&] { return responses_[id].ended || responses_[id].closed; }, timeout);
  return responses_[id];
}

void H2Client::Consume(int32_t id, size_t n) {
  nghttp2_session_consume(s_, id, n);
  nghttp2_session_send(s_);
}

bool H2Client::SendRaw(const std::string& bytes) {
  nghttp2_session_send(s_);
  return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(bytes.size());
}

}  // namespace eventide::testing
