// http::H2Session against nghttp2's own client session, in memory: the
// client's frames are the session's input and the session's frames the
// client's, so every test speaks real HTTP/2 (HPACK, flow control, SETTINGS,
// GOAWAY) without a socket.
#include "src/http/h2_session.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace eventide::http {
namespace {

// The server side's connection: bytes out, and what the session told it.
class FakeHost : public H2Host {
 public:
  void Send(std::string_view bytes) override { out.append(bytes); }
  void Close() override { closed = true; }
  void WantFlush() override { ++flush_wanted; }
  size_t pending_output_bytes() const override { return 0; }
  void OnStreamStarted(uint64_t slot) override { started.push_back(slot); }
  void OnStreamDrained(uint64_t slot) override { ++drained[slot]; }
  void OnStreamClosed(uint64_t slot) override { closed_streams.push_back(slot); }

  std::string out;
  bool closed = false;
  int flush_wanted = 0;
  std::vector<uint64_t> started;
  std::map<uint64_t, int> drained;
  std::vector<uint64_t> closed_streams;
};

// Requests kept for the test to answer.
class Handler : public RequestHandler {
 public:
  void OnRequest(Exchange* ex, uint64_t slot, Request& r) override {
    exchange = ex;
    slots.push_back(slot);
    requests.push_back(r);
    if (answer_at_once) {
      ResponseHead head;
      ex->Respond(slot, head, "echo:" + r.path);
    }
  }
  bool answer_at_once = false;
  Exchange* exchange = nullptr;
  std::vector<uint64_t> slots;
  std::vector<Request> requests;
};

// nghttp2's client, recording each stream's response.
class Client {
 public:
  struct Response {
    int status = 0;
    std::map<std::string, std::string> headers;
    std::string body;
    bool ended = false;
    uint32_t rst = 0xffffffff;  // RST_STREAM / close error code, if closed
    bool closed = false;
  };

  explicit Client(uint32_t window = 65535, bool auto_window = true) {
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(
        cb, [](nghttp2_session*, const uint8_t* d, size_t n, int, void* u) -> ssize_t {
          static_cast<Client*>(u)->out_.append(reinterpret_cast<const char*>(d), n);
          return static_cast<ssize_t>(n);
        });
    nghttp2_session_callbacks_set_on_header_callback(
        cb,
        [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t nl,
           const uint8_t* value, size_t vl, uint8_t, void* u) -> int {
          auto* c = static_cast<Client*>(u);
          std::string n(reinterpret_cast<const char*>(name), nl);
          std::string v(reinterpret_cast<const char*>(value), vl);
          Response& r = c->responses[f->hd.stream_id];
          if (n == ":status") r.status = std::stoi(v);
          r.headers[n] = v;
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t n, void* u) -> int {
          static_cast<Client*>(u)->responses[id].body.append(reinterpret_cast<const char*>(d), n);
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* f, void* u) -> int {
          auto* c = static_cast<Client*>(u);
          if (f->hd.type == NGHTTP2_GOAWAY) {
            c->goaway = true;
            c->goaway_code = f->goaway.error_code;
          }
          if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
              (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
            c->responses[f->hd.stream_id].ended = true;
          }
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cb, [](nghttp2_session*, int32_t id, uint32_t code, void* u) -> int {
          Response& r = static_cast<Client*>(u)->responses[id];
          r.closed = true;
          r.rst = code;
          return 0;
        });
    nghttp2_option* opt;
    nghttp2_option_new(&opt);
    if (!auto_window) nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_session_client_new2(&s_, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window}};
    nghttp2_submit_settings(s_, NGHTTP2_FLAG_NONE, iv, 1);
  }
  ~Client() { nghttp2_session_del(s_); }

