// The webhook dispatcher (src/hooks/dispatcher.h) against real receivers on
// 127.0.0.1 (tests/hooks/receiver.h): delivery, retries, time-outs, give-ups,
// the bounded queue, shutdown, and https. Waits are "eventually, within
// 10 s"; nothing asserts how fast the dispatcher is.
#include "src/hooks/dispatcher.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "src/net/cert.h"
#include "tests/hooks/receiver.h"

namespace eventide::hooks {
namespace {

using testing::ClosedPort;
using testing::Eventually;
using testing::Receiver;
using testing::StatusResponse;

constexpr char kBody[] = R"({"hook":"on_write","app":"blog","data":{"n":1}})";

// Small timings so failure paths finish quickly.
DispatcherOptions FastOptions() {
  DispatcherOptions o;
  o.max_attempts = 3;
  o.initial_backoff_ms = 5;
  o.max_backoff_ms = 20;
  o.timeout_ms = 2000;
  o.concurrency = 4;
  return o;
}

std::unique_ptr<Dispatcher> Make(const DispatcherOptions& o) {
  auto d = Dispatcher::Create(o);
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return d.ok() ? std::move(d).value() : nullptr;
}

Receiver::Reply Always(int code) {
  return [code](size_t) { return std::optional<std::string>(StatusResponse(code)); };
}

// Answers with `codes` in turn, then 200.
Receiver::Reply Sequence(std::vector<int> codes) {
  return [codes](size_t n) {
    return std::optional<std::string>(StatusResponse(n < codes.size() ? codes[n] : 200));
  };
}

Receiver::Reply Never() {
  return [](size_t) { return std::optional<std::string>(); };
}

TEST(RetryDelayTest, DoublesFromInitialAndIsCapped) {
  DispatcherOptions o;
  o.initial_backoff_ms = 200;
  o.max_backoff_ms = 1000;
  const uint64_t kTop = ~uint64_t{0};
  EXPECT_EQ(RetryDelayMs(o, 1, 0), 100u);  // [100, 200]
  EXPECT_EQ(RetryDelayMs(o, 2, 0), 200u);  // [200, 400]
  EXPECT_EQ(RetryDelayMs(o, 3, 0), 400u);  // [400, 800]
  EXPECT_EQ(RetryDelayMs(o, 4, 0), 500u);  // capped: [500, 1000]
  EXPECT_EQ(RetryDelayMs(o, 60, 0), 500u);
  for (int retry = 1; retry < 70; ++retry) {
    EXPECT_LE(RetryDelayMs(o, retry, kTop), 1000u);
  }
}

TEST(RetryDelayTest, JitterStaysBetweenHalfAndAll) {
  DispatcherOptions o;
  o.initial_backoff_ms = 200;
  o.max_backoff_ms = 10000;
  std::set<uint64_t> seen;
  for (uint64_t r = 0; r < 1000; ++r) {
    uint64_t d = RetryDelayMs(o, 2, r * 7919);
    EXPECT_GE(d, 200u);
    EXPECT_LE(d, 400u);
    seen.insert(d);
  }
  EXPECT_GT(seen.size(), 100u) << "jitter spreads retries";
}

TEST(DispatcherTest, CreateRefusesZeroLimits) {
  DispatcherOptions o;
  o.concurrency = 0;
  EXPECT_TRUE(Dispatcher::Create(o).status().IsInvalidArgument());
  o = DispatcherOptions();
  o.queue_capacity = 0;
  EXPECT_TRUE(Dispatcher::Create(o).status().IsInvalidArgument());
  o = DispatcherOptions();
  o.max_attempts = 0;
  EXPECT_TRUE(Dispatcher::Create(o).status().IsInvalidArgument());
  o = DispatcherOptions();
  o.tls_ca_file = "/nonexistent/ca.pem";
  Status s = Dispatcher::Create(o).status();
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("/nonexistent/ca.pem"), std::string::npos);
}

TEST(DispatcherTest, DeliversWithHeadersAndBody) {
  Receiver receiver(Always(204));
  auto d = Make(FastOptions());
  ASSERT_TRUE(d->Enqueue("on_write", receiver.Url("/in?k=v"), kBody));
  ASSERT_TRUE(Eventually([&] { return d->Stats().delivered == 1; }));
  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1u);
  const testing::ReceivedRequest& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/in?k=v");
  EXPECT_EQ(r.version, "HTTP/1.1");
  EXPECT_EQ(r.body, kBody);
  EXPECT_EQ(r.headers.at("host"), "127.0.0.1:" + std::to_string(receiver.port()));
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.headers.at("content-length"), std::to_string(sizeof(kBody) - 1));
  EXPECT_EQ(r.headers.at("user-agent"), "eventide");
  EXPECT_EQ(r.headers.at("x-eventide-hook"), "on_write");
  EXPECT_EQ(r.headers.at("x-eventide-delivery").size(), 36u) << "a UUID";
  EXPECT_EQ(r.headers.at("x-eventide-attempt"), "1");
  EXPECT_EQ(r.headers.at("connection"), "close");
  HookStats s = d->Stats();
  EXPECT_EQ(s.queued, 1u);
  EXPECT_EQ(s.failed_attempts, 0u);
  EXPECT_EQ(s.retries, 0u);
  EXPECT_EQ(s.gave_up, 0u);
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(s.queue_depth, 0u);
}

