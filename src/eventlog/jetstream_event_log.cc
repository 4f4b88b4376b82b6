#include "src/eventlog/jetstream_event_log.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "src/common/logging.h"
#include "src/eventlog/read_entry.h"
#include "src/eventlog/subjects.h"

namespace eventide::eventlog {
namespace {

constexpr const char* kMsgIdHeader = "Nats-Msg-Id";
constexpr const char* kExpectSubjectSeqHeader = "Nats-Expected-Last-Subject-Sequence";
// JetStream's duplicate window: longer than all of a write's attempts.
constexpr int64_t kDuplicateWindowNs = 120ll * 1000 * 1000 * 1000;
// Publishes in flight before Append answers "overloaded".
constexpr size_t kMaxInFlight = 65536;

int64_t MonoMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string NatsError(natsStatus s) {
  std::string text = natsStatus_GetText(s);
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (detail != nullptr && *detail != '\0' && text != detail) text += " (" + std::string(detail) + ")";
  return text;
}

// The trailing number of a JetStream error text ("wrong last sequence: 17").
uint64_t TrailingNumber(const char* text) {
  if (text == nullptr) return 0;
  std::string_view t(text);
  size_t end = t.size();
  while (end > 0 && (t[end - 1] < '0' || t[end - 1] > '9')) --end;
  size_t begin = end;
  while (begin > 0 && t[begin - 1] >= '0' && t[begin - 1] <= '9') --begin;
  uint64_t v = 0;
  for (size_t i = begin; i < end; ++i) v = v * 10 + static_cast<uint64_t>(t[i] - '0');
  return v;
}

uint64_t TicketOf(natsMsg* msg) {
  const char* id = nullptr;
  if (natsMsgHeader_Get(msg, kMsgIdHeader, &id) != NATS_OK || id == nullptr) return 0;
  return TrailingNumber(id);
}

// A JetStream answer that a moment later may be different: the cluster is
// electing a leader, or a request timed out while a server restarted.
bool Transient(natsStatus st, jsErrCode jerr) {
  if (st == NATS_TIMEOUT || jerr == JSClusterNotAvailErr) return true;
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  return detail != nullptr && std::string_view(detail).find("temporarily unavailable") !=
                                  std::string_view::npos;
}

bool ValidStreamName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

JetStreamEventLog::JetStreamEventLog(const JetStreamOptions& options,
                                     std::unique_ptr<wal::Log> local)
    : options_(options), local_(std::move(local)) {
  durability_ = "jetstream;replicas=" + std::to_string(options_.replicas);
  // node:boot-time: then the ticket. The boot time keeps a restarted node's
  // tickets (which start again at 1) apart from its last run's in
  // JetStream's duplicate window.
  msg_id_prefix_ = options_.node + ":" + std::to_string(WallMicrosForId()) + ":";
}

int64_t JetStreamEventLog::WallMicrosForId() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::unique_ptr<JetStreamEventLog>> JetStreamEventLog::Open(
    const JetStreamOptions& options, std::unique_ptr<wal::Log> local) {
  if (options.urls.empty()) {
    return Status::InvalidArgument(
        "--log jetstream needs --nats nats://HOST:PORT[,more] (nats.urls in the config file)");
  }
  if (options.replicas < 1 || options.replicas > 5) {
    return Status::InvalidArgument("--replicas must be 1 to 5 (JetStream's limit); got " +
                                   std::to_string(options.replicas));
  }
  if (!ValidStreamName(options.stream)) {
    return Status::InvalidArgument("--stream must be 1 to 64 of A-Z a-z 0-9 _ -; got '" +
                                   options.stream + "'");
  }
  std::unique_ptr<JetStreamEventLog> log(new JetStreamEventLog(options, std::move(local)));
  log->local_->SetDurableListener([raw = log.get()](wal::Position, const Status&) { raw->Poke(); });
  Status s = log->Connect();
  if (!s.ok()) return s;
  // A node started while the NATS cluster elects a leader waits for it
  // (bounded); every other problem is a start-up error at once.
  uint64_t last_seq = 0;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options.startup_wait_ms);
  for (int attempt = 0;; ++attempt) {
    log->transient_ = false;
    s = log->CheckStream(&last_seq);
    if (s.ok()) s = log->Subscribe();
    if (s.ok() || !log->transient_ || std::chrono::steady_clock::now() > deadline) break;
    if (attempt == 0) {
      LogLine(LogLevel::kWarn, "waiting for JetStream", {{"error", s.ToString()}});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!s.ok()) return s;
  s = log->CatchUp(last_seq);
  if (!s.ok()) return s;
  log->publisher_ = std::thread([raw = log.get()] { raw->PublisherMain(); });
  return log;
}

Status JetStreamEventLog::Connect() {
  natsStatus st = natsOptions_Create(&nats_options_);
  if (st != NATS_OK) return Status::IOError("nats options: " + NatsError(st));
  std::vector<std::string> urls;
  size_t start = 0;
  while (start <= options_.urls.size()) {
    size_t comma = options_.urls.find(',', start);
    if (comma == std::string::npos) comma = options_.urls.size();
    std::string u = options_.urls.substr(start, comma - start);
    if (!u.empty()) urls.push_back(u);
    start = comma + 1;
  }
  std::vector<const char*> ptrs;
  for (const std::string& u : urls) ptrs.push_back(u.c_str());
  st = natsOptions_SetServers(nats_options_, ptrs.data(), static_cast<int>(ptrs.size()));
  if (st != NATS_OK) {
    return Status::InvalidArgument("--nats '" + options_.urls + "': " + NatsError(st));
  }
  natsOptions_SetName(nats_options_, options_.node.c_str());
  natsOptions_SetTimeout(nats_options_, 2000);
  natsOptions_SetMaxReconnect(nats_options_, -1);  // a node outlives NATS restarts
  natsOptions_SetReconnectWait(nats_options_, 250);
  natsOptions_SetReconnectBufSize(nats_options_, 64 << 20);
  natsOptions_SetPingInterval(nats_options_, 2000);
  natsOptions_SetMaxPingsOut(nats_options_, 2);
  natsOptions_SetReconnectedCB(nats_options_, &JetStreamEventLog::OnReconnected, this);
  st = natsConnection_Connect(&nc_, nats_options_);
  if (st != NATS_OK) {
    return Status::Unavailable("cannot connect to NATS at " + options_.urls + ": " + NatsError(st));
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 5000;
  jo.PublishAsync.MaxPending = static_cast<int64_t>(kMaxInFlight);
  jo.PublishAsync.AckHandler = &JetStreamEventLog::OnAck;
  jo.PublishAsync.AckHandlerClosure = this;
  st = natsConnection_JetStream(&js_, nc_, &jo);
  if (st != NATS_OK) return Status::IOError("JetStream context: " + NatsError(st));
  return Status::OK();
}

Status JetStreamEventLog::CheckStream(uint64_t* last_seq) {
  const std::string want = StreamSubjects(options_.stream);
  const std::string& name = options_.stream;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus st = js_GetStreamInfo(&si, js_, name.c_str(), nullptr, &jerr);
  if (st == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = name.c_str();
    const char* subjects[] = {want.c_str()};
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Retention = js_LimitsPolicy;
    cfg.Replicas = static_cast<int64_t>(options_.replicas);
    cfg.Duplicates = kDuplicateWindowNs;
    jerr = static_cast<jsErrCode>(0);
    st = js_AddStream(&si, js_, &cfg, nullptr, &jerr);
    if (st != NATS_OK && jerr == JSStreamNameExistErr) {
      // Another node created it first (with other settings: judged below).
      jerr = static_cast<jsErrCode>(0);
      st = js_GetStreamInfo(&si, js_, name.c_str(), nullptr, &jerr);
    }
    if (st != NATS_OK) {
      transient_ = Transient(st, jerr);
      return Status::Unavailable("cannot create JetStream stream " + name + " with " +
                                 std::to_string(options_.replicas) + " replica(s): " +
                                 NatsError(st) + " (a stream of N replicas needs N JetStream " +
                                 "servers in the NATS cluster)");
    }
    LogLine(LogLevel::kInfo, "jetstream stream created",
            {{"stream", name},
             {"subjects", want},
             {"replicas", static_cast<uint64_t>(options_.replicas)}});
  } else if (Transient(st, jerr)) {
    transient_ = true;
    return Status::Unavailable("JetStream is not available yet at " + options_.urls + ": " +
                               NatsError(st));
  } else if (st == NATS_NO_RESPONDERS) {
    return Status::Unavailable("JetStream does not answer at " + options_.urls + ": " +
                               NatsError(st) + " (is it enabled? nats-server -js)");
  } else if (st != NATS_OK) {
    return Status::Unavailable("cannot read JetStream stream " + name + ": " + NatsError(st));
  }
  std::unique_ptr<jsStreamInfo, void (*)(jsStreamInfo*)> info(si, jsStreamInfo_Destroy);
  const jsStreamConfig* c = info->Config;
  std::string have;
  for (int i = 0; i < c->SubjectsLen; ++i) {
    if (i > 0) have += ", ";
    have += c->Subjects[i];
  }
  if (c->SubjectsLen != 1 || want != c->Subjects[0]) {
    return Status::InvalidArgument("JetStream stream " + name + " has subjects [" + have +
                                   "]; Eventide needs a stream of its own with exactly [" + want +
                                   "] (another application's stream? choose another --stream)");
  }
  if (c->Replicas != static_cast<int64_t>(options_.replicas)) {
    return Status::InvalidArgument(
        "JetStream stream " + name + " has " + std::to_string(c->Replicas) +
        " replica(s) but --replicas is " + std::to_string(options_.replicas) +
        " (change the stream, or the flag, so that they agree)");
  }
  const uint64_t head = local_->durable_head().value();
  const jsStreamState& state = info->State;
  if (state.LastSeq < head) {
    // A stream leader elected a moment ago may answer before it has applied
    // the newest entries it holds: the same answer for 5 s is the real thing.
    transient_ = ++ahead_answers_ < 25;
    return Status::InvalidArgument(
        "this node's local log ends at position " + std::to_string(head) + " but stream " + name +
        " ends at " + std::to_string(state.LastSeq) +
        ": the local log is not a copy of this stream (was the stream recreated?). Move the data "
        "directory aside to start this node afresh");
  }
  const uint64_t first = state.Msgs > 0 ? state.FirstSeq : state.LastSeq + 1;
  if (first > head + 1) {
    return Status::Unavailable(
        "stream " + name + " starts at " + std::to_string(first) + " but this node's local log ends at " +
        std::to_string(head) + ": positions " + std::to_string(head + 1) + " to " +
        std::to_string(first - 1) +
        " are no longer in the stream (its retention passed them). Rebuild the node from another "
        "node's data directory (docs/CLUSTER.md)");
  }
  *last_seq = state.LastSeq;
  known_head_.store(state.LastSeq);
  return Status::OK();
}

Status JetStreamEventLog::Subscribe() {
  const uint64_t head = local_->durable_head().value();
  next_seq_ = head + 1;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = options_.stream.c_str();
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = head + 1;
  // Idle heartbeats: a consumer whose server died is noticed (and made
  // again from the next sequence) after two missed ones, not ten seconds.
  so.Config.Heartbeat = 500ll * 1000 * 1000;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const std::string subjects = StreamSubjects(options_.stream);
  natsStatus st = js_Subscribe(&sub_, js_, subjects.c_str(), &JetStreamEventLog::OnMessage, this,
                               nullptr, &so, &jerr);
  if (st != NATS_OK) {
    transient_ = Transient(st, jerr);
    return Status::Unavailable("cannot consume stream " + options_.stream + ": " + NatsError(st));
  }
  // Flow control bounds what is buffered; a client-side limit would drop
  // messages instead (a gap the ordered consumer would have to re-fetch).
  natsSubscription_SetPendingLimits(sub_, -1, -1);
  return Status::OK();
}

Status JetStreamEventLog::CatchUp(uint64_t last_seq) {
  using Clock = std::chrono::steady_clock;
  auto last_progress = Clock::now();
  auto last_log = Clock::now();
  uint64_t seen = local_->durable_head().value();
  const uint64_t from = seen;
  while (local_->durable_head().value() < last_seq) {
    Status h = Health();
    if (!h.ok()) return h;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const uint64_t now_head = local_->durable_head().value();
    const auto now = Clock::now();
    if (now_head != seen) {
      seen = now_head;
      last_progress = now;
    }
    if (now - last_log > std::chrono::seconds(5)) {
      last_log = now;
      LogLine(LogLevel::kInfo, "catching up from the stream",
              {{"position", now_head}, {"target", last_seq}});
    }
    if (now - last_progress > std::chrono::milliseconds(options_.catch_up_stall_ms)) {
      return Status::Unavailable("catching up from stream " + options_.stream +
                                 " stalled at position " + std::to_string(now_head) + " of " +
                                 std::to_string(last_seq));
    }
  }
  LogLine(LogLevel::kInfo, "caught up with the stream",
          {{"stream", options_.stream},
           {"position", local_->durable_head().value()},
           {"fetched", local_->durable_head().value() - from}});
  return Status::OK();
}

JetStreamEventLog::~JetStreamEventLog() { Close(); }

int64_t JetStreamEventLog::RetryWindowMicros() const {
  return static_cast<int64_t>(options_.publish_timeout_ms) * 1000 * kPublishWindowTimeouts;
}

Status JetStreamEventLog::Start(uv_loop_t* loop, Listener* listener) {
  listener_ = listener;
  async_.data = this;
  uv_async_init(loop, &async_, [](uv_async_t* a) {
    auto* self = static_cast<JetStreamEventLog*>(a->data);
    if (self->listener_ == nullptr) return;
    self->listener_->OnLogDurable();
    {
      std::lock_guard<std::mutex> l(self->out_mu_);
      self->delivering_.swap(self->outcomes_);
    }
    if (!self->delivering_.empty() && self->listener_ != nullptr) {
      self->listener_->OnLogOutcomes(&self->delivering_);
    }
    self->delivering_.clear();
  });
  started_.store(true, std::memory_order_release);
  Poke();  // entries consumed before now are read from the local copy
  return Status::OK();
}

void JetStreamEventLog::Poke() {
  if (started_.load(std::memory_order_acquire)) uv_async_send(&async_);
}

void JetStreamEventLog::Close() {
  if (closed_) return;
  closed_ = true;
  listener_ = nullptr;
  if (sub_ != nullptr) {
    // Let the consumer's callback finish before anything it uses goes.
    if (natsSubscription_Drain(sub_) == NATS_OK) {
      natsSubscription_WaitForDrainCompletion(sub_, 2000);
    }
    natsSubscription_Destroy(sub_);
    sub_ = nullptr;
  }
  if (publisher_.joinable()) {
    {
      std::lock_guard<std::mutex> l(pub_mu_);
      stop_ = true;
    }
    pub_cv_.notify_all();
    publisher_.join();
  }
  if (js_ != nullptr) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 2000;
    js_PublishAsyncComplete(js_, &po);
  }
  if (nc_ != nullptr) natsConnection_Close(nc_);
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (nc_ != nullptr) natsConnection_Destroy(nc_);
  if (nats_options_ != nullptr) natsOptions_Destroy(nats_options_);
  js_ = nullptr;
  nc_ = nullptr;
  nats_options_ = nullptr;
  {
    std::lock_guard<std::mutex> l(pub_mu_);
    for (natsMsg* m : to_send_) natsMsg_Destroy(m);
    to_send_.clear();
    for (auto& r : retries_) natsMsg_Destroy(r.msg);
    retries_.clear();
  }
  reader_.reset();
  if (local_) {
    local_->Wake();
    local_.reset();  // waits for its writer, whose listener may still poke
  }
  if (started_.exchange(false)) uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
}

Appended JetStreamEventLog::Append(const AppendRequest& request) {
  Appended out;
  Status h = Health();
  if (!h.ok()) {
    out.status = h;
    return out;
  }
  const int64_t max_payload = natsConnection_GetMaxPayload(nc_);
  if (max_payload > 0 && static_cast<int64_t>(request.payload.size()) > max_payload) {
    out.status = Status::InvalidArgument(
        "the entry is " + std::to_string(request.payload.size()) +
        " bytes; the NATS servers' max_payload is " + std::to_string(max_payload));
    return out;
  }
  {
    std::lock_guard<std::mutex> l(out_mu_);
    if (inflight_.size() >= kMaxInFlight) {
      out.status = Status::Unavailable("too many publishes in flight");
      return out;
    }
  }
  const std::string subject =
      WriteSubject(options_.stream, request.app, request.table, request.id);
  natsMsg* m = nullptr;
  natsStatus st = natsMsg_Create(&m, subject.c_str(), nullptr, request.payload.data(),
                                 static_cast<int>(request.payload.size()));
  if (st != NATS_OK) {
    out.status = Status::IOError("nats message: " + NatsError(st));
    return out;
  }
  const std::string msg_id = msg_id_prefix_ + std::to_string(request.ticket);
  natsMsgHeader_Set(m, kMsgIdHeader, msg_id.c_str());
  if (!request.id.empty()) {
    // A write to a record is conditional on the record's last sequence
    // (0: it has none), so a concurrent write on another node is caught.
    natsMsgHeader_Set(m, kExpectSubjectSeqHeader, std::to_string(request.expect_last).c_str());
  }
  {
    std::lock_guard<std::mutex> l(out_mu_);
    inflight_[request.ticket] = InFlight{MonoMicros(), 1};
  }
  {
    std::lock_guard<std::mutex> l(pub_mu_);
    to_send_.push_back(m);
  }
  send_needed_ = true;
  out.kind = Appended::Kind::kQueued;
  return out;
}

void JetStreamEventLog::Flush() {
  if (!send_needed_) return;
  send_needed_ = false;
  pub_cv_.notify_one();
}

void JetStreamEventLog::PublisherMain() {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = static_cast<int64_t>(options_.publish_timeout_ms);
  std::vector<natsMsg*> batch;
  std::unique_lock<std::mutex> l(pub_mu_);
  for (;;) {
    const int64_t now = MonoMicros();
    int64_t next_due = -1;
    for (size_t i = 0; i < retries_.size();) {
      if (retries_[i].due_us <= now) {
        batch.push_back(retries_[i].msg);
        retries_[i] = retries_.back();
        retries_.pop_back();
      } else {
        if (next_due < 0 || retries_[i].due_us < next_due) next_due = retries_[i].due_us;
        ++i;
      }
    }
    batch.insert(batch.end(), to_send_.begin(), to_send_.end());
    to_send_.clear();
    if (refresh_wanted_) {
      refresh_wanted_ = false;
      l.unlock();
      RefreshNow();
      l.lock();
      continue;
    }
    if (batch.empty()) {
      if (stop_) return;
      if (next_due < 0) {
        pub_cv_.wait(l);
      } else {
        pub_cv_.wait_for(l, std::chrono::microseconds(next_due - now));
      }
      continue;
    }
    l.unlock();
    for (natsMsg* m : batch) {
      const uint64_t ticket = TicketOf(m);
      natsStatus st = js_PublishMsgAsync(js_, &m, &po);
      if (st == NATS_OK) continue;  // the library owns it now
      Outcome o;
      o.ticket = ticket;
      o.status = Status::Unavailable("the write could not be sent to JetStream: " + NatsError(st));
      {
        std::lock_guard<std::mutex> ol(out_mu_);
        inflight_.erase(ticket);
        ++stats_.failed;
        outcomes_.push_back(std::move(o));
      }
      if (m != nullptr) natsMsg_Destroy(m);
    }
    batch.clear();
    Poke();
    l.lock();
  }
}

void JetStreamEventLog::OnAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae,
                              void* closure) {
  static_cast<JetStreamEventLog*>(closure)->HandleAck(msg, pa, pae);
}

void JetStreamEventLog::HandleAck(natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae) {
  const uint64_t ticket = TicketOf(msg);
  const int64_t now = MonoMicros();
  Outcome o;
  o.ticket = ticket;
  bool retry = false;
  int64_t retry_delay_us = 0;
  {
    std::lock_guard<std::mutex> l(out_mu_);
    auto it = inflight_.find(ticket);
    if (pa != nullptr) {
      o.position = wal::Position(pa->Sequence);
      ++stats_.published;
      if (pa->Duplicate) ++stats_.duplicates;
      if (it != inflight_.end()) {
        stats_.publish_seconds_sum += static_cast<double>(now - it->second.sent_us) / 1e6;
        ++stats_.publish_count;
      }
      uint64_t k = known_head_.load();
      while (k < pa->Sequence && !known_head_.compare_exchange_weak(k, pa->Sequence)) {
      }
    } else if (pae != nullptr && pae->ErrCode == JSStreamWrongLastSequenceErr) {
      ++stats_.conflicts;
      o.status = Status::InvalidArgument("conflict");
      o.conflict = true;
      o.last = TrailingNumber(pae->ErrText);
    } else if (pae != nullptr && pae->ErrCode == 0 && it != inflight_.end() &&
               now - it->second.sent_us < RetryWindowMicros() && !closed_) {
      // No answer (a timeout; no responders while the stream elects a
      // leader): send it again with the same Msg-Id, so that if the first
      // copy was stored, JetStream answers with its sequence instead of
      // storing two. Backs off from 50 ms to 1 s.
      ++it->second.attempts;
      ++stats_.retries;
      retry = true;
      retry_delay_us = std::min<int64_t>(1000000, 50000ll << std::min(it->second.attempts, 5));
    } else {
      ++stats_.failed;
      const std::string why =
          pae == nullptr ? std::string("no answer")
                         : (pae->ErrText != nullptr && *pae->ErrText != '\0'
                                ? std::string(pae->ErrText)
                                : std::string(natsStatus_GetText(pae->Err)));
      o.status = Status::Unavailable("JetStream did not take the write (" + why +
                                     "); if it was stored after all, it is in the stream");
    }
    if (!retry) {
      if (it != inflight_.end()) inflight_.erase(it);
      outcomes_.push_back(std::move(o));
    }
  }
  if (retry) {
    {
      std::lock_guard<std::mutex> l(pub_mu_);
      retries_.push_back(Retry{msg, now + retry_delay_us});
    }
    pub_cv_.notify_one();
    return;
  }
  natsMsg_Destroy(msg);
  Poke();
}

void JetStreamEventLog::OnMessage(natsConnection*, natsSubscription*, natsMsg* msg,
                                  void* closure) {
  static_cast<JetStreamEventLog*>(closure)->HandleMessage(msg);
}

void JetStreamEventLog::HandleMessage(natsMsg* msg) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
    natsMsg_Destroy(msg);
    return;
  }
  const uint64_t seq = meta->Sequence.Stream;
  const uint64_t pending = meta->NumPending;
  jsMsgMetaData_Destroy(meta);
  if (seq < next_seq_) {  // a redelivery after the consumer was reset
    natsMsg_Destroy(msg);
    return;
  }
  if (seq > next_seq_) {
    Fail(Status::Corruption("stream " + options_.stream + " jumped from position " +
                            std::to_string(next_seq_ - 1) + " to " + std::to_string(seq) +
                            ": messages were deleted from it, and this node will not serve a "
                            "gap (docs/CLUSTER.md)"));
    natsMsg_Destroy(msg);
    return;
  }
  const std::string_view payload(natsMsg_GetData(msg),
                                 static_cast<size_t>(natsMsg_GetDataLength(msg)));
  for (;;) {
    auto p = local_->Append(payload, /*wake=*/true);
    if (p.ok()) {
      if (p.value().value() != seq) {
        Fail(Status::Corruption("the local log gave position " + std::to_string(p.value().value()) +
                                " to stream sequence " + std::to_string(seq)));
      }
      break;
    }
    if (p.status().IsUnavailable() && local_->Health().ok()) {
      // The local disk is behind: wait (flow control holds the stream).
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    Fail(Status::IOError("the local copy of the log failed: " + p.status().ToString()));
    natsMsg_Destroy(msg);
    return;
  }
  next_seq_ = seq + 1;
  uint64_t k = known_head_.load();
  while (k < seq + pending && !known_head_.compare_exchange_weak(k, seq + pending)) {
  }
  if (started_.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> l(in_mu_);
    consumed_.push_back(Entry{seq, std::string(payload)});
  }
  natsMsg_Destroy(msg);
}