  // Submits a request; returns its stream id.
  int32_t Request(const std::string& method, const std::string& path,
                  std::vector<std::pair<std::string, std::string>> headers = {},
                  const std::string* body = nullptr, bool end = true) {
    std::vector<nghttp2_nv> nva;
    auto nv = [&nva](const std::string& n, const std::string& v) {
      nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                     NGHTTP2_NV_FLAG_NONE});
    };
    static const std::string kMethod = ":method", kPath = ":path", kScheme = ":scheme",
                             kAuthority = ":authority", kHttp = "http", kHost = "example.test";
    nv(kMethod, method);
    nv(kPath, path);
    nv(kScheme, kHttp);
    nv(kAuthority, kHost);
    for (auto& [n, v] : headers) nv(n, v);
    if (body == nullptr && end) {
      return nghttp2_submit_request(s_, nullptr, nva.data(), nva.size(), nullptr, nullptr);
    }
    if (body == nullptr) {
      // Headers without END_STREAM and no body yet (an incomplete request).
      return nghttp2_submit_headers(s_, NGHTTP2_FLAG_NONE, -1, nullptr, nva.data(), nva.size(),
                                    nullptr);
    }
    body_ = *body;
    body_off_ = 0;
    nghttp2_data_provider prd;
    prd.source.ptr = this;
    prd.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                           nghttp2_data_source* src, void*) -> ssize_t {
      auto* c = static_cast<Client*>(src->ptr);
      size_t n = std::min(len, c->body_.size() - c->body_off_);
      std::memcpy(buf, c->body_.data() + c->body_off_, n);
      c->body_off_ += n;
      if (c->body_off_ == c->body_.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(n);
    };
    return nghttp2_submit_request(s_, nullptr, nva.data(), nva.size(), &prd, nullptr);
  }

  // Client bytes to send (the preface first).
  std::string TakeOutput() {
    nghttp2_session_send(s_);
    std::string o;
    o.swap(out_);
    return o;
  }
  void Feed(const std::string& bytes) {
    ssize_t rc =
        nghttp2_session_mem_recv(s_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    ASSERT_GE(rc, 0) << nghttp2_strerror(static_cast<int>(rc));
  }
  // Gives `n` bytes of stream `id`'s window back (no_auto_window_update).
  void Consume(int32_t id, size_t n) { nghttp2_session_consume(s_, id, n); }
  void Reset(int32_t id) { nghttp2_submit_rst_stream(s_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL); }

  std::map<int32_t, Response> responses;
  bool goaway = false;
  uint32_t goaway_code = 0;

 private:
  nghttp2_session* s_ = nullptr;
  std::string out_;
  std::string body_;
  size_t body_off_ = 0;
};

struct Pair {
  explicit Pair(H2Options o = {}, uint32_t client_window = 65535, bool auto_window = true)
      : client(client_window, auto_window), session(&host, &handler, o) {}
  // Client -> server -> client until nothing moves.
  void Pump() {
    for (int i = 0; i < 20; ++i) {
      std::string c = client.TakeOutput();
      if (!c.empty()) session.OnData(c);
      session.Flush();
      std::string s;
      s.swap(host.out);
      if (!s.empty()) client.Feed(s);
      if (c.empty() && s.empty()) return;
    }
  }
  FakeHost host;
  Handler handler;
  Client client;
  H2Session session;
};

TEST(H2SessionTest, AnswersARequestOnItsStream) {
  Pair p;
  p.handler.answer_at_once = true;
  int32_t id = p.client.Request("GET", "/a/b?x=1");
  p.Pump();
  ASSERT_EQ(p.handler.requests.size(), 1u);
  const Request& r = p.handler.requests[0];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/a/b?x=1");
  EXPECT_EQ(r.path, "/a/b");
  EXPECT_EQ(r.query, "x=1");
  ASSERT_NE(r.FindHeader("host"), nullptr);
  EXPECT_EQ(*r.FindHeader("host"), "example.test");
  EXPECT_EQ(p.handler.slots[0], static_cast<uint64_t>(id));
  EXPECT_EQ(p.handler.exchange->protocol(), "h2");
  const Client::Response& res = p.client.responses[id];
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "echo:/a/b");
  EXPECT_EQ(res.headers.at("content-length"), "9");
  EXPECT_TRUE(res.ended);
}