TEST(DispatcherTest, EachDeliveryHasItsOwnId) {
  Receiver receiver(Always(200));
  auto d = Make(FastOptions());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(d->Enqueue("on_write", receiver.Url(), kBody));
  ASSERT_TRUE(Eventually([&] { return d->Stats().delivered == 10; }));
  std::set<std::string> ids;
  for (const auto& r : receiver.requests()) ids.insert(r.headers.at("x-eventide-delivery"));
  EXPECT_EQ(ids.size(), 10u);
}

TEST(DispatcherTest, ServerErrorIsRetriedWithTheSameDeliveryId) {
  Receiver receiver(Sequence({500}));
  auto d = Make(FastOptions());
  ASSERT_TRUE(d->Enqueue("on_write", receiver.Url(), kBody));
  ASSERT_TRUE(Eventually([&] { return d->Stats().delivered == 1; }));
  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].headers.at("x-eventide-delivery"),
            requests[1].headers.at("x-eventide-delivery"));
  EXPECT_EQ(requests[0].headers.at("x-eventide-attempt"), "1");
  EXPECT_EQ(requests[1].headers.at("x-eventide-attempt"), "2");
  EXPECT_EQ(requests[1].body, kBody);
  HookStats s = d->Stats();
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.failed_attempts, 1u);
  EXPECT_EQ(s.retries, 1u);
  EXPECT_EQ(s.gave_up, 0u);
}

TEST(DispatcherTest, TooManyRequestsAndRequestTimeoutAreRetried) {
  Receiver receiver(Sequence({429, 408, 503}));
  DispatcherOptions o = FastOptions();
  o.max_attempts = 4;
  auto d = Make(o);
  ASSERT_TRUE(d->Enqueue("on_write", receiver.Url(), kBody));
  ASSERT_TRUE(Eventually([&] { return d->Stats().delivered == 1; }));
  EXPECT_EQ(receiver.request_count(), 4u);
  EXPECT_EQ(d->Stats().retries, 3u);
}

TEST(DispatcherTest, MalformedResponseIsRetried) {
  Receiver receiver([](size_t n) {
    return std::optional<std::string>(n == 0 ? "garbage, not HTTP\r\n\r\n" : StatusResponse(200));
  });
  auto d = Make(FastOptions());
  ASSERT_TRUE(d->Enqueue("on_write", receiver.Url(), kBody));
  ASSERT_TRUE(Eventually([&] { return d->Stats().delivered == 1; }));
  EXPECT_EQ(d->Stats().failed_attempts, 1u);
  EXPECT_EQ(receiver.request_count(), 2u);
}

TEST(DispatcherTest, EndlessResponseHeadIsMalformed) {
  Receiver receiver([](size_t n) {
    return std::optional<std::string>(
        n == 0 ? "HTTP/1.1 200 OK\r\nX-Long: " + std::string(40000, 'a') : StatusResponse(200));
  });
  auto d = Make(FastOptions());
  ASSERT_TRUE(d->Enqueue("on_write", receiver.Url(), kBody));
  ASSERT_TRUE(Eventually([&] { return d->Stats().delivered == 1; }));
  EXPECT_EQ(d->Stats().failed_attempts, 1u) << "the first answer never ended its headers";
}

