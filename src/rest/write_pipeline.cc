// The write pipeline of rest::Service: a validated write handed to the event
// log, held in the overlay and the per-record queue while it is in flight,
// re-validated when another node's write to the same record won the race,
// and answered once its position is durable and applied (service.h says the
// order). The request side -- parsing, validation, reads -- is service.cc.
#include <utility>

#include "src/common/time.h"
#include "src/event/event.h"
#include "src/rest/service.h"
#include "src/rest/write_keys.h"

namespace eventide::rest {

namespace {

// The headers that name an answered write's position.
void AppendPositionHeaders(wal::Position position, const std::string& durability, std::string* h) {
  const std::string pos = std::to_string(position.value());
  h->append("content-type: application/json\r\nevent-position: ").append(pos);
  h->append("\r\netag: \"").append(pos).append("\"\r\nevent-durability: ").append(durability);
  h->append("\r\n");
}

}  // namespace

void Service::Append(http::Responder* s, uint64_t slot, const config::App& app,
                     const http::Request& req, const schema::Table& table, int op,
                     const std::string& id, std::string record_json, int status,
                     const policy::Principal& who, std::string_view tenant, std::string_view prev,
                     const std::vector<std::string>* segments) {
  const bool publish = static_cast<event::Op>(op) == event::Op::kPublish;
  std::string key = publish ? std::string() : OverlayKey(app.app_id, table.name, id);
  auto make_redo = [&] {
    auto r = std::make_unique<Redo>();
    r->session = s->id();
    r->slot = slot;
    r->request = req;
    r->app = &app;
    r->table = &table;
    r->segments = *segments;
    r->who = who;
    return r;
  };
  if (segments != nullptr && !keys_.empty()) {
    auto k = keys_.find(key);
    if (k != keys_.end() &&
        (k->second.inflight || projection_->applied().value() < k->second.wait_until)) {
      // This node has a write to the record in flight: this one runs after
      // it, validated against its result.
      k->second.queue.push_back(std::move(*make_redo()));
      ++waiting_;
      return;
    }
  }
  event::Event e;
  e.subject = who.subject;
  e.tenant = tenant;
  e.prev = prev;
  e.op = static_cast<event::Op>(op);
  e.time_ms = WallMillis();
  e.app = app.app_id;
  e.table = table.name;
  e.id = id;
  e.data = record_json;
  event::Encode(e, &scratch_);
  eventlog::AppendRequest ar;
  ar.payload = scratch_;
  ar.app = app.app_id;
  ar.table = table.name;
  if (!publish) {
    ar.id = id;
    ar.expect_last = LastPosition(app, table, id);
  }
  ar.ticket = next_ticket_++;
  const eventlog::Appended a = log_->Append(ar);
  if (a.kind == eventlog::Appended::Kind::kRejected) {
    if (a.status.IsUnavailable() && log_->Health().ok()) {
      return Error(s, slot, app, req, 503, "overloaded",
                   "the log's write queue is full; retry shortly");
    }
    if (a.status.IsInvalidArgument()) {
      return Error(s, slot, app, req, 413, "record_too_large", a.status.message());
    }
    return Error(s, slot, app, req, 503, "storage_unavailable",
                 "the log cannot take writes: " + a.status.message());
  }
  const bool assigned = a.kind == eventlog::Appended::Kind::kAssigned;
  Pending w;
  w.key = std::move(key);
  w.session = s->id();
  w.slot = slot;
  w.status = status;
  // The answer's headers, rendered once into one string; a queued write's
  // position headers are put in front when its position is known.
  std::string& h = w.raw_headers;
  h.reserve(160 + (status == 201 ? app.app_id.size() + table.export_name.size() + id.size() : 0));
  if (assigned) AppendPositionHeaders(a.position, log_->durability(), &h);
  if (status == 201 && !publish) {
    h.append("location: /").append(app.app_id).append("/").append(table.export_name);
    h.push_back('/');
    http::AppendPathSegment(id, &h);
    h.append("\r\n");
  }
  std::vector<http::Header> cors;
  AddCors(app, req, &cors);
  for (const http::Header& c : cors) h.append(c.name).append(": ").append(c.value).append("\r\n");
  w.accepted_us = NowMicros();
  w.body = std::move(record_json);
  if (!assigned) {
    w.ticket = ar.ticket;
    if (segments != nullptr) {
      w.redo = make_redo();
      keys_[w.key].inflight = true;
    }
    queued_.emplace(ar.ticket, std::move(w));
    return;
  }
  w.position = a.position;
  if (!publish) {  // a publish changes no record: later writes do not see it
    Overlay& o = overlay_[w.key];
    o.position = w.position;
    o.deleted = e.op == event::Op::kDelete;
    o.json = o.deleted ? std::string() : w.body;
  }
  pending_.push_back(std::move(w));
}

void Service::Answer(Pending& w, int64_t now_us) {
  if (!w.key.empty()) {
    auto it = overlay_.find(w.key);
    if (it != overlay_.end() && it->second.position == w.position) overlay_.erase(it);
  }
  ++stats_.events_written;
  ++stats_.write_latency_count;
  stats_.write_latency_us_sum += static_cast<uint64_t>(now_us - w.accepted_us);
  if (http::Responder* s = sessions_(w.session)) {
    http::ResponseHead head;
    head.status = w.status;
    if (w.ticket != 0) {  // queued: the position headers go in front now
      std::string h;
      h.reserve(w.raw_headers.size() + 120);
      AppendPositionHeaders(w.position, log_->durability(), &h);
      h.append(w.raw_headers);
      w.raw_headers.swap(h);
    }
    head.raw_headers = w.raw_headers;
    s->Respond(w.slot, head, w.body);
  }
}

void Service::OnDurable(wal::Position durable, const Status& status) {
  const int64_t now_us = NowMicros();
  while (projection_->applied().value() < durable.value()) {
    const wal::Position p(projection_->applied().value() + 1);
    Status rs = log_->ReadEntry(p, &entry_);
    if (!rs.ok()) {
      FailAll(Status::IOError("entry " + std::to_string(p.value()) +
                              " of the local log cannot be read: " + rs.ToString()));
      return;
    }
    event::Event e;
    if (event::Decode(entry_, &e).ok()) {
      projection_->Apply(p, e);
      if (on_applied) on_applied(p, e);
    } else {
      projection_->SetApplied(p);  // not an event of ours: skipped, as on recovery
    }
    if (!pending_.empty() && pending_.front().position == p) {
      Pending w = std::move(pending_.front());
      pending_.pop_front();
      Answer(w, now_us);
      if (w.ticket != 0) Release(w.key);
    }
  }
  if (!keys_.empty()) {
    // Writes that lost a race wait for the state that beat them.
    std::vector<std::string> ready;
    for (const auto& [key, k] : keys_) {
      if (!k.inflight && !k.queue.empty() && k.wait_until <= projection_->applied().value()) {
        ready.push_back(key);
      }
    }
    for (const std::string& key : ready) RunRedos(key);
  }
  if (!status.ok()) FailAll(status);
}

void Service::OnOutcomes(std::vector<eventlog::Outcome>* outcomes) {
  const int64_t now_us = NowMicros();
  for (eventlog::Outcome& o : *outcomes) {
    auto it = queued_.find(o.ticket);
    if (it == queued_.end()) continue;
    Pending w = std::move(it->second);
    queued_.erase(it);
    if (o.status.ok()) {
      w.position = o.position;
      if (w.position.value() <= projection_->applied().value()) {
        // Applied already (the stream delivered it before the ack came).
        Answer(w, now_us);
        Release(w.key);
        continue;
      }
      auto at = std::upper_bound(
          pending_.begin(), pending_.end(), w.position,
          [](wal::Position p, const Pending& x) { return p.value() < x.position.value(); });
      pending_.insert(at, std::move(w));
      continue;
    }
    if (o.conflict && w.redo != nullptr) {
      // Another node wrote the record first: validate again once this node
      // has applied the state that won.
      ++stats_.conflicts;
      KeyState& k = keys_[w.key];
      k.inflight = false;
      k.wait_until = std::max(k.wait_until, o.last);
      w.redo->hint = o.last;
      k.queue.push_front(std::move(*w.redo));
      ++waiting_;
      RunRedos(w.key);
      continue;
    }
    ++stats_.writes_failed;
    ++stats_.rejected_by_code["storage_unavailable"];
    if (http::Responder* s = sessions_(w.session)) {
      http::ResponseHead head;
      head.status = 503;
      head.headers.push_back({"content-type", "application/json"});
      head.headers.push_back({"retry-after", "1"});
      s->Respond(w.slot, head,
                 http::ErrorBody("storage_unavailable",
                                 "the write could not be logged: " + o.status.message()));
    }
    Release(w.key);
  }
}

void Service::Release(const std::string& key) {
  if (key.empty()) return;
  auto k = keys_.find(key);
  if (k == keys_.end()) return;
  k->second.inflight = false;
  RunRedos(key);
}

void Service::RunRedos(const std::string& key) {
  for (;;) {
    auto k = keys_.find(key);
    if (k == keys_.end()) return;
    KeyState& ks = k->second;
    if (ks.inflight || ks.queue.empty() || projection_->applied().value() < ks.wait_until) {
      if (!ks.inflight && ks.queue.empty()) keys_.erase(k);
      return;
    }
    Redo r = std::move(ks.queue.front());
    ks.queue.pop_front();
    --waiting_;
    RunRedo(std::move(r));  // may mark the key in flight again
  }
}

void Service::RunRedo(Redo r) {
  http::Responder* s = sessions_(r.session);
  if (s == nullptr) return;  // its client is gone: nothing to validate for
  redo_hint_ = r.hint;
  Write(s, r.slot, r.request, *r.app, *r.table, r.segments, r.who);
  redo_hint_ = 0;
}

void Service::FailAll(const Status& status) {
  // Nothing unanswered will ever be applied. Every such write is answered
  // 503, and no later write is taken (SPEC section 12).
  if (failed_.ok()) failed_ = status;
  auto fail = [&](uint64_t session, uint64_t slot) {
    ++stats_.writes_failed;
    ++stats_.rejected_by_code["storage_unavailable"];
    if (http::Responder* s = sessions_(session)) {
      http::ResponseHead head;
      head.status = 503;
      head.headers.push_back({"content-type", "application/json"});
      head.headers.push_back({"retry-after", "1"});
      s->Respond(slot, head,
                 http::ErrorBody("storage_unavailable",
                                 "the write could not be made durable: " + status.message()));
    }
  };
  for (Pending& w : pending_) fail(w.session, w.slot);
  for (auto& [ticket, w] : queued_) fail(w.session, w.slot);
  for (auto& [key, k] : keys_) {
    for (Redo& r : k.queue) fail(r.session, r.slot);
  }
  pending_.clear();
  queued_.clear();
  keys_.clear();
  waiting_ = 0;
  overlay_.clear();
}

}  // namespace eventide::rest