TEST(H2SessionTest, PostBodyAndHeadersReachTheHandler) {
  Pair p;
  std::string body = "{\"k\":1}";
  p.client.Request("POST", "/t",
                   {{"content-type", "application/json"}, {"cookie", "a=1"}, {"cookie", "b=2"}},
                   &body);
  p.Pump();
  ASSERT_EQ(p.handler.requests.size(), 1u);
  const Request& r = p.handler.requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.body, body);
  EXPECT_EQ(*r.FindHeader("content-type"), "application/json");
  EXPECT_EQ(*r.FindHeader("cookie"), "a=1; b=2");  // crumbs joined (RFC 9113 8.2.3)
}

TEST(H2SessionTest, StreamsAreAnsweredInAnyOrder) {
  Pair p;
  int32_t a = p.client.Request("GET", "/a");
  int32_t b = p.client.Request("GET", "/b");
  int32_t c = p.client.Request("GET", "/c");
  p.Pump();
  ASSERT_EQ(p.handler.slots.size(), 3u);  // all three at once: no pipelining order
  ResponseHead head;
  p.session.Respond(static_cast<uint64_t>(c), head, "C");
  p.session.Respond(static_cast<uint64_t>(a), head, "A");
  p.Pump();
  EXPECT_EQ(p.client.responses[c].body, "C");
  EXPECT_EQ(p.client.responses[a].body, "A");
  EXPECT_EQ(p.client.responses[b].status, 0);  // still unanswered, not held back by order
  p.session.Respond(static_cast<uint64_t>(b), head, "B");
  p.Pump();
  EXPECT_EQ(p.client.responses[b].body, "B");
}

TEST(H2SessionTest, ResponseHeadersAreLowerCasedWithoutConnectionFields) {
  Pair p;
  int32_t id = p.client.Request("GET", "/x");
  p.Pump();
  ResponseHead head;
  head.status = 201;
  head.headers.push_back({"ETag", "\"3\""});
  head.headers.push_back({"Connection", "close"});
  head.raw_headers = "Event-Position: 3\r\nlocation: /t/1\r\n";
  head.close = true;
  p.session.Respond(static_cast<uint64_t>(id), head, "{}");
  p.Pump();
  const Client::Response& r = p.client.responses[id];
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.headers.at("etag"), "\"3\"");
  EXPECT_EQ(r.headers.at("event-position"), "3");
  EXPECT_EQ(r.headers.at("location"), "/t/1");
  EXPECT_EQ(r.headers.count("connection"), 0u);
  EXPECT_FALSE(p.host.closed) << "Connection: close means nothing on h2";
}

TEST(H2SessionTest, HeadStatesTheLengthAndSendsNoBody) {
  Pair p;
  int32_t id = p.client.Request("HEAD", "/x");
  p.Pump();
  ResponseHead head;
  head.content_length = 1234;
  p.session.Respond(static_cast<uint64_t>(id), head, "");
  p.Pump();
  EXPECT_EQ(p.client.responses[id].headers.at("content-length"), "1234");
  EXPECT_EQ(p.client.responses[id].body, "");
  EXPECT_TRUE(p.client.responses[id].ended);
}

TEST(H2SessionTest, NotModifiedHasNoContentLength) {
  Pair p;
  int32_t id = p.client.Request("GET", "/x");
  p.Pump();
  ResponseHead head;
  head.status = 304;
  p.session.Respond(static_cast<uint64_t>(id), head, "");
  p.Pump();
  EXPECT_EQ(p.client.responses[id].status, 304);
  EXPECT_EQ(p.client.responses[id].headers.count("content-length"), 0u);
}

