// stream_bench: what fan-out costs per delivery, against a baseline taken in
// the same run (SPEC section 6: one serialization per event, shared by every
// subscriber).
//
//   Encode/{sse,ws}      serializing one event (the per-event cost)
//   Publish/N            Hub::Publish of one event to N live subscribers of
//                        one format: one encoding, N shared references queued
//   PublishNaive/N       the baseline a design without sharing pays: one
//                        encoding and one copy per subscriber
//   PublishFiltered/N    N subscribers of N different record topics: the
//                        event matches one; the rest cost a topic check
//   PublishRuled/N       Publish/N where every subscriber is a different user
//                        with its own bound read rule ("author = $auth.sub or
//                        published = true", every event published): one
//                        parse and extraction per event, N evaluations
//
// Deliveries/s is items_per_second. The ratio Publish/PublishNaive at the
// same N is the figure docs/PERFORMANCE.md quotes.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "src/event/event.h"
#include "src/stream/formats.h"
#include "src/stream/hub.h"

namespace eventide::stream {
namespace {

class NoLog : public LogSource {
 public:
  void Read(wal::Position, wal::Position,
            std::function<void(Status, std::vector<LoggedEntry>)> done) override {
    done(Status::NotFound("none"), {});
  }
};

// A connection's output queue: holds references (or copies) until "written".
class QueueSink : public Sink {
 public:
  void Send(const Frame& f) override {
    queued_.push_back(f);
    if (queued_.size() >= 64) queued_.clear();  // the socket took them
  }
  size_t pending_output_bytes() const override { return 0; }

 private:
  std::vector<Frame> queued_;
};

struct Sample {
  std::string data =
      R"({"id":"msg-1","title":"Hello","content":"World, a message of a typical size for a chat or a dashboard row","author":"ada","__createdAt__":"2025-01-15T10:30:00.000Z","__updatedAt__":"2025-01-15T10:30:00.000Z"})";
  event::Event e;
  Sample() {
    e.op = event::Op::kUpdate;
    e.time_ms = 1736937000000;
    e.app = "realtime-demo";
    e.table = "Message";
    e.id = "msg-1";
    e.data = data;
  }
};

void Encode(benchmark::State& state, Encoder enc) {
  Sample s;
  uint64_t p = 1;
  for (auto _ : state) {
    std::string out = enc(wal::Position(p++), s.e);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(Encode, sse, EncodeSseEvent);
BENCHMARK_CAPTURE(Encode, ws, EncodeWsEvent);

void Publish(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Sample s;
  NoLog log;
  Hub hub(&log, wal::Position(), 1 << 20, AllFormats());
  std::vector<std::unique_ptr<QueueSink>> sinks;
  for (int i = 0; i < n; ++i) {
    sinks.push_back(std::make_unique<QueueSink>());
    hub.Subscribe(Topic{"realtime-demo", "Message", ""}, kSseFormat, sinks.back().get(),
                  wal::Position());
  }
  uint64_t p = 1;
  for (auto _ : state) hub.Publish(wal::Position(p++), s.e);
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["deliveries_per_event"] = n;
}
BENCHMARK(Publish)->Arg(1)->Arg(100)->Arg(1000)->Arg(10000);

// The baseline: what N subscribers cost when each gets its own encoding.
void PublishNaive(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Sample s;
  std::vector<QueueSink> sinks(n);
  uint64_t p = 1;
  for (auto _ : state) {
    const wal::Position pos(p++);
    for (QueueSink& sink : sinks) {
      sink.Send(std::make_shared<const std::string>(EncodeSseEvent(pos, s.e)));
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(PublishNaive)->Arg(1)->Arg(100)->Arg(1000)->Arg(10000);

void PublishFiltered(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Sample s;
  NoLog log;
  Hub hub(&log, wal::Position(), 1 << 20, AllFormats());
  std::vector<std::unique_ptr<QueueSink>> sinks;
  for (int i = 0; i < n; ++i) {
    sinks.push_back(std::make_unique<QueueSink>());
    hub.Subscribe(
        Topic{"realtime-demo", "Message", i == 0 ? "msg-1" : "msg-" + std::to_string(i + 1)},
        kWsFormat, sinks.back().get(), wal::Position());
  }
  uint64_t p = 1;
  for (auto _ : state) hub.Publish(wal::Position(p++), s.e);
  state.SetItemsProcessed(state.iterations());
  state.counters["subscribers_checked"] = n;
}
BENCHMARK(PublishFiltered)->Arg(100)->Arg(10000);

void PublishRuled(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Sample s;
  s.data =
      R"({"id":"msg-1","title":"Hello","content":"World, a message of a typical size for a chat or a dashboard row","author":"ada","published":true,"__createdAt__":"2025-01-15T10:30:00.000Z","__updatedAt__":"2025-01-15T10:30:00.000Z"})";
  s.e.data = s.data;
  auto rule = *policy::Policy::Parse("author = $auth.sub or published = true",
                                     [](std::string_view) { return true; });
  NoLog log;
  Hub hub(&log, wal::Position(), 1 << 20, AllFormats());
  std::vector<std::unique_ptr<QueueSink>> sinks;
  std::vector<std::unique_ptr<Rules>> rules;
  for (int i = 0; i < n; ++i) {
    sinks.push_back(std::make_unique<QueueSink>());
    rules.push_back(std::make_unique<Rules>(
        Rules{rule->Bind(R"({"sub":"user-)" + std::to_string(i) + R"("})")}));
    hub.Subscribe(Topic{"realtime-demo", "Message", ""}, kSseFormat, sinks.back().get(),
                  wal::Position(), rules.back().get());
  }
  uint64_t p = 1;
  for (auto _ : state) hub.Publish(wal::Position(p++), s.e);
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["deliveries_per_event"] = n;
}
BENCHMARK(PublishRuled)->Arg(1)->Arg(100)->Arg(1000)->Arg(10000);

}  // namespace
}  // namespace eventide::stream

BENCHMARK_MAIN();