void JetStreamEventLog::OnReconnected(natsConnection*, void* closure) {
  auto* self = static_cast<JetStreamEventLog*>(closure);
  {
    std::lock_guard<std::mutex> l(self->out_mu_);
    ++self->stats_.reconnects;
  }
  LogLine(LogLevel::kInfo, "nats reconnected", {{"node", self->options_.node}});
}

Status JetStreamEventLog::ReadEntry(wal::Position p, std::string* payload) {
  {
    std::lock_guard<std::mutex> l(in_mu_);
    while (!consumed_.empty() && consumed_.front().position < p.value()) consumed_.pop_front();
    if (!consumed_.empty() && consumed_.front().position == p.value()) {
      payload->swap(consumed_.front().payload);
      consumed_.pop_front();
      return Status::OK();
    }
  }
  return ReadLocalEntry(local_.get(), p, &reader_, payload);
}

void JetStreamEventLog::RefreshKnownHead() {
  {
    std::lock_guard<std::mutex> l(pub_mu_);
    refresh_wanted_ = true;
  }
  pub_cv_.notify_one();
}

void JetStreamEventLog::RefreshNow() {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 2000;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (js_GetStreamInfo(&si, js_, options_.stream.c_str(), &jo, &jerr) != NATS_OK) return;
  const uint64_t last = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  uint64_t k = known_head_.load();
  while (k < last && !known_head_.compare_exchange_weak(k, last)) {
  }
  Poke();
}