TEST(H2SessionTest, AStreamThatStopsReadingHoldsOnlyItsOwnBytes) {
  // The client's window is 1000 bytes per stream and it gives none back
  // unless told: the stream it does not read fills its buffer in the
  // session, the other goes on.
  H2Options o;
  Pair p(o, 1000, /*auto_window=*/false);
  int32_t slow = p.client.Request("GET", "/slow");
  int32_t fast = p.client.Request("GET", "/fast");
  p.Pump();
  for (uint64_t slot : p.handler.slots) p.session.StartStream(slot, ResponseHead{});
  EXPECT_EQ(p.host.started.size(), 2u);
  const std::string chunk(600, 'x');
  for (int i = 0; i < 5; ++i) {
    p.session.AppendData(static_cast<uint64_t>(slow), chunk);
    p.session.AppendData(static_cast<uint64_t>(fast), chunk);
    p.Pump();
    // The reader of `fast` gives its window back; `slow`'s never does.
    p.client.Consume(fast, p.client.responses[fast].body.size());
    p.Pump();
  }
  EXPECT_EQ(p.client.responses[fast].body.size(), 3000u);
  EXPECT_EQ(p.client.responses[slow].body.size(), 1000u);
  EXPECT_EQ(p.session.stream_pending_bytes(static_cast<uint64_t>(slow)), 2000u);
  EXPECT_EQ(p.session.stream_pending_bytes(static_cast<uint64_t>(fast)), 0u);
  // When the slow reader catches up, its bytes follow.
  p.client.Consume(slow, 1000);
  p.Pump();
  p.client.Consume(slow, 1000);
  p.Pump();
  EXPECT_EQ(p.client.responses[slow].body.size(), 3000u);
  EXPECT_GT(p.host.drained[static_cast<uint64_t>(slow)], 0);
}

TEST(H2SessionTest, EndAndResetOfAStartedStream) {
  Pair p;
  int32_t a = p.client.Request("GET", "/a");
  int32_t b = p.client.Request("GET", "/b");
  p.Pump();
  p.session.StartStream(static_cast<uint64_t>(a), ResponseHead{});
  p.session.StartStream(static_cast<uint64_t>(b), ResponseHead{});
  p.session.AppendData(static_cast<uint64_t>(a), "data: 1\n\n");
  p.session.EndStream(static_cast<uint64_t>(a));
  p.session.AppendData(static_cast<uint64_t>(b), "never sent? maybe");
  p.session.ResetStream(static_cast<uint64_t>(b));
  p.Pump();
  EXPECT_EQ(p.client.responses[a].body, "data: 1\n\n");
  EXPECT_TRUE(p.client.responses[a].ended);
  EXPECT_TRUE(p.client.responses[b].closed);
  EXPECT_EQ(p.client.responses[b].rst, static_cast<uint32_t>(NGHTTP2_CANCEL));
  EXPECT_EQ(p.host.closed_streams.size(), 2u);
  EXPECT_EQ(p.session.open_streams(), 0u);
}

TEST(H2SessionTest, AClientResetEndsTheStartedStream) {
  Pair p;
  int32_t a = p.client.Request("GET", "/a");
  p.Pump();
  p.session.StartStream(static_cast<uint64_t>(a), ResponseHead{});
  p.Pump();
  p.client.Reset(a);
  p.Pump();
  ASSERT_EQ(p.host.closed_streams.size(), 1u);
  EXPECT_EQ(p.host.closed_streams[0], static_cast<uint64_t>(a));
  p.session.AppendData(static_cast<uint64_t>(a), "late");  // ignored, no crash
  p.session.Respond(static_cast<uint64_t>(a), ResponseHead{}, "late");
  p.Pump();
}

TEST(H2SessionTest, AHeaderListOverTheLimitIs431) {
  H2Options o;
  o.limits.header_bytes = 200;
  Pair p(o);
  int32_t id = p.client.Request("GET", "/x", {{"x-big", std::string(300, 'a')}});
  p.Pump();
  EXPECT_TRUE(p.handler.requests.empty());
  EXPECT_EQ(p.client.responses[id].status, 431);
  EXPECT_NE(p.client.responses[id].body.find("header_too_large"), std::string::npos);
  EXPECT_FALSE(p.host.closed) << "a stream's error does not end the connection";
}

TEST(H2SessionTest, ABodyOverTheLimitIs413) {
  H2Options o;
  o.limits.body_bytes = 100;
  Pair p(o);
  std::string body(500, 'b');
  int32_t id = p.client.Request("POST", "/x", {}, &body);
  p.Pump();
  EXPECT_TRUE(p.handler.requests.empty());
  EXPECT_EQ(p.client.responses[id].status, 413);
  // The connection goes on: another request is answered.
  p.handler.answer_at_once = true;
  int32_t next = p.client.Request("GET", "/next");
  p.Pump();
  EXPECT_EQ(p.client.responses[next].body, "echo:/next");
}

