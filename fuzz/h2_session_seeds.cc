// Writes the seed corpus of h2_session_fuzzer: what an HTTP/2 client sends
// for a few exchanges, made with nghttp2's client API (and a few frames
// written by hand where a client library would not send them), in the
// fuzzer's input layout: byte 0 how to feed it, byte 1 the handler's seed,
// then the client's bytes after the connection preface (the fuzzer puts the
// preface back) -- or, with bit 7 of byte 0, everything as it is.
//
//   build-fuzz/fuzz/h2_session_seeds fuzz/corpus/h2_session
//
// The client never reads the server's answers: the seeds are the client's
// side of each exchange, the acknowledgements included.
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr size_t kPrefaceBytes = 24;

std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  std::string f;
  const size_t n = payload.size();
  f.push_back(static_cast<char>(n >> 16));
  f.push_back(static_cast<char>(n >> 8));
  f.push_back(static_cast<char>(n));
  f.push_back(static_cast<char>(type));
  f.push_back(static_cast<char>(flags));
  for (int s = 24; s >= 0; s -= 8) f.push_back(static_cast<char>(stream >> s));
  return f + payload;
}

const std::string kSettingsAck = Frame(NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, "");

struct Body {
  std::string bytes;
  size_t off = 0;
  bool end = true;  // END_STREAM after the bytes
};

class Client {
 public:
  explicit Client(const std::vector<nghttp2_settings_entry>& settings = {}) {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, &Client::Send);
    nghttp2_session_client_new(&ng_, cb, this);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  }
  ~Client() { nghttp2_session_del(ng_); }  // runs before bodies_ is destroyed

  // A request; `body` (when given) is sent as DATA, END_STREAM unless `end` is false.
  int32_t Request(const std::string& method, const std::string& path,
                  const std::vector<std::pair<std::string, std::string>>& headers = {},
                  const std::string* body = nullptr, bool end = true) {
    std::vector<std::pair<std::string, std::string>> all = {{":method", method},
                                                            {":scheme", "http"},
                                                            {":authority", "127.0.0.1:9996"},
                                                            {":path", path}};
    all.insert(all.end(), headers.begin(), headers.end());
    std::vector<nghttp2_nv> nva;
    for (auto& [n, v] : all) {
      nva.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()),
                     n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    if (body == nullptr) {
      return nghttp2_submit_request(ng_, nullptr, nva.data(), nva.size(), nullptr, nullptr);
    }
    bodies_.push_back(std::make_unique<Body>(Body{*body, 0, end}));
    nghttp2_data_provider prd;
    prd.source.ptr = bodies_.back().get();
    prd.read_callback = &Client::Read;
    return nghttp2_submit_request(ng_, nullptr, nva.data(), nva.size(), &prd, nullptr);
  }
  nghttp2_session* ng() { return ng_; }
  // Everything queued, as bytes; the preface is dropped the first time.
  std::string Take() {
    nghttp2_session_send(ng_);
    std::string b;
    b.swap(out_);
    if (!preface_dropped_) {
      b.erase(0, kPrefaceBytes);
      preface_dropped_ = true;
    }
    return b;
  }

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

 private:
  static ssize_t Send(nghttp2_session*, const uint8_t* data, size_t length, int, void* user) {
    static_cast<Client*>(user)->out_.append(reinterpret_cast<const char*>(data), length);
    return static_cast<ssize_t>(length);
  }
  static ssize_t Read(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                      nghttp2_data_source* source, void*) {
    Body* b = static_cast<Body*>(source->ptr);
    const size_t n = std::min(length, b->bytes.size() - b->off);
    std::copy(b->bytes.begin() + static_cast<long>(b->off),
              b->bytes.begin() + static_cast<long>(b->off + n), buf);
    b->off += n;
    if (b->off == b->bytes.size()) {
      if (b->end) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
      } else if (n == 0) {
        return NGHTTP2_ERR_DEFERRED;
      }
    }
    return static_cast<ssize_t>(n);
  }

  nghttp2_session* ng_ = nullptr;
  std::string out_;
  bool preface_dropped_ = false;
  std::vector<std::unique_ptr<Body>> bodies_;  // outlive the session's reads
};

