// The hub: every subscriber is a cursor over the log (SPEC section 6).
//
//   durable entry N ──Publish(N)──▶ live subscribers whose cursor is N-1:
//                                   one encoding shared by all that match
//   subscriber behind the head ──▶ CatchUp reads the log after its cursor
//                                   (off the loop), frames are sent, and when
//                                   the cursor reaches the head it turns live
//
// The hand-over is exact because everything that moves a cursor runs on the
// loop thread: Publish(N) only touches subscribers that are live, whose cursor
// is N-1 by construction; a catch-up batch ends at the head it was asked for,
// and the subscriber turns live only if no Publish happened since (its cursor
// equals the current head); otherwise it reads again. No gap, no duplicate.
//
// A live subscriber's cursor is the head (implicitly: entries that do not
// match it need not touch it), so Publish visits only the live subscribers of
// the entry's table topic and record topic, through an index by topic:
// O(matching subscribers), not O(all subscribers). A multi-table topic
// (Topic::more_tables) is in the index once per table; an entry has one
// table, so it still reaches that subscriber once.
//
// A live subscriber whose connection holds more than max_output_bytes stops
// taking live frames (its cursor stays put) and catches up from the log once
// its connection drains (OnDrained).
//
// Loop thread only.
#ifndef EVENTIDE_SRC_STREAM_HUB_H_
#define EVENTIDE_SRC_STREAM_HUB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "src/event/event.h"
#include "src/policy/policy.h"
#include "wal/position.h"
#include "wal/status.h"

namespace eventide::stream {

// One serialized frame, shared by every subscriber that receives it.
using Frame = std::shared_ptr<const std::string>;

// A bit per operation, for Topic::ops.
constexpr uint8_t OpBit(event::Op op) { return static_cast<uint8_t>(1u << static_cast<int>(op)); }
inline constexpr uint8_t kAllOps = 0xFF;

// Which entries a subscription follows: a table topic (id empty) or a record
// topic.
struct Topic {
  Topic() = default;
  Topic(std::string app_id, std::string table_name, std::string record_id = {})
      : app(std::move(app_id)), table(std::move(table_name)), id(std::move(record_id)) {}
  std::string app, table;  // table as the schema names it
  std::string id;          // "" = the whole table
  // The compatibility dialects (docs/DIALECTS.md). A table topic may follow
  // further whole tables of the same app with the same cursor, so one
  // subscriber sees the entries of all its tables in position order; and a
  // topic may take only some operations (OpBit of each). Native topics keep
  // the defaults. REQUIRES: more_tables only with an empty id.
  std::vector<std::string> more_tables;
  uint8_t ops = kAllOps;
  bool Matches(const event::Event& e) const;
};

// Where a subscriber's frames go (its connection).
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void Send(const Frame& frame) = 0;
  virtual size_t pending_output_bytes() const = 0;
  // Subscription `id` could not catch up (its position is no longer retained,
  // or the log could not be read); it stays subscribed but gets nothing more
  // until the sink unsubscribes it (and, typically, resets the client).
  virtual void OnCatchUpFailed(uint64_t id, const Status& status) {
    (void)id;
    (void)status;
  }
};

// What read rules see of one event (SPEC section 8): its record states,
// parsed at most once per event, and each rule's fields of them extracted at
// most once, whatever the number of subscribers that judge it.
class EventRows {
 public:
  explicit EventRows(const event::Event& e) : e_(e) {}
  // `rule`'s fields of the event's data (the record after a create or
  // update, its last state for a delete, the message for a publish), or of
  // the record before an update (`prev`; REQUIRES: !e.prev.empty()).
  const policy::Row& Fields(const policy::Policy& rule, bool prev);

 private:
  const event::Event& e_;
  // Made on first need: a Document allocates when constructed, and most
  // events meet no rule.
  std::optional<rapidjson::Document> data_, prev_;
  struct Cached {
    const policy::Policy* rule;
    bool prev;
    policy::Row row;
  };
  std::vector<Cached> cache_;
};

// A subscriber's read rules bound to its reader, one per table of its topic
// (topic.table first, then more_tables in order); empty: none.
using Rules = std::vector<policy::Bound>;
// The rule `rules` hold for an event of `table` under `topic`; null when
// there are none. REQUIRES: rules is empty or has one per table of topic.
const policy::Bound* RuleFor(const Topic& topic, const Rules& rules, std::string_view table);

// How one subscriber with a read rule gets an event.
enum class Verdict { kDeliver, kSkip, kLeftView };
// An update the subscriber could see before and not after is a left_view
// delete; one it sees after is delivered (whether or not it saw it before);
// every other event is delivered when the rule admits its data.
Verdict Judge(const policy::Bound& rule, const event::Event& e, EventRows* rows);

// Judge with the rule `rules` hold for the event's table under `topic`
// (kDeliver without one); a left_view goes only to a topic that takes
// deletes.
Verdict JudgeFor(const Topic& topic, const Rules* rules, const event::Event& e, EventRows* rows);

