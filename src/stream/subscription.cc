#include "src/stream/subscription.h"

#include <utility>

namespace eventide::stream {

Subscription::Subscription(StreamContext* ctx, StreamTransport* transport, Notices* notices,
                           Topic topic, std::string name, size_t format)
    : ctx_(ctx),
      t_(transport),
      notices_(notices),
      topic_(std::move(topic)),
      name_(std::move(name)),
      format_(format) {
  ++ctx_->stats.subscriptions;
  if (ctx_->on_hook) ctx_->on_hook("on_realtime_subscribe", t_, name_, {});
}

Subscription::~Subscription() {
  Stop();
  --ctx_->stats.subscriptions;
  if (ctx_->on_hook) ctx_->on_hook("on_realtime_unsubscribe", t_, name_, {});
}

void Subscription::Start(const ResumeId& resume, bool want_retained) {
  const wal::Position head = ctx_->hub->head();
  if (resume.kind == ResumeId::Kind::kPosition && resume.position.value() > head.value() &&
      ctx_->when_applied && !waited_) {
    // Given out by another node that is ahead of this one: start once this
    // node has applied it, so the client misses nothing and sees nothing
    // twice. Within what the log is known to hold, the wait is for as long
    // as it takes; beyond it (this node may not have heard of it yet, or
    // the id is made up), for a few seconds, then it is a reset.
    ++ctx_->stats.resume_waits;
    const bool known = ctx_->known_head && resume.position.value() <= ctx_->known_head().value();
    std::weak_ptr<int> alive = alive_;
    ctx_->when_applied(resume.position, known ? 0 : kUnknownResumeWaitMs,
                       [this, alive, resume, want_retained](bool) {
                         if (!alive.lock() || stopped_) return;
                         waited_ = true;
                         Start(resume, want_retained);
                       });
    return;
  }
  StartPlan plan = PlanStart(resume, want_retained, head, ctx_->first_retained());
  if (!plan.reset.empty()) {
    ++ctx_->stats.resets;
    notices_->OnReset(*this, plan.reset, head);
  } else if (resume.kind == ResumeId::Kind::kPosition) {
    ++ctx_->stats.resumes;
  }
  if (plan.replay) {
    BeginSnapshot();
  } else {
    Follow(plan.after);
  }
}

void Subscription::BeginSnapshot() {
  // The snapshot and its position are taken in one loop step, so the live
  // stream that follows from that position continues it exactly.
  snapshot_position_ = ctx_->hub->head();
  snapshot_ = RetainedRecords(*ctx_->projection, topic_);
  snapshot_table_ends_.assign(1, snapshot_.size());
  for (const std::string& table : topic_.more_tables) {
    for (projection::RecordPtr& r : RetainedRecords(*ctx_->projection, Topic(topic_.app, table)))
      snapshot_.push_back(std::move(r));
    snapshot_table_ends_.push_back(snapshot_.size());
  }
  snapshot_table_ = 0;
  snapshot_next_ = 0;
  snapshotting_ = true;
  ContinueSnapshot();
}

void Subscription::ContinueSnapshot() {
  // Sent as the socket drains, so a large table costs one connection's
  // output limit of memory, not the whole table's bytes.
  while (snapshot_next_ < snapshot_.size() &&
         t_->pending_output_bytes() < ctx_->options.output_limit) {
    while (snapshot_next_ >= snapshot_table_ends_[snapshot_table_]) ++snapshot_table_;
    const projection::Record& r = *snapshot_[snapshot_next_++];
    if (const policy::Bound* rule = RuleFor(snapshot_table_); rule != nullptr && !rule->empty()) {
      rapidjson::Document d;
      d.Parse(r.json().data(), r.json().size());
      if (d.HasParseError() || !rule->AllowsRecord(d, &row_)) continue;
    }
    notices_->OnRetained(*this, r);
    ++ctx_->stats.retained_sent;
  }
  if (snapshot_next_ < snapshot_.size()) return;  // OnDrained continues
  snapshotting_ = false;
  snapshot_.clear();
  snapshot_.shrink_to_fit();
  notices_->OnSynced(*this, snapshot_position_);
  Follow(snapshot_position_);
}

void Subscription::Follow(wal::Position after) {
  if (stopped_) return;
  if (hub_id_ != 0) ctx_->hub->Unsubscribe(hub_id_);
  hub_id_ = 0;
  const uint64_t id = ctx_->hub->Subscribe(topic_, format_, this, after, &rules_);
  // A LogSource may answer inside Subscribe (LogSource allows it; tests and
  // fuzzers do): when that catch-up failed, OnCatchUpFailed has dropped `id`
  // and started over already, and hub_id_ is what that made.
  if (id != failed_id_) hub_id_ = id;
}

void Subscription::Stop() {
  stopped_ = true;
  snapshotting_ = false;
  snapshot_.clear();
  if (hub_id_ == 0) return;
  ctx_->hub->Unsubscribe(hub_id_);
  hub_id_ = 0;
}

void Subscription::OnDrained() {
  if (stopped_) return;
  if (snapshotting_) {
    ContinueSnapshot();
  } else if (hub_id_ != 0) {
    ctx_->hub->OnDrained(hub_id_);
  }
}

void Subscription::Send(const Frame& frame) {
  if (frame->empty()) return;  // the format has nothing for this event
  ++ctx_->stats.events_delivered;
  t_->SendShared(frame);
}

void Subscription::OnCatchUpFailed(uint64_t id, const Status& status) {
  // Its position went out of the log while it caught up (retention), or the
  // log could not be read: reset, and start again from the snapshot.
  ctx_->hub->Unsubscribe(id);
  failed_id_ = id;
  if (hub_id_ == id) hub_id_ = 0;
  if (stopped_) return;
  ++ctx_->stats.resets;
  notices_->OnReset(*this, status.IsNotFound() ? "expired" : "unknown", ctx_->hub->head());
  BeginSnapshot();
}

}  // namespace eventide::stream