TEST(DispatcherTest, ClosingWithoutAResponseIsRetried) {
  Receiver receiver(
      [](size_t n) { return std::optional<std::string>(n == 0 ? "" : StatusResponse(200)); });
  auto d = Make(FastOptions());
  ASSERT_TRUE(d->Enqueue("on_write", receiver.Url(), kBody));
  ASSERT_TRUE(Eventually([&] { return d->Stats().delivered == 1; }));
  EXPECT_EQ(d->Stats().failed_attempts, 1u);
}

TEST(DispatcherTest, InterimResponseIsSkipped) {
  Receiver receiver([](size_t) {
    return std::optional<std::string>("HTTP/1.1 100 Continue\r\n\r\n" + StatusResponse(200));
  });
  auto d = Make(FastOptions());
  ASSERT_TRUE(d->Enqueue("on_write", receiver.Url(), kBody));
  ASSERT_TRUE(Eventually([&] { return d->Stats().delivered == 1; }));
  EXPECT_EQ(d->Stats().failed_attempts, 0u);
}

TEST(DispatcherTest, NotFoundGivesUpWithoutRetry) {
  Receiver receiver(Always(404));
  auto d = Make(FastOptions());
  ASSERT_TRUE(d->Enqueue("on_write", receiver.Url(), kBody));
  ASSERT_TRUE(Eventually([&] { return d->Stats().gave_up == 1; }));
  HookStats s = d->Stats();
  EXPECT_EQ(s.failed_attempts, 1u);
  EXPECT_EQ(s.retries, 0u);
  EXPECT_EQ(s.delivered, 0u);
  EXPECT_EQ(s.queue_depth, 0u);
  EXPECT_EQ(receiver.request_count(), 1u);
}

TEST(DispatcherTest, RedirectGivesUpWithoutFollowing) {
  Receiver receiver([](size_t) {
    return std::optional<std::string>(
        "HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n");
  });
  auto d = Make(FastOptions());
  ASSERT_TRUE(d->Enqueue("on_write", receiver.Url(), kBody));
  ASSERT_TRUE(Eventually([&] { return d->Stats().gave_up == 1; }));
  EXPECT_EQ(d->Stats().retries, 0u);
}

TEST(DispatcherTest, UnansweredAttemptTimesOutRetriesAndGivesUp) {
  Receiver receiver(Never());
  DispatcherOptions o = FastOptions();
  o.timeout_ms = 200;
  auto d = Make(o);
  ASSERT_TRUE(d->Enqueue("on_write", receiver.Url(), kBody));
  ASSERT_TRUE(Eventually([&] { return d->Stats().gave_up == 1; }));
  HookStats s = d->Stats();
  EXPECT_EQ(s.failed_attempts, 3u);
  EXPECT_EQ(s.retries, 2u);
  EXPECT_EQ(s.delivered, 0u);
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(s.queue_depth, 0u);
  EXPECT_EQ(receiver.accepted(), 3u);
  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[2].headers.at("x-eventide-attempt"), "3");
}

TEST(DispatcherTest, StuckReceiverHoldsOneSlotWhileOthersAreDelivered) {
  Receiver stuck(Never());
  Receiver good(Always(200));
  DispatcherOptions o = FastOptions();
  o.timeout_ms = 60'000;  // the stuck attempt outlives the test
  o.concurrency = 2;
  auto d = Make(o);
  ASSERT_TRUE(d->Enqueue("on_realtime_connect", stuck.Url(), kBody));
  ASSERT_TRUE(Eventually([&] { return stuck.request_count() == 1; }));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(d->Enqueue("on_write", good.Url(), kBody));
  ASSERT_TRUE(Eventually([&] { return d->Stats().delivered == 20; }));
  HookStats s = d->Stats();
  EXPECT_EQ(s.in_flight, 1u) << "the stuck attempt";
  EXPECT_EQ(s.by_hook.at("on_realtime_connect").delivered, 0u);
  EXPECT_EQ(s.by_hook.at("on_write").delivered, 20u);
}

TEST(DispatcherTest, ConnectionRefusedRetriesThenGivesUp) {
  auto d = Make(FastOptions());
  std::string url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/hook";
  ASSERT_TRUE(d->Enqueue("on_write", url, kBody));
  ASSERT_TRUE(Eventually([&] { return d->Stats().gave_up == 1; }));
  HookStats s = d->Stats();
  EXPECT_EQ(s.failed_attempts, 3u);
  EXPECT_EQ(s.retries, 2u);
  EXPECT_EQ(s.delivered, 0u);
}