// The event a subscriber gets for kLeftView: a delete of the record's state
// before the update, with reason "left_view". Views `e`.
event::Event LeftView(const event::Event& e);

// Encodes one event for a wire format (SSE now; WS later). The hub is given
// one encoder per format and encodes each published entry at most once per
// format, whatever the number of subscribers.
using Encoder = std::function<std::string(wal::Position, const event::Event&)>;

// An entry read back from the log for a catch-up.
struct LoggedEntry {
  wal::Position position;
  std::string payload;  // the encoded event
};

// Reads the log for subscribers behind the head. The server runs it on the
// libuv pool; tests may run it at once. `done` runs on the loop thread.
class LogSource {
 public:
  virtual ~LogSource() = default;
  // Entries after `after`, up to and including `to`, in order. NotFound when
  // `after` + 1 is no longer retained.
  virtual void Read(wal::Position after, wal::Position to,
                    std::function<void(Status, std::vector<LoggedEntry>)> done) = 0;
};

class Hub {
 public:
  // REQUIRES: source outlives the hub. `head` is the last entry already
  // durable and applied when the hub starts. `formats`: one encoder per wire
  // format; a subscriber names its format by index.
  Hub(LogSource* source, wal::Position head, size_t max_output_bytes, std::vector<Encoder> formats);

  // A subscriber that has seen everything up to `after` (a position past the
  // head counts as the head). `rules`: its bound read rules, or null for
  // none. REQUIRES: format < formats.size(); sink and rules outlive the
  // subscription (Unsubscribe before they go).
  uint64_t Subscribe(Topic topic, size_t format, Sink* sink, wal::Position after,
                     const Rules* rules = nullptr);
  void Unsubscribe(uint64_t id);

  // The durable entry at `p`, in position order, after the projection
  // applied it. REQUIRES: p == head() + 1.
  void Publish(wal::Position p, const event::Event& e);

  // Adds a wire format (e.g. one GraphQL selection, shared by every
  // subscription that selects the same fields); returns its index.
  size_t AddFormat(Encoder encoder);
  size_t formats() const { return formats_.size(); }

  // The subscriber's connection drained: if it fell behind, it catches up.
  void OnDrained(uint64_t id);

  wal::Position head() const { return head_; }
  wal::Position cursor(uint64_t id) const;
  bool live(uint64_t id) const;
  size_t subscribers() const { return subs_.size(); }
  uint64_t catch_ups() const { return catch_ups_; }
  // How far cursors trail the head (for /metrics): subscribers not live,
  // and the largest head - cursor. O(subscribers).
  struct Lag {
    uint64_t behind = 0;
    uint64_t max_entries = 0;
  };
  Lag lag() const;

  // Called with a subscriber whose catch-up failed (its position is no
  // longer retained, or the log could not be read), before its sink's
  // OnCatchUpFailed: the caller resets it.
  std::function<void(uint64_t id, const Status&)> on_catch_up_failed;

 private:
  struct Sub;
  // The live subscribers of one topic, in no order (subs_ is node-based:
  // its elements do not move).
  using LiveList = std::vector<Sub*>;
  struct Sub {
    Topic topic;
    size_t format = 0;
    Sink* sink;
    const Rules* rules = nullptr;  // null or empty: sees every event
    // When not live: everything up to here was sent or did not match. A
    // live subscriber's cursor is the head.
    wal::Position cursor;
    bool live = false;
    bool reading = false;  // a catch-up read is in flight
    std::string key;       // its topic's index key
    size_t slot = 0;       // its place in live_[key] while live
    // A multi-table topic is indexed under each further table's key too.
    std::vector<std::string> more_keys;
    std::vector<size_t> more_slots;  // its place in live_[more_keys[k]]
  };
  static void TopicKey(std::string_view app, std::string_view table, std::string_view id,
                       std::string* out);
  void GoLive(Sub& s);
  void LeaveLive(Sub& s);
  // Takes the live subscriber at live_[key][slot] out of that list.
  void RemoveLive(const std::string& key, size_t slot);
  void StartCatchUp(uint64_t id);
  void CatchUpFailed(uint64_t id, Sink* sink, const Status& status);

  LogSource* source_;
  wal::Position head_;
  size_t max_output_bytes_;
  std::vector<Encoder> formats_;
  std::vector<Frame> frames_;       // this Publish's frame per format (reused)
  std::vector<Frame> left_frames_;  // ... and its left_view delete per format
  uint64_t next_id_ = 1;
  uint64_t catch_ups_ = 0;
  std::unordered_map<uint64_t, Sub> subs_;
  // Live subscribers by topic key: "app\0table\0" for a table topic,
  // "app\0table\0id" for a record topic.
  std::unordered_map<std::string, LiveList> live_;
  std::string key_;  // Publish's lookup key (reused)
};

}  // namespace eventide::stream

#endif  // EVENTIDE_SRC_STREAM_HUB_H_