void Write(const std::string& dir, const std::string& name, uint8_t how, uint8_t seed,
           const std::string& bytes) {
  const std::string path = dir + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    std::perror(path.c_str());
    std::exit(1);
  }
  std::fputc(how, f);
  std::fputc(seed, f);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  std::printf("%s: %zu bytes\n", path.c_str(), bytes.size() + 2);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const uint8_t whole = 63;  // byte 0: the input in one piece

  {  // One GET, the server's SETTINGS acknowledged.
    Client c;
    c.Request("GET", "/realtime-demo/message?limit=1");
    Write(dir, "get", whole, 0, c.Take() + kSettingsAck);
  }
  {  // Every method, on seven streams (each of the handler's modes once).
    Client c;
    std::string body = R"({"id":"a","title":"t","content":"c"})";
    c.Request("GET", "/realtime-demo/message/a", {{"accept", "application/json"}});
    c.Request("HEAD", "/realtime-demo/message/a");
    c.Request("POST", "/realtime-demo/message", {{"content-type", "application/json"}}, &body);
    c.Request("PUT", "/realtime-demo/message/a", {{"content-type", "application/json"}}, &body);
    c.Request("PATCH", "/realtime-demo/message/a", {{"content-type", "application/json"}}, &body);
    c.Request("DELETE", "/realtime-demo/message/a");
    c.Request("GET", "/realtime-demo/message?stream=sse",
              {{"accept", "text/event-stream"}, {"last-event-id", "5"}});
    const std::string b = c.Take() + kSettingsAck;
    Write(dir, "methods", 16, 0, b);
    Write(dir, "methods-slow", 64 | 31, 3, b);
  }
  {  // Windows opened wide, eight streams, a slow socket: the high-water mark.
    Client c({{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (1u << 31) - 1},
              {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 1 << 20}});
    nghttp2_submit_window_update(c.ng(), NGHTTP2_FLAG_NONE, 0, (1 << 30));
    for (int i = 0; i < 8; ++i)
      c.Request("GET", "/realtime-demo/message?stream=sse&n=" + std::to_string(i));
    std::string b = c.Take() + kSettingsAck;
    Write(dir, "wide-windows-slow", 64 | 7, 2, b);
    Write(dir, "wide-windows", whole, 2, b);
  }
  {  // Small windows, opened step by step with WINDOW_UPDATE.
    Client c({{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 100}});
    for (int i = 0; i < 3; ++i) c.Request("GET", "/s/" + std::to_string(i));
    std::string b = c.Take() + kSettingsAck;
    for (int i = 0; i < 4; ++i) {
      for (int32_t s = 1; s <= 5; s += 2)
        nghttp2_submit_window_update(c.ng(), NGHTTP2_FLAG_NONE, s, 1000);
      nghttp2_submit_window_update(c.ng(), NGHTTP2_FLAG_NONE, 0, 3000);
      b += c.Take();
    }
    Write(dir, "small-windows", 40, 2, b);
  }
  {  // Limits: a body over body_bytes (413), a header list over header_bytes (431).
    Client c;
    std::string big(6000, 'x');
    c.Request("POST", "/realtime-demo/message", {{"content-type", "application/json"}}, &big);
    c.Request("GET", "/realtime-demo/message",
              {{"x-big", std::string(900, 'h')}, {"x-more", std::string(300, 'm')}});
    c.Request("GET", "/ok", {{"cookie", "a=1"}, {"cookie", "b=2"}});
    Write(dir, "limits", 50, 1, c.Take() + kSettingsAck);
  }
  {  // A request that never ends (the 408 path), then the client resets it.
    Client c;
    std::string part = R"({"id":"slow")";
    int32_t s = c.Request("POST", "/realtime-demo/message", {{"content-type", "application/json"}},
                          &part, false);
    std::string b = c.Take() + kSettingsAck;
    c.Request("GET", "/after");
    b += c.Take();
    nghttp2_submit_rst_stream(c.ng(), NGHTTP2_FLAG_NONE, s, NGHTTP2_CANCEL);
    b += c.Take();
    Write(dir, "incomplete-then-reset", 20, 4, b);
  }
  {  // More streams than SETTINGS_MAX_CONCURRENT_STREAMS (8), a PING, a GOAWAY.
    Client c;
    for (int i = 0; i < 12; ++i) c.Request("GET", "/realtime-demo/message/" + std::to_string(i));
    nghttp2_submit_ping(c.ng(), NGHTTP2_FLAG_NONE, reinterpret_cast<const uint8_t*>("pingpong"));
    std::string b = c.Take() + kSettingsAck;
    nghttp2_submit_goaway(c.ng(), NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, nullptr, 0);
    b += c.Take();
    Write(dir, "many-streams-ping-goaway", 30, 5, b);
  }
  {  // Streams the handler starts, which the client cancels midway.
    Client c({{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}});
    for (int i = 0; i < 6; ++i) c.Request("GET", "/realtime-demo/message?stream=sse");
    std::string b = c.Take() + kSettingsAck;
    for (int32_t s = 1; s <= 11; s += 4)
      nghttp2_submit_rst_stream(c.ng(), NGHTTP2_FLAG_NONE, s, NGHTTP2_CANCEL);
    b += c.Take();
    Write(dir, "streams-cancelled", 8, 2, b);
  }
  {  // A protocol error: DATA on stream 0 after a request.
    Client c;
    c.Request("GET", "/");
    std::string b = c.Take() + kSettingsAck + Frame(NGHTTP2_DATA, 0, 0, "oops");
    Write(dir, "data-on-stream-0", whole, 0, b);
  }
  {  // Not HTTP/2 at all after the first bytes (sent as is: bit 7).
    Write(dir, "raw-bad-preface", 128 | 10, 0, "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + kSettingsAck);
    Write(dir, "raw-http1", 128 | whole, 0, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  return 0;
}
