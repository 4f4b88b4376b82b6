#include "src/stream/hub.h"

#include <algorithm>
#include <utility>

namespace eventide::stream {

bool Topic::Matches(const event::Event& e) const {
  if (e.app != app || (ops & OpBit(e.op)) == 0) return false;
  if (e.table != table) {
    return std::find(more_tables.begin(), more_tables.end(), e.table) != more_tables.end();
  }
  // A table-level publish (empty id) reaches the table topic only.
  return id.empty() || e.id == id;
}

const policy::Row& EventRows::Fields(const policy::Policy& rule, bool prev) {
  for (Cached& c : cache_) {
    if (c.rule == &rule && c.prev == prev) return c.row;
  }
  std::optional<rapidjson::Document>& d = prev ? prev_ : data_;
  if (!d) {
    const std::string_view json = prev ? e_.prev : e_.data;
    d.emplace();
    d->Parse(json.data(), json.size());
    if (d->HasParseError()) d->SetNull();  // every field null
  }
  cache_.push_back(Cached{&rule, prev, {}});
  rule.Extract(*d, &cache_.back().row);
  return cache_.back().row;
}

const policy::Bound* RuleFor(const Topic& topic, const Rules& rules, std::string_view table) {
  if (rules.empty()) return nullptr;
  size_t i = 0;
  if (table != topic.table) {
    for (size_t k = 0; k < topic.more_tables.size(); ++k) {
      if (topic.more_tables[k] == table) i = k + 1;
    }
  }
  return &rules[i < rules.size() ? i : 0];
}

Verdict Judge(const policy::Bound& rule, const event::Event& e, EventRows* rows) {
  if (rule.empty()) return Verdict::kDeliver;
  if (rule.Allows(rows->Fields(*rule.policy(), false))) return Verdict::kDeliver;
  if (e.op == event::Op::kUpdate && !e.prev.empty() &&
      rule.Allows(rows->Fields(*rule.policy(), true))) {
    return Verdict::kLeftView;
  }
  return Verdict::kSkip;
}

Verdict JudgeFor(const Topic& topic, const Rules* rules, const event::Event& e, EventRows* rows) {
  const policy::Bound* rule = rules != nullptr ? RuleFor(topic, *rules, e.table) : nullptr;
  if (rule == nullptr) return Verdict::kDeliver;
  const Verdict v = Judge(*rule, e, rows);
  // A left_view is a delete: a topic that takes no deletes (a SnackBase
  // operations filter) does not get it either.
  if (v == Verdict::kLeftView && (topic.ops & OpBit(event::Op::kDelete)) == 0) {
    return Verdict::kSkip;
  }
  return v;
}

event::Event LeftView(const event::Event& e) {
  event::Event d = e;
  d.op = event::Op::kDelete;
  d.data = e.prev;
  d.prev = {};
  d.reason = "left_view";
  return d;
}

Hub::Hub(LogSource* source, wal::Position head, size_t max_output_bytes,
         std::vector<Encoder> formats)
    : source_(source),
      head_(head),
      max_output_bytes_(max_output_bytes),
      formats_(std::move(formats)),
      frames_(formats_.size()),
      left_frames_(formats_.size()) {}

void Hub::TopicKey(std::string_view app, std::string_view table, std::string_view id,
                   std::string* out) {
  out->assign(app);
  out->push_back('\0');
  out->append(table);
  out->push_back('\0');
  out->append(id);
}

uint64_t Hub::Subscribe(Topic topic, size_t format, Sink* sink, wal::Position after,
                        const Rules* rules) {
  uint64_t id = next_id_++;
  Sub& s = subs_[id];
  s.topic = std::move(topic);
  s.format = format;
  s.sink = sink;
  s.rules = rules;
  TopicKey(s.topic.app, s.topic.table, s.topic.id, &s.key);
  for (const std::string& t : s.topic.more_tables) {
    std::string key;
    TopicKey(s.topic.app, t, "", &key);
    // Each table once: a subscriber indexed twice under one key would get
    // its entries twice.
    if (key == s.key || std::find(s.more_keys.begin(), s.more_keys.end(), key) != s.more_keys.end())
      continue;
    s.more_keys.push_back(std::move(key));
  }
  s.more_slots.assign(s.more_keys.size(), 0);
  s.cursor = after.value() > head_.value() ? head_ : after;
  if (s.cursor == head_) {
    GoLive(s);
  } else {
    StartCatchUp(id);
  }
  return id;
}

void Hub::GoLive(Sub& s) {
  LiveList& list = live_[s.key];
  s.live = true;
  s.slot = list.size();
  list.push_back(&s);
  for (size_t k = 0; k < s.more_keys.size(); ++k) {
    LiveList& more = live_[s.more_keys[k]];
    s.more_slots[k] = more.size();
    more.push_back(&s);
  }
}

void Hub::LeaveLive(Sub& s) {
  s.live = false;
  s.cursor = head_;
  RemoveLive(s.key, s.slot);
  for (size_t k = 0; k < s.more_keys.size(); ++k) RemoveLive(s.more_keys[k], s.more_slots[k]);
}

void Hub::RemoveLive(const std::string& key, size_t slot) {
  auto it = live_.find(key);
  LiveList& list = it->second;
  // Swap-remove: the last one takes its place.
  Sub* moved = list.back();
  list[slot] = moved;
  if (moved->key == key) {
    moved->slot = slot;
  } else {
    for (size_t k = 0; k < moved->more_keys.size(); ++k) {
      if (moved->more_keys[k] == key) moved->more_slots[k] = slot;
    }
  }
  list.pop_back();
  if (list.empty()) live_.erase(it);
}

void Hub::Unsubscribe(uint64_t id) {
  auto it = subs_.find(id);
  if (it == subs_.end()) return;
  if (it->second.live) LeaveLive(it->second);
  subs_.erase(it);
}

size_t Hub::AddFormat(Encoder encoder) {
  formats_.push_back(std::move(encoder));
  frames_.resize(formats_.size());
  left_frames_.resize(formats_.size());
  return formats_.size() - 1;
}

wal::Position Hub::cursor(uint64_t id) const {
  auto it = subs_.find(id);
  if (it == subs_.end()) return wal::Position();
  return it->second.live ? head_ : it->second.cursor;
}

bool Hub::live(uint64_t id) const {
  auto it = subs_.find(id);
  return it != subs_.end() && it->second.live;
}

Hub::Lag Hub::lag() const {
  Lag l;
  for (const auto& [id, s] : subs_) {
    if (s.live) continue;
    ++l.behind;
    l.max_entries = std::max(l.max_entries, head_.value() - s.cursor.value());
  }
  return l;
}

void Hub::Publish(wal::Position p, const event::Event& e) {
  // Every live cursor was at the old head; those the entry does not match
  // move on with it implicitly.
  const wal::Position before = head_;
  head_ = p;
  // Read rules judge the event per subscriber, on states parsed once.
  EventRows rows(e);
  // The entry's topics: its table's, and its record's when it has an id (a
  // table-level publish reaches the table topic only).
  for (int pass = 0; pass < (e.id.empty() ? 1 : 2); ++pass) {
    TopicKey(e.app, e.table, pass == 0 ? std::string_view() : e.id, &key_);
    auto it = live_.find(key_);
    if (it == live_.end()) continue;
    for (size_t i = 0; i < it->second.size();) {
      Sub& s = *it->second[i];
      if ((s.topic.ops & OpBit(e.op)) == 0) {
        ++i;  // an operation it does not take: its cursor moves on all the same
        continue;
      }
      if (s.sink->pending_output_bytes() > max_output_bytes_) {
        // Over its output limit: it stops taking live frames and will read
        // this entry (and what follows) from the log once its connection
        // drains. Its cursor is the entry before this one.
        LeaveLive(s);  // the last one of this list takes its place at i
        s.cursor = before;
        it = live_.find(key_);  // the list is gone when it was the last one
        if (it == live_.end()) break;
        continue;
      }
      const Verdict v = JudgeFor(s.topic, s.rules, e, &rows);
      if (v == Verdict::kSkip) {
        ++i;
        continue;
      }
      // One encoding per wire format, made on first need and shared by
      // every subscriber of that format (every slot is null between calls).
      Frame& frame = v == Verdict::kDeliver ? frames_[s.format] : left_frames_[s.format];
      if (!frame) {
        frame = std::make_shared<const std::string>(
            v == Verdict::kDeliver ? formats_[s.format](p, e) : formats_[s.format](p, LeftView(e)));
      }
      s.sink->Send(frame);
      ++i;
    }
  }
  for (Frame& f : frames_) f.reset();
  for (Frame& f : left_frames_) f.reset();
}

void Hub::OnDrained(uint64_t id) {
  auto it = subs_.find(id);
  if (it == subs_.end() || it->second.live || it->second.reading) return;
  if (it->second.cursor == head_) {
    GoLive(it->second);
    return;
  }
  StartCatchUp(id);
}

void Hub::StartCatchUp(uint64_t id) {
  Sub& s = subs_[id];
  s.reading = true;
  ++catch_ups_;
  const wal::Position to = head_;
  source_->Read(s.cursor, to, [this, id, to](Status status, std::vector<LoggedEntry> entries) {
    auto it = subs_.find(id);
    if (it == subs_.end()) return;  // unsubscribed meanwhile
    Sub& sub = it->second;
    sub.reading = false;
    if (!status.ok()) return CatchUpFailed(id, sub.sink, status);
    for (const LoggedEntry& le : entries) {
      if (le.position <= sub.cursor) continue;
      event::Event e;
      if (!event::Decode(le.payload, &e).ok()) {
        return CatchUpFailed(id, sub.sink,
                             Status::Corruption("log entry " + std::to_string(le.position.value()) +
                                                " is not an event"));
      }
      if (sub.topic.Matches(e)) {
        EventRows rows(e);
        const Verdict v = JudgeFor(sub.topic, sub.rules, e, &rows);
        if (v != Verdict::kSkip) {
          sub.sink->Send(std::make_shared<const std::string>(
              formats_[sub.format](le.position, v == Verdict::kDeliver ? e : LeftView(e))));
        }
      }
      sub.cursor = le.position;
      if (sub.sink->pending_output_bytes() > max_output_bytes_) return;  // OnDrained resumes
    }
    if (sub.cursor.value() < to.value() && entries.empty()) {
      // The source returned nothing although entries up to `to` are durable.
      return CatchUpFailed(id, sub.sink,
                           Status::Unavailable("the log returned no entries to catch up"));
    }
    if (sub.cursor == head_) {
      GoLive(sub);  // nothing was published since the read began
    } else {
      StartCatchUp(id);  // the head moved on while reading: read the rest
    }
  });
}

void Hub::CatchUpFailed(uint64_t id, Sink* sink, const Status& status) {
  if (on_catch_up_failed) on_catch_up_failed(id, status);
  if (subs_.count(id) != 0) sink->OnCatchUpFailed(id, status);
}

}  // namespace eventide::stream