wal::Position JetStreamEventLog::known_head() {
  return wal::Position(std::max(known_head_.load(), local_->durable_head().value()));
}

Status JetStreamEventLog::Health() const {
  {
    std::lock_guard<std::mutex> l(fail_mu_);
    if (!failed_.ok()) return failed_;
  }
  return local_ ? local_->Health() : Status::Unavailable("the log is closed");
}

void JetStreamEventLog::Fail(const Status& s) {
  {
    std::lock_guard<std::mutex> l(fail_mu_);
    if (!failed_.ok()) return;
    failed_ = s;
  }
  LogLine(LogLevel::kError, "jetstream log failed", {{"error", s.ToString()}});
  Poke();
}

JetStreamStats JetStreamEventLog::Stats() const {
  std::lock_guard<std::mutex> l(out_mu_);
  return stats_;
}

void JetStreamEventLog::AppendMetrics(std::string* out) {
  const JetStreamStats s = Stats();
  auto line = [out](const char* name, const char* type, const char* help, const std::string& v) {
    out->append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
    out->append(name).append(" ").append(type).append("\n").append(name).append(" ");
    out->append(v).append("\n");
  };
  auto u = [](uint64_t v) { return std::to_string(v); };
  const uint64_t head = local_->durable_head().value();
  const uint64_t known = known_head().value();
  line("eventide_jetstream_known_position", "gauge",
       "The newest stream sequence this node knows of.", u(known));
  line("eventide_jetstream_lag", "gauge",
       "Stream messages this node has not yet in its local copy.", u(known - head));
  line("eventide_jetstream_published_total", "counter", "Publishes JetStream acknowledged.",
       u(s.published));
  line("eventide_jetstream_duplicates_total", "counter",
       "Acknowledgements of a copy JetStream dropped (a retried Msg-Id).", u(s.duplicates));
  line("eventide_jetstream_conflicts_total", "counter",
       "Publishes refused because another node wrote the record first.", u(s.conflicts));
  line("eventide_jetstream_retries_total", "counter", "Publishes sent again after no answer.",
       u(s.retries));
  line("eventide_jetstream_failed_total", "counter", "Publishes given up (answered 503).",
       u(s.failed));
  line("eventide_jetstream_reconnects_total", "counter", "Reconnections to NATS.",
       u(s.reconnects));
  line("eventide_jetstream_publish_seconds_sum", "counter", "Send to PubAck, summed.",
       std::to_string(s.publish_seconds_sum));
  line("eventide_jetstream_publish_seconds_count", "counter", "PubAcks timed.",
       u(s.publish_count));
}

}  // namespace eventide::eventlog