TEST(DispatcherTest, FullQueueDropsAndCounts) {
  Receiver receiver(Never());
  DispatcherOptions o = FastOptions();
  o.queue_capacity = 3;
  o.concurrency = 1;
  o.timeout_ms = 60'000;
  auto d = Make(o);
  // Capacity counts every delivery not finished, the one in flight included,
  // so this does not depend on how far the dispatcher's thread got.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(d->Enqueue("on_write", receiver.Url(), kBody));
  EXPECT_FALSE(d->Enqueue("on_write", receiver.Url(), kBody));
  EXPECT_FALSE(d->Enqueue("on_realtime_message", receiver.Url(), kBody));
  HookStats s = d->Stats();
  EXPECT_EQ(s.queued, 3u);
  EXPECT_EQ(s.dropped_queue_full, 2u);
  EXPECT_EQ(s.by_hook.at("on_write").dropped_queue_full, 1u);
  EXPECT_EQ(s.by_hook.at("on_realtime_message").dropped_queue_full, 1u);
  EXPECT_EQ(s.in_flight + s.queue_depth, 3u);
}

TEST(DispatcherTest, DestructorReturnsPromptlyWithAnUnansweredAttempt) {
  Receiver receiver(Never());
  DispatcherOptions o = FastOptions();
  o.timeout_ms = 60'000;
  o.initial_backoff_ms = 60'000;
  o.max_backoff_ms = 60'000;
  o.concurrency = 1;
  auto d = Make(o);
  ASSERT_TRUE(d->Enqueue("on_write", receiver.Url(), kBody));
  // One backing off for a minute, one waiting for the slot.
  std::string refused = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/";
  ASSERT_TRUE(d->Enqueue("on_write", refused, kBody));
  ASSERT_TRUE(d->Enqueue("on_write", receiver.Url(), kBody));
  ASSERT_TRUE(Eventually([&] { return receiver.request_count() == 1; }));
  auto start = std::chrono::steady_clock::now();
  d.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(DispatcherTest, DestructorRightAfterCreate) {
  for (int i = 0; i < 20; ++i) {
    auto d = Make(FastOptions());
    ASSERT_TRUE(d->Enqueue("on_write", "http://127.0.0.1:1/", kBody));
  }
}

TEST(DispatcherTest, LocalhostIsResolved) {
  Receiver receiver(Always(200));
  auto d = Make(FastOptions());
  // localhost may resolve to ::1 first, where nothing listens: the
  // dispatcher goes on to the next address within the same attempt.
  std::string url = "http://localhost:" + std::to_string(receiver.port()) + "/hook";
  ASSERT_TRUE(d->Enqueue("on_write", url, kBody));
  ASSERT_TRUE(Eventually([&] { return d->Stats().delivered == 1; }));
  EXPECT_EQ(d->Stats().failed_attempts, 0u);
  EXPECT_EQ(receiver.requests()[0].headers.at("host"),
            "localhost:" + std::to_string(receiver.port()));
}

TEST(DispatcherTest, UnknownHostIsRetriedThenGivenUp) {
  DispatcherOptions o = FastOptions();
  o.max_attempts = 2;  // each costs a resolver round trip (.invalid never exists: RFC 6761)
  auto d = Make(o);
  ASSERT_TRUE(d->Enqueue("on_write", "http://no-such-host.invalid/hook", kBody));
  ASSERT_TRUE(Eventually([&] { return d->Stats().gave_up == 1; }));
  EXPECT_EQ(d->Stats().failed_attempts, 2u);
  EXPECT_EQ(d->Stats().retries, 1u);
}

TEST(DispatcherTest, InvalidUrlIsGivenUpAtOnce) {
  auto d = Make(FastOptions());
  ASSERT_TRUE(d->Enqueue("on_write", "ftp://example.com/", kBody));
  ASSERT_TRUE(d->Enqueue("on_write", "http://a b/", kBody));
  ASSERT_TRUE(Eventually([&] { return d->Stats().gave_up == 2; }));
  EXPECT_EQ(d->Stats().retries, 0u);
}

TEST(DispatcherTest, HookNameIsMadeHeaderSafe) {
  Receiver receiver(Always(200));
  auto d = Make(FastOptions());
  ASSERT_TRUE(d->Enqueue("on\r\nX-Evil: 1", receiver.Url(), kBody));
  ASSERT_TRUE(Eventually([&] { return d->Stats().delivered == 1; }));
  auto r = receiver.requests()[0];
  EXPECT_EQ(r.headers.count("x-evil"), 0u);
  EXPECT_EQ(r.headers.at("x-eventide-hook"), "on__X-Evil:_1");
}

TEST(DispatcherTest, CountsPerHook) {
  Receiver ok(Always(200));
  Receiver refusing(Always(400));
  auto d = Make(FastOptions());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(d->Enqueue("on_write", ok.Url(), kBody));
  for (int i = 0; i < 2; ++i)
    ASSERT_TRUE(d->Enqueue("on_realtime_subscribe", refusing.Url(), kBody));
  ASSERT_TRUE(Eventually([&] {
    HookStats s = d->Stats();
    return s.delivered == 3 && s.gave_up == 2;
  }));
  HookStats s = d->Stats();
  ASSERT_EQ(s.by_hook.size(), 2u);
  EXPECT_EQ(s.by_hook.at("on_write").queued, 3u);
  EXPECT_EQ(s.by_hook.at("on_write").delivered, 3u);
  EXPECT_EQ(s.by_hook.at("on_write").gave_up, 0u);
  EXPECT_EQ(s.by_hook.at("on_realtime_subscribe").queued, 2u);
  EXPECT_EQ(s.by_hook.at("on_realtime_subscribe").failed_attempts, 2u);
  EXPECT_EQ(s.by_hook.at("on_realtime_subscribe").gave_up, 2u);
}

TEST(DispatcherTest, EnqueueFromManyThreads) {
  Receiver receiver(Always(200));
  auto d = Make(FastOptions());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) EXPECT_TRUE(d->Enqueue("on_write", receiver.Url(), kBody));
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(Eventually([&] { return d->Stats().delivered == 100; }));
  EXPECT_EQ(receiver.request_count(), 100u);
}

