#include "src/dialects/snackbase.h"

#include <charconv>
#include <utility>

#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "src/common/json_text.h"
#include "src/common/time.h"
#include "src/common/utf8.h"
#include "src/stream/formats.h"
#include "src/stream/sse.h"

namespace eventide::dialects {
namespace {

// {"type":"posts.create","timestamp":"…","data":{…},"seq":N}; false for a
// publish.
bool AppendEvent(const ExportNames& names, wal::Position p, const event::Event& e,
                 std::string* out) {
  if (e.op == event::Op::kPublish) return false;
  const std::string_view op = event::OpName(e.op);
  auto table = names.find(e.table);
  const std::string_view collection =
      table == names.end() ? e.table : std::string_view(table->second);
  std::string type;
  type.reserve(collection.size() + op.size() + 1);
  type.append(collection).push_back('.');
  type.append(op);
  out->reserve(out->size() + e.data.size() + type.size() + 80);
  out->append("{\"type\":");
  AppendJsonString(type, out);
  out->append(",\"timestamp\":\"");
  AppendIso8601Millis(e.time_ms, out);
  out->append("\",\"data\":");
  AppendRecord(e, out);
  out->append(",\"seq\":").append(std::to_string(p.value()));
  // The record left the subscriber's view (SPEC section 8).
  if (!e.reason.empty()) out->append(",\"reason\":\"").append(e.reason).append("\"");
  out->push_back('}');
  return true;
}

// {"type":"posts.create","data":{…},"retained":true}: a current record
// looks like its create, so a client that knows only events builds its state
// from it. It has no position, so no "seq" (and no event time).
void AppendRetained(std::string_view collection, const projection::Record& r, std::string* out) {
  std::string type(collection);
  type.append(".create");
  out->assign("{\"type\":");
  AppendJsonString(type, out);
  out->append(",\"data\":").append(r.json());
  out->append(",\"retained\":true}");
}

const rapidjson::Value* Member(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::string ToJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

stream::WsRequest BaseRequest(const CompatApp* app, const SnackbaseWsRequest& r) {
  stream::WsRequest w;
  w.connection_id = r.connection_id;
  w.who = r.auth.principal();
  // No topic of its own: the app is what {"action":"auth"} checks tokens for.
  w.own.topic = stream::Topic(app->id(), "");
  return w;
}

}  // namespace

uint8_t SnackbaseOpBit(std::string_view operation) {
  if (operation == "create") return stream::OpBit(event::Op::kCreate);
  if (operation == "update") return stream::OpBit(event::Op::kUpdate);
  if (operation == "delete") return stream::OpBit(event::Op::kDelete);
  return 0;
}

stream::Encoder SnackbaseWsEncoder(ExportNames names) {
  return [names = std::move(names)](wal::Position p, const event::Event& e) {
    std::string json, frame;
    if (AppendEvent(names, p, e, &json)) stream::AppendWsFrame(stream::kWsText, json, &frame);
    return frame;
  };
}

stream::Encoder SnackbaseSseEncoder(ExportNames names) {
  return [names = std::move(names)](wal::Position p, const event::Event& e) {
    std::string json, out;
    if (!AppendEvent(names, p, e, &json)) return out;
    char id[24];
    auto r = std::to_chars(id, id + sizeof(id), p.value());
    stream::AppendSseEvent("", std::string_view(id, static_cast<size_t>(r.ptr - id)), json, &out);
    return out;
  };
}

// ---- SSE ----

SnackbaseSseStream::SnackbaseSseStream(stream::StreamContext* ctx,
                                       stream::StreamTransport* transport, CompatSseRequest request,
                                       size_t format)
    : CompatSseStream(ctx, transport, std::move(request), format) {
  ++ctx_->stats.snackbase_sse_streams;
}

SnackbaseSseStream::~SnackbaseSseStream() { --ctx_->stats.snackbase_sse_streams; }

const stream::Frame& SnackbaseSseStream::Heartbeat() const {
  std::string json = R"({"type":"heartbeat","event":"heartbeat","timestamp":")";
  AppendIso8601Millis(ctx_->wall_ms(), &json);
  json.append("\"}");
  std::string frame;
  stream::AppendSseEvent("", "", json, &frame);
  heartbeat_ = std::make_shared<const std::string>(std::move(frame));
  return heartbeat_;
}

void SnackbaseSseStream::SayConnected(wal::Position head) {
  data_.assign(R"({"type":"connected","status":"ok","position":)");
  data_.append(std::to_string(head.value())).push_back('}');
  SendMessage(data_);
}

void SnackbaseSseStream::OnReset(const stream::Subscription&, std::string_view reason,
                                 wal::Position head) {
  data_.assign(R"({"type":"reset","reason":")");
  data_.append(reason).append("\",\"position\":").append(std::to_string(head.value()));
  data_.push_back('}');
  SendMessage(data_);
}

void SnackbaseSseStream::OnRetained(const stream::Subscription& s, const projection::Record& r) {
  AppendRetained(ExportName(s.retained_table()), r, &data_);
  SendMessage(data_);
}

void SnackbaseSseStream::OnSynced(const stream::Subscription&, wal::Position p) {
  const std::string pos = std::to_string(p.value());
  data_.assign(R"({"type":"synced","seq":)").append(pos).push_back('}');
  SendMessage(data_, pos);
}

// ---- WebSocket ----

SnackbaseWsStream::SnackbaseWsStream(stream::StreamContext* ctx, stream::StreamTransport* transport,
                                     stream::WsHost* host, const CompatApp* app,
                                     SnackbaseWsRequest request, size_t format)
    : WsStream(ctx, transport, host, BaseRequest(app, request)),
      app_(app),
      auth_(std::move(request.auth)),
      format_(format) {
  ++ctx_->stats.snackbase_ws_connections;
}

SnackbaseWsStream::~SnackbaseWsStream() {
  // The subscriptions name this object as their Notices: they go first.
  subs_.clear();
  --ctx_->stats.snackbase_ws_connections;
}

void SnackbaseWsStream::Open() {
  next_heartbeat_ms_ = ctx_->now_ms() + static_cast<int64_t>(ctx_->options.snackbase_heartbeat_ms);
}

void SnackbaseWsStream::OnTick(int64_t now_ms) {
  if (now_ms < next_heartbeat_ms_) return;
  next_heartbeat_ms_ = now_ms + static_cast<int64_t>(ctx_->options.snackbase_heartbeat_ms);
  text_.assign(R"({"type":"heartbeat","timestamp":")");
  AppendIso8601Millis(ctx_->wall_ms(), &text_);
  text_.append("\"}");
  SendText(text_);
}

std::unique_ptr<stream::Subscription> SnackbaseWsStream::NewSubscription(const schema::Table& table,
                                                                         uint8_t ops) {
  stream::Topic topic(app_->id(), table.name);
  topic.ops = ops;
  auto sub = std::make_unique<stream::Subscription>(ctx_, t_, this, std::move(topic),
                                                    table.export_name, format_);
  if (table.read_rule)
    sub->set_rule(table.read_rule->Bind(req_.who));  // current after an auth action
  return sub;
}

void SnackbaseWsStream::SendSnackbaseError(std::string_view code, std::string_view message,
                                           std::string_view action, std::string_view collection) {
  ++ctx_->stats.ws_client_errors;
  text_.assign("{\"type\":\"error\",\"code\":");
  AppendJsonString(code, &text_);
  text_.append(",\"message\":");
  AppendJsonString(message, &text_);
  if (!action.empty()) {
    text_.append(",\"action\":");
    AppendJsonString(action, &text_);
  }
  if (!collection.empty()) {
    text_.append(",\"collection\":");
    AppendJsonString(collection, &text_);
  }
  text_.push_back('}');
  SendText(text_);
}

void SnackbaseWsStream::SendStatus(std::string_view status, const std::string& collection) {
  text_.assign("{\"status\":\"").append(status).append("\",\"collection\":");
  AppendJsonString(collection, &text_);
  text_.push_back('}');
  SendText(text_);
}

void SnackbaseWsStream::HandleText(std::string_view text) {
  rapidjson::Document d;
  // As on the native WebSocket: escapes that decode to no UTF-8 are refused.
  if (JsonInputResult parsed = ParseJsonInput(text, &d, "the message"); !parsed.ok()) {
    return SendSnackbaseError(parsed.code(), parsed.message, "");
  }
  if (!d.IsObject()) return SendSnackbaseError("invalid_message", "a message is a JSON object", "");
  const rapidjson::Value* a = Member(d, "action");
  if (a == nullptr || !a->IsString()) {
    return SendSnackbaseError(
        "invalid_message", "a message needs \"action\": subscribe, unsubscribe, ping or auth", "");
  }
  const std::string action(a->GetString(), a->GetStringLength());
  // The message hook (SPEC section 9), as on the native WebSocket: not for
  // pings, never for an auth (it carries a token).
  if (ctx_->on_hook && action != "ping" && action != "auth") {
    const rapidjson::Value* c = Member(d, "collection");
    ctx_->on_hook("on_realtime_message", t_,
                  c != nullptr && c->IsString()
                      ? std::string_view(c->GetString(), c->GetStringLength())
                      : std::string_view(),
                  text);
  }
  if (action == "ping") {
    text_.assign(R"({"type":"pong"})");
    return SendText(text_);
  }
  if (action == "subscribe") return SubscribeAction(d);
  if (action == "unsubscribe") return UnsubscribeAction(d);
  if (action == "auth") return AuthAction(d, "");
  SendSnackbaseError("unknown_action",
                     "unknown action '" + action + "'; use subscribe, unsubscribe, ping or auth",
                     action);
}

void SnackbaseWsStream::SubscribeAction(const rapidjson::Value& msg) {
  const rapidjson::Value* c = Member(msg, "collection");
  if (c == nullptr || !c->IsString() || c->GetStringLength() == 0) {
    return SendSnackbaseError("invalid_message",
                              "a subscribe needs \"collection\": the name of a collection",
                              "subscribe");
  }
  const std::string asked(c->GetString(), c->GetStringLength());
  uint8_t ops = kRecordOps;
  if (const rapidjson::Value* o = Member(msg, "operations"); o != nullptr && !o->IsNull()) {
    static constexpr std::string_view kBadOperations =
        "\"operations\" is a non-empty list of \"create\", \"update\" and \"delete\"";
    if (!o->IsArray() || o->Empty()) {
      return SendSnackbaseError("invalid_message", kBadOperations, "subscribe", asked);
    }
    ops = 0;
    for (const rapidjson::Value& v : o->GetArray()) {
      const uint8_t bit =
          v.IsString() ? SnackbaseOpBit(std::string_view(v.GetString(), v.GetStringLength())) : 0;
      if (bit == 0) {
        return SendSnackbaseError("invalid_message",
                                  std::string(kBadOperations) + "; got " + ToJson(v), "subscribe",
                                  asked);
      }
      ops |= bit;
    }
  }
  stream::ResumeId resume;
  if (const rapidjson::Value* l = Member(msg, "lastEventId")) {
    // As the native subscribe: a string or a number; anything else is
    // malformed, which resets (never an error).
    std::string text_id;
    if (l->IsString()) {
      text_id.assign(l->GetString(), l->GetStringLength());
    } else if (l->IsUint64()) {
      text_id = std::to_string(l->GetUint64());
    } else if (!l->IsNull()) {
      text_id = ToJson(*l);
    }
    resume = stream::ParseResumeId(text_id);
  }
  bool retained = false;
  if (const rapidjson::Value* r = Member(msg, "retained")) {
    if (!r->IsBool()) {
      return SendSnackbaseError("invalid_message", "\"retained\" must be true or false",
                                "subscribe", asked);
    }
    retained = r->GetBool();
  }
  const schema::Table* table = app_->Find(asked);
  if (table == nullptr) {
    return SendSnackbaseError("unknown_collection", "no collection '" + asked + "'", "subscribe",
                              asked);
  }
  if (!app_->WsOn(*table)) {
    return SendSnackbaseError("ws_disabled",
                              "WebSocket is not enabled for collection " + table->export_name,
                              "subscribe", table->export_name);
  }
  const std::string& name = table->export_name;
  auto it = subs_.find(name);
  if (it == subs_.end() && subs_.size() >= ctx_->options.max_subscriptions) {
    return SendSnackbaseError("too_many_subscriptions",
                              "a connection follows at most " +
                                  std::to_string(ctx_->options.max_subscriptions) + " collections",
                              "subscribe", name);
  }
  SendStatus("subscribed", name);
  if (it != subs_.end()) {
    // The same subscription again changes nothing; new operations, a
    // position or the retained state start it over.
    if (ops_[name] == ops && resume.kind == stream::ResumeId::Kind::kNone && !retained) return;
    subs_.erase(it);
  }
  ops_[name] = ops;
  std::unique_ptr<stream::Subscription> sub = NewSubscription(*table, ops);
  stream::Subscription* s = sub.get();
  subs_[name] = std::move(sub);
  s->Start(resume, retained);
}

void SnackbaseWsStream::UnsubscribeAction(const rapidjson::Value& msg) {
  const rapidjson::Value* c = Member(msg, "collection");
  if (c == nullptr || !c->IsString() || c->GetStringLength() == 0) {
    return SendSnackbaseError("invalid_message",
                              "an unsubscribe needs \"collection\": the name of a collection",
                              "unsubscribe");
  }
  const std::string asked(c->GetString(), c->GetStringLength());
  const schema::Table* table = app_->Find(asked);
  if (table == nullptr) {
    return SendSnackbaseError("unknown_collection", "no collection '" + asked + "'", "unsubscribe",
                              asked);
  }
  auto it = subs_.find(table->export_name);
  if (it == subs_.end()) {
    return SendSnackbaseError("not_subscribed",
                              "this connection does not follow " + table->export_name,
                              "unsubscribe", table->export_name);
  }
  subs_.erase(it);
  ops_.erase(table->export_name);
  SendStatus("unsubscribed", table->export_name);
}

void SnackbaseWsStream::OnReset(const stream::Subscription& s, std::string_view reason,
                                wal::Position head) {
  text_.assign(R"({"type":"reset","collection":)");
  AppendJsonString(s.name(), &text_);
  text_.append(",\"reason\":");
  AppendJsonString(reason, &text_);
  text_.append(",\"position\":").append(std::to_string(head.value())).push_back('}');
  SendText(text_);
}

void SnackbaseWsStream::OnRetained(const stream::Subscription& s, const projection::Record& r) {
  AppendRetained(s.name(), r, &text_);
  SendText(text_);
}

void SnackbaseWsStream::OnSynced(const stream::Subscription& s, wal::Position p) {
  text_.assign(R"({"type":"synced","collection":)");
  AppendJsonString(s.name(), &text_);
  text_.append(",\"seq\":").append(std::to_string(p.value())).push_back('}');
  SendText(text_);
}

}  // namespace eventide::dialects