TEST(H2SessionTest, AnIncompleteRequestTimesOut) {
  Pair p;
  int32_t id = p.client.Request("POST", "/x", {}, nullptr, /*end=*/false);
  p.Pump();
  EXPECT_EQ(p.session.incomplete_requests(), 1u);
  p.session.ExpireIncompleteRequests();  // marks
  p.Pump();
  EXPECT_EQ(p.client.responses[id].status, 0);
  p.session.ExpireIncompleteRequests();  // still incomplete: 408
  p.Pump();
  EXPECT_EQ(p.client.responses[id].status, 408);
  EXPECT_TRUE(p.client.responses[id].closed) << "reset after the answer: the client stops";
  EXPECT_EQ(p.session.incomplete_requests(), 0u);
}

TEST(H2SessionTest, TheConcurrentStreamLimitIsAdvertisedAndHeld) {
  H2Options o;
  o.max_concurrent_streams = 2;
  Pair p(o);
  p.Pump();  // SETTINGS exchanged: the client knows the limit
  p.client.Request("GET", "/1");
  p.client.Request("GET", "/2");
  p.client.Request("GET", "/3");
  p.Pump();
  ASSERT_EQ(p.handler.slots.size(), 2u) << "the third waits for a free stream";
  p.session.Respond(p.handler.slots[0], ResponseHead{}, "one");
  p.Pump();
  EXPECT_EQ(p.handler.slots.size(), 3u);
}

TEST(H2SessionTest, GarbageAfterThePrefaceIsAProtocolErrorThatClosesTheConnection) {
  FakeHost host;
  Handler handler;
  H2Session s(&host, &handler, H2Options{});
  std::string bytes = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  // A frame header announcing a DATA frame on stream 0 (a connection error).
  bytes += std::string(
      "\x00\x00\x04\x00\x00\x00\x00\x00\x00"
      "abcd",
      13);
  s.OnData(bytes);
  s.Flush();
  EXPECT_TRUE(host.closed);
  // Its last frame is a GOAWAY (type 0x7) with PROTOCOL_ERROR (0x1).
  const std::string& o = host.out;
  size_t at = 0, last = std::string::npos;
  while (at + 9 <= o.size()) {
    const size_t len = (static_cast<uint8_t>(o[at]) << 16) |
                       (static_cast<uint8_t>(o[at + 1]) << 8) | static_cast<uint8_t>(o[at + 2]);
    last = at;
    at += 9 + len;
  }
  ASSERT_EQ(at, o.size()) << "whole frames";
  ASSERT_NE(last, std::string::npos);
  EXPECT_EQ(static_cast<uint8_t>(o[last + 3]), 0x7);
  ASSERT_GE(o.size() - last, 17u);
  EXPECT_EQ(static_cast<uint8_t>(o[last + 16]), 0x1);
}

TEST(H2SessionTest, ABadPrefaceClosesTheConnection) {
  FakeHost host;
  Handler handler;
  H2Session s(&host, &handler, H2Options{});
  s.OnData("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  s.Flush();
  EXPECT_TRUE(host.closed);
  EXPECT_TRUE(handler.requests.empty());
}

TEST(H2SessionTest, ShutdownLetsOpenStreamsFinishThenCloses) {
  Pair p;
  int32_t a = p.client.Request("GET", "/a");
  p.Pump();
  p.session.StartStream(static_cast<uint64_t>(a), ResponseHead{});
  p.session.Shutdown();
  p.Pump();
  EXPECT_TRUE(p.client.goaway);
  EXPECT_EQ(p.client.goaway_code, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_FALSE(p.host.closed) << "the open stream goes on";
  p.session.AppendData(static_cast<uint64_t>(a), "retry: 3000\n\n");
  p.session.EndStream(static_cast<uint64_t>(a));
  p.Pump();
  EXPECT_EQ(p.client.responses[a].body, "retry: 3000\n\n");
  EXPECT_TRUE(p.host.closed);
}

}  // namespace
}  // namespace eventide::http