// https: a receiver with the self-signed localhost certificate the server
// makes for `--tls auto` (CN=localhost, SANs DNS:localhost and IP:127.0.0.1).
class HttpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/eventide_hooks_tls_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    bool generated = false;
    Status s = net::EnsureSelfSignedCertificate(dir_, &cert_, &key_, &generated);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ctx_ = SSL_CTX_new(TLS_server_method());
    ASSERT_EQ(SSL_CTX_use_certificate_chain_file(ctx_, cert_.c_str()), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey_file(ctx_, key_.c_str(), SSL_FILETYPE_PEM), 1);
  }
  void TearDown() override {
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    std::filesystem::remove_all(dir_);
  }

  std::string dir_, cert_, key_;
  SSL_CTX* ctx_ = nullptr;
};

TEST_F(HttpsTest, DeliversToATrustedCertificate) {
  Receiver receiver(Always(200), ctx_);
  DispatcherOptions o = FastOptions();
  o.tls_ca_file = cert_;
  auto d = Make(o);
  ASSERT_TRUE(d->Enqueue("on_write", receiver.Url(), kBody));  // by IP
  ASSERT_TRUE(d->Enqueue("on_write",
                         "https://localhost:" + std::to_string(receiver.port()) + "/hook",
                         kBody));  // by name
  ASSERT_TRUE(Eventually([&] { return d->Stats().delivered == 2; }));
  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].body, kBody);
  EXPECT_EQ(requests[0].headers.at("x-eventide-hook"), "on_write");
}

TEST_F(HttpsTest, RefusesAnUntrustedCertificate) {
  Receiver receiver(Always(200), ctx_);
  auto d = Make(FastOptions());  // the system's CAs: the self-signed one is not among them
  ASSERT_TRUE(d->Enqueue("on_write", receiver.Url(), kBody));
  ASSERT_TRUE(Eventually([&] { return d->Stats().gave_up == 1; }));
  HookStats s = d->Stats();
  EXPECT_EQ(s.delivered, 0u);
  EXPECT_EQ(s.failed_attempts, 3u);
  EXPECT_EQ(receiver.request_count(), 0u);
}

}  // namespace
}  // namespace eventide::hooks
