// stream::Subscription (src/stream/subscription.h) against a LogSource that
// answers inside Read, as LogSource allows: a catch-up that fails at once
// resets the subscription, which then follows the head with exactly one hub
// cursor, and leaves the hub when it goes. (Found by snackbase_ws_fuzzer: the
// subscription kept the failed cursor's id and left the new one in the hub.)
#include "src/stream/subscription.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "src/event/event.h"
#include "src/projection/projection.h"

namespace eventide::stream {
namespace {

class FailingLog : public LogSource {
 public:
  void Read(wal::Position, wal::Position,
            std::function<void(Status, std::vector<LoggedEntry>)> done) override {
    done(Status::NotFound("gone"), {});  // at once
  }
};

class Capture : public StreamTransport {
 public:
  void Send(std::string_view bytes) override { out.emplace_back(bytes); }
  void SendShared(const Frame& frame) override { out.push_back(*frame); }
  size_t pending_output_bytes() const override { return 0; }
  void Close() override {}
  void Abort() override {}
  void SetTimer(uint64_t) override {}
  void PauseReading() override {}
  void ResumeReading() override {}
  std::vector<std::string> out;
};

class Said : public Notices {
 public:
  void OnReset(const Subscription&, std::string_view reason, wal::Position) override {
    said.push_back("reset " + std::string(reason));
  }
  void OnRetained(const Subscription&, const projection::Record& r) override {
    said.push_back("retained " + std::string(r.id()));
  }
  void OnSynced(const Subscription&, wal::Position p) override {
    said.push_back("synced " + std::to_string(p.value()));
  }
  std::vector<std::string> said;
};

std::string Encode(wal::Position p, const event::Event&) { return std::to_string(p.value()); }

TEST(SubscriptionTest, ACatchUpFailingInsideSubscribeResetsToOneCursor) {
  FailingLog log;
  Hub hub(&log, wal::Position(), 1 << 20, {Encode});
  projection::Projection projection;
  StreamContext ctx;
  ctx.hub = &hub;
  ctx.projection = &projection;
  ctx.first_retained = [] { return wal::Position(1); };
  ctx.now_ms = [] { return int64_t{0}; };
  ctx.wall_ms = [] { return int64_t{0}; };
  event::Event e;
  e.app = "app";
  e.table = "T";
  e.id = "a";
  e.data = R"({"id":"a"})";
  for (uint64_t p = 1; p <= 3; ++p) {
    projection.Apply(wal::Position(p), e);
    hub.Publish(wal::Position(p), e);
  }
  Capture transport;
  Said notices;
  {
    Subscription sub(&ctx, &transport, &notices, Topic("app", "T"), "T", 0);
    sub.Start(ParseResumeId("1"), false);
    EXPECT_EQ(notices.said, (std::vector<std::string>{"reset expired", "retained a", "synced 3"}));
    EXPECT_EQ(hub.subscribers(), 1u);
    projection.Apply(wal::Position(4), e);
    hub.Publish(wal::Position(4), e);
    EXPECT_EQ(transport.out, (std::vector<std::string>{"4"}));
  }
  EXPECT_EQ(hub.subscribers(), 0u) << "no cursor is left behind";
}

}  // namespace
}  // namespace eventide::stream
