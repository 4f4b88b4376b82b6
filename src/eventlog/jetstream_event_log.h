// The JetStream backend: several Eventide nodes share one NATS JetStream
// stream (docs/CLUSTER.md).
//
//   loop thread                publisher thread        libnats threads
//   -----------                ----------------        ---------------
//   Append: a natsMsg on the   js_PublishMsgAsync      ack handler: PubAck (seq)
//   record's subject, with     (MaxWait; a retry       or error -> Outcome queue
//   Nats-Msg-Id and expected   keeps the Msg-Id, so    -> uv_async -> listener
//   last subject sequence      JetStream drops a copy)
//                                                      ordered consumer: every
//   OnLogDurable <- uv_async <- local wal::Log <------- message in stream order,
//   ReadEntry: from memory                             appended to the local
//   (or the local log)                                 copy at position = seq
//
// So a position is the stream sequence on every node. No NATS call runs on
// the loop thread.
#ifndef EVENTIDE_SRC_EVENTLOG_JETSTREAM_EVENT_LOG_H_
#define EVENTIDE_SRC_EVENTLOG_JETSTREAM_EVENT_LOG_H_

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "src/eventlog/event_log.h"

namespace eventide::eventlog {

struct JetStreamOptions {
  std::string urls;  // comma-separated nats:// URLs
  std::string stream = "EVENTIDE";
  uint64_t replicas = 3;
  std::string node;  // names this node's publishes (Nats-Msg-Id) and connection
  // A publish without PubAck in this time is sent again (same Msg-Id),
  // as is one refused for want of a stream leader; a write still without a
  // PubAck kPublishWindowTimeouts times this after its first send is
  // answered 503.
  uint64_t publish_timeout_ms = 5000;
  // Start-up waits for the local copy to reach the stream's last sequence;
  // it fails when no progress is made for this long.
  uint64_t catch_up_stall_ms = 30000;
  // While the NATS cluster has no JetStream leader (it is electing one),
  // start-up retries for this long before it fails.
  uint64_t startup_wait_ms = 30000;
};

struct JetStreamStats {
  uint64_t published = 0;  // PubAcks
  uint64_t duplicates = 0;  // PubAcks for a Msg-Id JetStream had already
  uint64_t conflicts = 0;   // wrong last subject sequence
  uint64_t retries = 0;     // publishes sent again after a timeout
  uint64_t failed = 0;      // publishes given up
  uint64_t reconnects = 0;
  double publish_seconds_sum = 0;  // send to PubAck
  uint64_t publish_count = 0;
};

class JetStreamEventLog final : public EventLog {
 public:
  static constexpr int kPublishWindowTimeouts = 6;

  // Connects, checks (or creates) the stream, and catches the local copy up
  // to the stream's last sequence before returning. Clear errors for no
  // reachable server, no JetStream, a stream with other subjects or another
  // replica count, and a local copy the stream's retention has passed.
  static Result<std::unique_ptr<JetStreamEventLog>> Open(const JetStreamOptions& options,
                                                         std::unique_ptr<wal::Log> local);
  ~JetStreamEventLog() override;

  Status Start(uv_loop_t* loop, Listener* listener) override;
  void Close() override;
  Appended Append(const AppendRequest& request) override;
  void Flush() override;
  Status ReadEntry(wal::Position p, std::string* payload) override;
  wal::Log* local() override { return local_.get(); }
  wal::Position known_head() override;
  void RefreshKnownHead() override;
  Status Health() const override;
  const std::string& durability() const override { return durability_; }
  std::string_view kind() const override { return "jetstream"; }
  void AppendMetrics(std::string* out) override;

  JetStreamStats Stats() const;

 private:
  struct Entry {
    uint64_t position;
    std::string payload;
  };
  struct InFlight {
    int64_t sent_us = 0;
    int attempts = 1;
  };
  struct Retry {
    natsMsg* msg;
    int64_t due_us;
  };

  JetStreamEventLog(const JetStreamOptions& options, std::unique_ptr<wal::Log> local);
  Status Connect();
  Status CheckStream(uint64_t* last_seq);
  Status Subscribe();
  Status CatchUp(uint64_t last_seq);
  void PublisherMain();
  void RefreshNow();  // publisher thread: known_head_ from the stream's info
  void Fail(const Status& s);
  void Poke();
  static int64_t WallMicrosForId();
  int64_t RetryWindowMicros() const;

  static void OnMessage(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure);
  static void OnAck(jsCtx* js, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure);
  static void OnReconnected(natsConnection* nc, void* closure);
  void HandleMessage(natsMsg* msg);
  void HandleAck(natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae);

  const JetStreamOptions options_;
  std::unique_ptr<wal::Log> local_;
  std::string durability_;
  std::string msg_id_prefix_;  // node:boot: — a ticket completes the Msg-Id

  natsOptions* nats_options_ = nullptr;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  natsSubscription* sub_ = nullptr;

  // Loop thread.
  Listener* listener_ = nullptr;
  uv_async_t async_;
  std::atomic<bool> started_{false};
  std::atomic<bool> closed_{false};
  bool send_needed_ = false;
  std::vector<Outcome> delivering_;  // reused
  std::unique_ptr<wal::Reader> reader_;

  // Loop -> publisher thread: messages to send (owned), and retries.
  std::mutex pub_mu_;
  std::condition_variable pub_cv_;
  std::vector<natsMsg*> to_send_;  // guarded by pub_mu_
  std::vector<Retry> retries_;     // guarded by pub_mu_
  bool stop_ = false;              // guarded by pub_mu_
  bool refresh_wanted_ = false;    // guarded by pub_mu_: a stream info for known_head_
  std::thread publisher_;

  // Ack handler -> loop.
  mutable std::mutex out_mu_;
  std::vector<Outcome> outcomes_;                    // guarded by out_mu_
  std::unordered_map<uint64_t, InFlight> inflight_;  // by ticket; guarded by out_mu_
  JetStreamStats stats_;                             // guarded by out_mu_

  // Consumer thread -> loop: entries appended to the local copy.
  std::mutex in_mu_;
  std::deque<Entry> consumed_;  // guarded by in_mu_
  uint64_t next_seq_ = 0;       // consumer thread: the sequence it expects next
  std::atomic<uint64_t> known_head_{0};

  bool transient_ = false;  // start-up: the last failure may pass (Transient)
  int ahead_answers_ = 0;   // start-up: answers that the stream ends before the local log

  mutable std::mutex fail_mu_;
  Status failed_;  // guarded by fail_mu_; sticky
};

}  // namespace eventide::eventlog

#endif  // EVENTIDE_SRC_EVENTLOG_JETSTREAM_EVENT_LOG_H_
