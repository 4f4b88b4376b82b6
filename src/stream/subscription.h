// One subscription of a stream (SPEC section 6, "Positions, resume and
// retained replay"): the resume decision, the retained snapshot sent as the
// connection drains, then a cursor in the hub. An SSE stream has one; a
// WebSocket connection has one per topic it follows.
//
//   Start(resume, want_retained)
//     ├─ position retained ─────────────▶ cursor at it (catches up, then live)
//     ├─ expired / unknown / malformed ─▶ Reset notice, then as fresh
//     └─ fresh ─ want_retained ─▶ Retained… Synced(P) ─▶ cursor at P
//              └ otherwise ────────────────────────────▶ cursor at the head
//
// The dialect says the notices (Notices); the subscription decides when.
// Loop thread only.
#ifndef EVENTIDE_SRC_STREAM_SUBSCRIPTION_H_
#define EVENTIDE_SRC_STREAM_SUBSCRIPTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/stream/stream.h"

namespace eventide::stream {

class Subscription;

// How a dialect tells a subscriber about its subscription.
class Notices {
 public:
  virtual ~Notices() = default;
  // Its position is expired or unknown (or malformed): a fresh start follows.
  virtual void OnReset(const Subscription& s, std::string_view reason, wal::Position head) = 0;
  // One record of the retained snapshot.
  virtual void OnRetained(const Subscription& s, const projection::Record& r) = 0;
  // The snapshot is complete as of `p`; live events follow from after `p`.
  virtual void OnSynced(const Subscription& s, wal::Position p) = 0;
};

class Subscription final : public Sink {
 public:
  // `name`: the topic as the client spells it ("Message", "Message/msg-1").
  // `format`: the wire format of its events (formats.h). REQUIRES: ctx,
  // transport and notices outlive the subscription.
  Subscription(StreamContext* ctx, StreamTransport* transport, Notices* notices, Topic topic,
               std::string name, size_t format);
  ~Subscription() override;

  // `want_retained`: a record topic, or a table topic asked with retained.
  void Start(const ResumeId& resume, bool want_retained);
  // The connection drained below half its output limit: the snapshot goes
  // on, or the cursor catches up.
  void OnDrained();
  // Leaves the hub; nothing more is sent.
  void Stop();

  // Its reader's bound read rule (SPEC section 8): events and retained
  // records the rule does not admit are not sent. May change while it runs
  // (a WebSocket's new token); takes effect from the next event.
  // A topic of one table has one rule; one of several tables one per table
  // (Rules).
  void set_rule(policy::Bound rule) {
    // No rule: none to look up per event (the common case stays free).
    if (rule.empty()) {
      rules_.clear();
    } else {
      rules_ = {std::move(rule)};
    }
  }
  void set_rules(Rules rules) { rules_ = std::move(rules); }
  const Rules& rules() const { return rules_; }

  const Topic& topic() const { return topic_; }
  const std::string& name() const { return name_; }
  // During OnRetained: the table (as the schema names it) of the record given.
  // A multi-table topic's snapshot holds its tables' records table by table.
  const std::string& retained_table() const {
    return snapshot_table_ == 0 ? topic_.table : topic_.more_tables[snapshot_table_ - 1];
  }

  // Sink
  void Send(const Frame& frame) override;
  size_t pending_output_bytes() const override { return t_->pending_output_bytes(); }
  void OnCatchUpFailed(uint64_t id, const Status& status) override;

 private:
  void BeginSnapshot();
  void ContinueSnapshot();
  void Follow(wal::Position after);

  StreamContext* ctx_;
  StreamTransport* t_;
  Notices* notices_;
  Topic topic_;
  std::string name_;
  size_t format_;
  Rules rules_;  // the hub holds a pointer to it
  // Expires with the subscription: a deferred Start (StreamContext::
  // when_applied) checks it.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  bool waited_ = false;  // Start waited for this node to apply its resume id once
  static constexpr uint64_t kUnknownResumeWaitMs = 5000;
  // The rule for the `i`th table of the topic (null: none).
  const policy::Bound* RuleFor(size_t i) const {
    return rules_.empty() ? nullptr : &rules_[i < rules_.size() ? i : 0];
  }
  policy::Row row_;         // scratch for judging retained records
  uint64_t hub_id_ = 0;     // 0: not in the hub
  uint64_t failed_id_ = 0;  // the last hub id whose catch-up failed
  bool stopped_ = false;
  bool snapshotting_ = false;
  std::vector<projection::RecordPtr> snapshot_;
  size_t snapshot_next_ = 0;
  std::vector<size_t> snapshot_table_ends_;  // per table of the topic: where its records end
  size_t snapshot_table_ = 0;                // the table of snapshot_[snapshot_next_ - 1]
  wal::Position snapshot_position_;
};

}  // namespace eventide::stream

#endif  // EVENTIDE_SRC_STREAM_SUBSCRIPTION_H_
