#include "src/stream/ws_stream.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <wslay/wslay.h>

#include <algorithm>
#include <charconv>
#include <utility>

#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "src/common/json_text.h"
#include "src/common/utf8.h"
#include "src/schema/validate.h"
#include "src/stream/formats.h"

namespace eventide::stream {
namespace {

// How long a closing handshake may take before the connection is dropped.
constexpr int64_t kCloseGraceMs = 2000;
// Writes in flight per connection before it stops reading (back-pressure).
constexpr size_t kMaxPendingWrites = 64;

const Frame& PingFrame() {
  static const Frame frame = [] {
    std::string f;
    AppendWsFrame(kWsPing, "", &f);
    return std::make_shared<const std::string>(std::move(f));
  }();
  return frame;
}

std::string ToJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

const rapidjson::Value* Member(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

}  // namespace

// wslay's C callbacks, forwarding to the stream.
struct WsCallbacks {
  static ssize_t Recv(wslay_event_context_ptr ctx, uint8_t* buf, size_t len, int, void* user) {
    size_t n = static_cast<WsStream*>(user)->RecvInto(buf, len);
    if (n == 0) {
      wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
      return -1;
    }
    return static_cast<ssize_t>(n);
  }
  static ssize_t Send(wslay_event_context_ptr, const uint8_t* data, size_t len, int, void* user) {
    // Always takes everything (the connection queues it), so a frame wslay
    // writes is never left half-sent between ours.
    static_cast<WsStream*>(user)->SendRaw(
        std::string_view(reinterpret_cast<const char*>(data), len));
    return static_cast<ssize_t>(len);
  }
  static void Message(wslay_event_context_ptr, const wslay_event_on_msg_recv_arg* arg, void* user) {
    static_cast<WsStream*>(user)->OnMessage(
        arg->opcode, std::string_view(reinterpret_cast<const char*>(arg->msg), arg->msg_length));
  }
};

bool ValidWebSocketKey(std::string_view key) {
  // 16 bytes in base64 are 24 characters ending in "==".
  if (key.size() != 24 || key.substr(22) != "==") return false;
  unsigned char out[24];
  int n = EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(key.data()),
                          static_cast<int>(key.size()));
  return n == 18;  // 16 bytes plus the two the padding stands for
}

std::string WebSocketAccept(std::string_view key) {
  static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string text(key);
  text.append(kGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  unsigned char out[32];
  int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
}

void FrameBoundary::Feed(std::string_view data) {
  const auto* b = reinterpret_cast<const uint8_t*>(data.data());
  size_t i = 0;
  while (i < data.size()) {
    if (payload_left_ > 0) {
      const uint64_t skip = std::min<uint64_t>(payload_left_, data.size() - i);
      payload_left_ -= skip;
      i += static_cast<size_t>(skip);
      continue;
    }
    header_[header_len_++] = b[i++];
    if (header_len_ < 2) continue;
    const uint8_t len7 = header_[1] & 0x7F;
    const size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((header_[1] & 0x80) ? 4 : 0);
    if (header_len_ < need) continue;
    uint64_t len = len7;
    if (len7 == 126) {
      len = (uint64_t{header_[2]} << 8) | header_[3];
    } else if (len7 == 127) {
      len = 0;
      for (int k = 2; k < 10; ++k) len = (len << 8) | header_[k];
    }
    const uint8_t opcode = header_[0] & 0x0F;
    const bool fin = (header_[0] & 0x80) != 0;
    if (opcode < 0x8) in_message_ = !fin;  // data frames: a message goes on until FIN
    payload_left_ = len;
    header_len_ = 0;
  }
}

WsStream::WsStream(StreamContext* ctx, StreamTransport* transport, WsHost* host, WsRequest request)
    : ctx_(ctx), t_(transport), host_(host), req_(std::move(request)) {
  ++ctx_->stats.ws_connections;
}

WsStream::~WsStream() {
  subs_.clear();
  if (ws_ != nullptr) wslay_event_context_free(ws_);
  --ctx_->stats.ws_connections;
}

bool WsStream::EnsureWslay() {
  if (ws_ != nullptr) return true;
  wslay_event_callbacks cb{};
  cb.recv_callback = &WsCallbacks::Recv;
  cb.send_callback = &WsCallbacks::Send;
  cb.on_msg_recv_callback = &WsCallbacks::Message;
  if (wslay_event_context_server_init(&ws_, &cb, this) != 0 || ws_ == nullptr) {
    ws_ = nullptr;
    closed_ = true;
    subs_.clear();
    t_->Abort();  // out of memory
    return false;
  }
  wslay_event_config_set_max_recv_msg_length(ws_, ctx_->options.ws_max_message_bytes);
  return true;
}

void WsStream::MaybeReleaseWslay() {
  // wslay's context holds two 4 KiB buffers: an idle connection does not
  // keep one. Between whole messages, with nothing queued and no closing
  // handshake under way, it holds no state a new context would not have.
  if (ws_ == nullptr || closing_ || closed_ || !boundary_.idle()) return;
  if (wslay_event_want_write(ws_) || wslay_event_get_queued_msg_count(ws_) != 0 ||
      wslay_event_get_close_received(ws_) || wslay_event_get_close_sent(ws_) ||
      !wslay_event_get_read_enabled(ws_)) {
    return;
  }
  wslay_event_context_free(ws_);
  ws_ = nullptr;
}

void WsStream::Start(std::string_view early) {
  const int64_t now = ctx_->now_ms();
  stall_.Progress(now);
  next_ping_ms_ = now + static_cast<int64_t>(ctx_->options.ws_ping_ms);
  ArmTimer();
  Open();
  if (!early.empty()) OnData(early);
}

void WsStream::Open() {
  // The URL's topic is followed from the first moment: everything written
  // after the 101 reaches the client.
  Subscribe(req_.own.name, req_.resume, req_.retained, "");
}

size_t WsStream::RecvInto(uint8_t* buf, size_t len) {
  size_t n = std::min(len, input_.size());
  std::copy_n(input_.data(), n, buf);
  input_.remove_prefix(n);
  return n;
}

void WsStream::SendRaw(std::string_view bytes) {
  if (!closed_) t_->Send(bytes);
}

void WsStream::OnData(std::string_view data) {
  if (closed_ || !EnsureWslay()) return;
  boundary_.Feed(data);
  input_ = data;
  int r = wslay_event_recv(ws_);
  input_ = {};
  if (r == WSLAY_ERR_CALLBACK_FAILURE && !closing_) {
    // wslay's frame layer refused a frame header: a fragmented control frame
    // (FIN=0, RFC 6455 section 5.5), one over 125 bytes, a length not in its
    // shortest form. The RFC says fail the connection with 1002 (section
    // 7.1.7); wslay only queues a Close without a code and stops reading
    // with its framing state lost, so the Close is ours, nothing more is
    // read, and the connection ends once the Close is written.
    FailConnection(1002, "malformed frame header (a fragmented or oversize control frame?)");
    return;
  }
  if (r != 0) {
    closed_ = true;
    subs_.clear();
    t_->Abort();
    return;
  }
  Pump();
  if (!closed_) UpdateReading();
  MaybeReleaseWslay();
}

void WsStream::Pump() {
  if (closed_ || ws_ == nullptr) return;
  wslay_event_send(ws_);
  if (wslay_event_get_close_sent(ws_) && !protocol_close_counted_) {
    protocol_close_counted_ = true;
    const uint16_t code = wslay_event_get_status_code_sent(ws_);
    if (code == 1002 || code == 1003 || code == 1007 || code == 1009) {
      ++ctx_->stats.ws_protocol_closes;
    }
    // No more events after a Close.
    subs_.clear();
    if (!closing_) {
      closing_ = true;
      close_deadline_ms_ = ctx_->now_ms() + kCloseGraceMs;
    }
  }
  if (!wslay_event_want_read(ws_) && !wslay_event_want_write(ws_)) {
    closed_ = true;
    subs_.clear();
    t_->Close();
  }
}

void WsStream::FailConnection(uint16_t code, std::string_view reason) {
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));  // big-endian
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason.substr(0, 123));  // a control frame's payload is at most 125 bytes
  frame_.clear();
  AppendWsFrame(kWsClose, payload, &frame_);
  t_->Send(frame_);
  if (!protocol_close_counted_) {
    protocol_close_counted_ = true;
    ++ctx_->stats.ws_protocol_closes;
  }
  closed_ = true;
  subs_.clear();
  t_->Close();
}

void WsStream::CloseWith(uint16_t code, std::string_view reason) {
  if (closing_ || closed_ || !EnsureWslay()) return;
  closing_ = true;
  close_deadline_ms_ = ctx_->now_ms() + kCloseGraceMs;
  subs_.clear();
  wslay_event_queue_close(ws_, code, reinterpret_cast<const uint8_t*>(reason.data()),
                          reason.size());
  Pump();
}

void WsStream::OnMessage(uint8_t opcode, std::string_view payload) {
  if (closed_) return;
  switch (opcode) {
    case kWsPong:
      awaiting_pong_since_ms_ = 0;
      return;
    case kWsText:
      if (!closing_) HandleText(payload);
      return;
    case kWsClose:
      // wslay checks a Close's reason is UTF-8 only when the frame's payload
      // arrives in one read (it skips the first two bytes of every read), and
      // echoes the reason back: a reason split across reads could go out as
      // a frame that is not UTF-8. Its echo is queued but not yet sent.
      if (!closing_ && payload.size() > 2 && !IsUtf8(payload.substr(2))) {
        FailConnection(1007, "the Close reason is not UTF-8");
      }
      return;
    case kWsBinary:
      wslay_event_shutdown_read(ws_);
      CloseWith(1003, "binary messages are not accepted; send JSON text");
      return;
    default:
      return;  // Ping is answered by wslay
  }
}

void WsStream::SendText(std::string_view json) {
  if (closed_ || closing_) return;
  frame_.clear();
  AppendWsFrame(kWsText, json, &frame_);
  t_->Send(frame_);
}

void WsStream::SendError(std::string_view code, std::string_view message, std::string_view action,
                         const std::string& ref, std::string_view field) {
  ++ctx_->stats.ws_client_errors;
  msg_.assign("{\"type\":\"error\",\"code\":");
  AppendJsonString(code, &msg_);
  msg_.append(",\"message\":");
  AppendJsonString(message, &msg_);
  if (!action.empty()) {
    msg_.append(",\"action\":");
    AppendJsonString(action, &msg_);
  }
  if (!field.empty()) {
    msg_.append(",\"field\":");
    AppendJsonString(field, &msg_);
  }
  if (!ref.empty()) msg_.append(",\"ref\":").append(ref);
  msg_.push_back('}');
  SendText(msg_);
}

void WsStream::HandleText(std::string_view text) {
  rapidjson::Document d;
  // wslay has checked the frame's bytes are UTF-8 (else 1007); escapes that
  // decode to no UTF-8 ("\udc00") are refused here, and the connection stays.
  if (JsonInputResult parsed =
          ParseJsonInput(text, &d, "the message", ctx_->options.json_depth + 1);
      !parsed.ok()) {
    return SendError(parsed.code(), parsed.message, "", "");
  }
  if (!d.IsObject()) return SendError("invalid_message", "a message must be a JSON object", "", "");
  std::string ref;
  if (const rapidjson::Value* r = Member(d, "ref")) {
    if (r->IsString() || r->IsNumber()) ref = ToJson(*r);
  }
  const rapidjson::Value* action_v = Member(d, "action");
  if (action_v == nullptr) {
    // A JSON object without an action is a publish to the connection's own
    // topic (SPEC section 6).
    if (ctx_->on_hook) ctx_->on_hook("on_realtime_message", t_, req_.own.name, text);
    const uint64_t slot = next_slot_++;
    pending_[slot] = PendingWrite{"publish", ref, "", ""};
    host_->Publish(this, slot, req_.own.topic, ToJson(d), req_.who);
  } else {
    if (!action_v->IsString()) {
      return SendError("invalid_message", "\"action\" must be a string", "", ref);
    }
    const std::string action(action_v->GetString(), action_v->GetStringLength());
    std::string topic_name = req_.own.name;
    if (const rapidjson::Value* t = Member(d, "topic")) {
      if (!t->IsString())
        return SendError("invalid_message", "\"topic\" must be a string", action, ref);
      topic_name.assign(t->GetString(), t->GetStringLength());
    }
    // Client messages go to the message hook, but pings (keep-alive, not
    // content) and auths (a token goes nowhere).
    if (ctx_->on_hook && action != "auth" && action != "ping") {
      ctx_->on_hook("on_realtime_message", t_, topic_name, text);
    }
    if (action == "ping") {
      msg_.assign("{\"type\":\"pong\"");
      if (!ref.empty()) msg_.append(",\"ref\":").append(ref);
      msg_.push_back('}');
      return SendText(msg_);
    }
    if (action == "subscribe") return SubscribeAction(d, topic_name, ref);
    if (action == "auth") return AuthAction(d, ref);
    if (action == "unsubscribe") return Unsubscribe(topic_name, ref);
    if (action == "publish" || action == "put" || action == "delete") {
      return WriteAction(action, d, topic_name, ref);
    }
    SendError("unknown_action",
              "unknown action '" + action +
                  "'; use subscribe, unsubscribe, publish, put, delete, ping or auth",
              action, ref);
  }
}

void WsStream::SubscribeAction(const rapidjson::Value& msg, const std::string& topic_name,
                               const std::string& ref) {
  ResumeId resume;
  if (const rapidjson::Value* l = Member(msg, "lastEventId")) {
    std::string text_id;
    if (l->IsString()) {
      text_id.assign(l->GetString(), l->GetStringLength());
    } else if (l->IsUint64()) {
      text_id = std::to_string(l->GetUint64());
    } else if (!l->IsNull()) {
      text_id = ToJson(*l);  // malformed: a reset, as for a bad Last-Event-ID
    }
    resume = ParseResumeId(text_id);
  }
  bool retained = false;
  if (const rapidjson::Value* r = Member(msg, "retained")) {
    if (!r->IsBool()) {
      return SendError("invalid_message", "\"retained\" must be true or false", "subscribe", ref);
    }
    retained = r->GetBool();
  }
  Subscribe(topic_name, resume, retained, ref);
}

void WsStream::AuthAction(const rapidjson::Value& msg, const std::string& ref) {
  const rapidjson::Value* token = Member(msg, "token");
  if (token == nullptr || !token->IsString()) {
    return SendError("invalid_message", "an auth needs \"token\": a string", "auth", ref);
  }
  TokenCheck check;
  if (!host_->VerifyToken(req_.own.topic.app,
                          std::string_view(token->GetString(), token->GetStringLength()), &check)) {
    return SendError(check.code, check.message, "auth", ref);
  }
  // The connection keeps its identity: a token for someone else would have
  // to open a connection of its own.
  if (!req_.who.subject.empty() && check.subject != req_.who.subject) {
    return SendError("subject_mismatch",
                     "the token is for another subject than the one this connection opened with",
                     "auth", ref);
  }
  req_.who.subject = check.subject;
  req_.who.claims_json = check.claims_json;
  // Read rules judge by the token presented now.
  for (auto& [name, sub] : subs_) {
    Rules rules = sub->rules();
    for (policy::Bound& r : rules) r = r.Rebind(req_.who);
    sub->set_rules(std::move(rules));
  }
  auth_deadline_wall_ms_ = check.deadline_wall_ms;
  ArmTimer();
  msg_.assign(R"({"type":"authenticated","exp":)").append(std::to_string(check.exp_s));
  if (!ref.empty()) msg_.append(",\"ref\":").append(ref);
  msg_.push_back('}');
  SendText(msg_);
}

void WsStream::WriteAction(const std::string& action, const rapidjson::Value& msg,
                           const std::string& topic_name, const std::string& ref) {
  ResolvedTopic rt;
  std::string code, message;
  if (!host_->ResolveTopic(req_.own.topic.app, topic_name, &rt, &code, &message)) {
    return SendError(code, message, action, ref);
  }
  const rapidjson::Value* data = Member(msg, "data");
  PendingWrite w{action, ref, "", ""};
  std::string body;
  std::string method;
  if (action == "publish") {
    if (data == nullptr)
      return SendError("invalid_message", "a publish needs \"data\"", action, ref);
    body = ToJson(*data);
  } else if (action == "put") {
    if (data == nullptr || !data->IsObject()) {
      return SendError("invalid_message", "a put needs \"data\": the record, a JSON object", action,
                       ref);
    }
    if (const rapidjson::Value* key = Member(*data, rt.primary_key.c_str())) {
      if (!key->IsNull() && !schema::RecordIdText(*key, &w.id)) {
        return SendError("validation_failed",
                         "field '" + rt.primary_key +
                             "' must be a non-empty string without '/' or NUL, or an integer",
                         action, ref, rt.primary_key);
      }
    }
    if (w.id.empty()) w.id = rt.topic.id;  // a record topic names the record
    method = w.id.empty() ? "POST" : "PUT";
    if (method == "POST") w.primary_key = rt.primary_key;
    body = ToJson(*data);
  } else {  // delete
    const rapidjson::Value* id = Member(msg, "id");
    if (id == nullptr) {
      w.id = rt.topic.id;
    } else if (!schema::RecordIdText(*id, &w.id)) {
      return SendError("invalid_message",
                       "\"id\" must be a non-empty string without '/' or NUL, or an integer",
                       action, ref);
    }
    if (w.id.empty()) return SendError("invalid_message", "a delete needs \"id\"", action, ref);
    method = "DELETE";
  }
  // Registered before the host is called: it may answer at once.
  const uint64_t slot = next_slot_++;
  const std::string id = w.id;
  pending_[slot] = std::move(w);
  if (action == "publish") {
    host_->Publish(this, slot, rt.topic, std::move(body), req_.who);
  } else {
    host_->Write(this, slot, method, rt.topic, id, std::move(body), req_.who);
  }
}

void WsStream::UpdateReading() {
  // A client is read only while its writes in flight and its unread output
  // are bounded: one that sends without reading (pings, bad messages) stops
  // being read instead of growing the server's memory.
  const size_t out = t_->pending_output_bytes();
  const bool pause = pending_.size() >= kMaxPendingWrites || out > ctx_->options.output_limit;
  const bool resume =
      pending_.size() < kMaxPendingWrites / 2 && out < ctx_->options.output_limit / 2;
  if (pause && !reading_paused_) {
    reading_paused_ = true;
    t_->PauseReading();
  } else if (reading_paused_ && resume) {
    reading_paused_ = false;
    t_->ResumeReading();
  }
}

void WsStream::Respond(uint64_t slot, const http::ResponseHead& head, std::string_view body) {
  auto it = pending_.find(slot);
  if (it == pending_.end()) return;
  PendingWrite w = std::move(it->second);
  pending_.erase(it);
  UpdateReading();
  if (head.status >= 400) {
    // The REST error body: {"error":{"code":…,"message":…[,"field":…]}}.
    rapidjson::Document d;
    d.Parse(body.data(), body.size());
    std::string code = "internal", message = "the write failed", field;
    if (!d.HasParseError() && d.IsObject()) {
      if (const rapidjson::Value* e = Member(d, "error"); e != nullptr && e->IsObject()) {
        if (const rapidjson::Value* c = Member(*e, "code"); c && c->IsString())
          code = c->GetString();
        if (const rapidjson::Value* m = Member(*e, "message"); m && m->IsString()) {
          message = m->GetString();
        }
        if (const rapidjson::Value* f = Member(*e, "field"); f && f->IsString())
          field = f->GetString();
      }
    }
    return SendError(code, message, w.action, w.ref, field);
  }
  // The entry's position, from the answer's Event-Position header.
  std::string_view raw = head.raw_headers;
  std::string_view seq = "0";
  static constexpr std::string_view kHeader = "event-position: ";
  if (size_t at = raw.find(kHeader); at != std::string_view::npos) {
    seq = raw.substr(at + kHeader.size());
    seq = seq.substr(0, seq.find('\r'));
  }
  if (w.id.empty() && !w.primary_key.empty()) {
    rapidjson::Document d;
    d.Parse(body.data(), body.size());
    if (!d.HasParseError() && d.IsObject()) {
      if (const rapidjson::Value* k = Member(d, w.primary_key.c_str()))
        schema::RecordIdText(*k, &w.id);
    }
  }
  msg_.assign("{\"type\":\"ack\",\"action\":");
  AppendJsonString(w.action, &msg_);
  if (!w.id.empty()) {
    msg_.append(",\"id\":");
    AppendJsonString(w.id, &msg_);
  }
  msg_.append(",\"seq\":").append(seq);
  if (!w.ref.empty()) msg_.append(",\"ref\":").append(w.ref);
  msg_.push_back('}');
  SendText(msg_);
}

void WsStream::Subscribe(const std::string& topic_name, const ResumeId& resume, bool retained,
                         const std::string& ref) {
  ResolvedTopic rt;
  std::string code, message;
  if (!host_->ResolveTopic(req_.own.topic.app, topic_name, &rt, &code, &message)) {
    return SendError(code, message, "subscribe", ref);
  }
  auto it = subs_.find(rt.name);
  if (it == subs_.end() && subs_.size() >= ctx_->options.max_subscriptions) {
    return SendError("too_many_subscriptions",
                     "a connection follows at most " +
                         std::to_string(ctx_->options.max_subscriptions) + " topics",
                     "subscribe", ref);
  }
  msg_.assign("{\"type\":\"subscribed\",\"topic\":");
  AppendJsonString(rt.name, &msg_);
  if (!ref.empty()) msg_.append(",\"ref\":").append(ref);
  msg_.push_back('}');
  SendText(msg_);
  if (it != subs_.end()) {
    // Already followed: asking again with nothing new changes nothing; with a
    // position or for the retained state it starts over from there.
    if (resume.kind == ResumeId::Kind::kNone && !retained) return;
    subs_.erase(it);
  }
  auto sub = std::make_unique<Subscription>(ctx_, t_, this, rt.topic, rt.name, kWsFormat);
  Subscription* s = sub.get();
  if (rt.read_rule) s->set_rule(rt.read_rule->Bind(req_.who));
  subs_[rt.name] = std::move(sub);
  s->Start(resume, !rt.topic.id.empty() || retained);
}

void WsStream::Unsubscribe(const std::string& topic_name, const std::string& ref) {
  ResolvedTopic rt;
  std::string code, message;
  if (!host_->ResolveTopic(req_.own.topic.app, topic_name, &rt, &code, &message)) {
    return SendError(code, message, "unsubscribe", ref);
  }
  auto it = subs_.find(rt.name);
  if (it == subs_.end()) {
    return SendError("not_subscribed", "this connection does not follow " + rt.name, "unsubscribe",
                     ref);
  }
  subs_.erase(it);
  msg_.assign("{\"type\":\"unsubscribed\",\"topic\":");
  AppendJsonString(rt.name, &msg_);
  if (!ref.empty()) msg_.append(",\"ref\":").append(ref);
  msg_.push_back('}');
  SendText(msg_);
}

void WsStream::OnReset(const Subscription& s, std::string_view reason, wal::Position head) {
  msg_.assign("{\"message_type\":\"Reset\",\"reason\":");
  AppendJsonString(reason, &msg_);
  msg_.append(",\"position\":").append(std::to_string(head.value()));
  msg_.append(",\"topic\":");
  AppendJsonString(s.name(), &msg_);
  msg_.push_back('}');
  SendText(msg_);
}

void WsStream::OnRetained(const Subscription& s, const projection::Record& r) {
  msg_.assign("{\"message_type\":\"Retained\",\"data\":");
  msg_.append(r.json());
  msg_.append(",\"id\":");
  AppendJsonString(r.id(), &msg_);
  msg_.append(",\"topic\":");
  AppendJsonString(s.name(), &msg_);
  msg_.push_back('}');
  SendText(msg_);
}

void WsStream::OnSynced(const Subscription& s, wal::Position p) {
  msg_.assign("{\"message_type\":\"Synced\",\"seq\":");
  msg_.append(std::to_string(p.value()));
  msg_.append(",\"topic\":");
  AppendJsonString(s.name(), &msg_);
  msg_.push_back('}');
  SendText(msg_);
}

void WsStream::ArmTimer() {
  const StreamOptions& o = ctx_->options;
  uint64_t tick = std::min(
      {o.ws_ping_ms, o.ws_pong_timeout_ms, std::max<uint64_t>(o.stall_timeout_ms / 4, 50)});
  if (closing_) tick = std::min<uint64_t>(tick, kCloseGraceMs / 4);
  tick = std::min(tick, TickLimitMs());
  const int64_t auth_left = AuthLeftMs(*ctx_);
  if (auth_left >= 0) tick = std::min<uint64_t>(tick, static_cast<uint64_t>(auth_left) + 1);
  t_->SetTimer(tick);
}

void WsStream::OnTimer() {
  if (closed_) return;
  const int64_t now = ctx_->now_ms();
  if (closing_) {
    if (now >= close_deadline_ms_) {  // the client never answered our Close
      closed_ = true;
      t_->Abort();
      return;
    }
    return ArmTimer();
  }
  if (stall_.Stalled(now, t_->pending_output_bytes(), ctx_->options.stall_timeout_ms)) {
    ++ctx_->stats.stalled_closed;
    closed_ = true;
    subs_.clear();
    t_->Abort();
    return;
  }
  if (AuthLeftMs(*ctx_) == 0) {
    // The token ran out (SPEC section 8): close 4001; the client reconnects
    // with a new token and resumes from its last "seq".
    ++ctx_->stats.token_expired_closed;
    CloseWith(4001, "token expired");
    return ArmTimer();
  }
  if (awaiting_pong_since_ms_ != 0 &&
      now - awaiting_pong_since_ms_ >= static_cast<int64_t>(ctx_->options.ws_pong_timeout_ms)) {
    ++ctx_->stats.ws_pong_timeouts;
    CloseWith(1001, "no Pong within the timeout");
    return ArmTimer();
  }
  if (now >= next_ping_ms_) {
    t_->SendShared(PingFrame());
    if (awaiting_pong_since_ms_ == 0) awaiting_pong_since_ms_ = now;
    next_ping_ms_ = now + static_cast<int64_t>(ctx_->options.ws_ping_ms);
  }
  OnTick(now);
  ArmTimer();
}

void WsStream::OnWritten() {
  if (closed_) return;
  stall_.Progress(ctx_->now_ms());
  UpdateReading();
  if (t_->pending_output_bytes() >= ctx_->options.output_limit / 2) return;
  for (auto& [name, sub] : subs_) sub->OnDrained();
}

void WsStream::OnEof() {
  // The client went away (the connection closes next).
  closed_ = true;
  subs_.clear();
}

void WsStream::OnShutdown() {
  if (closed_) return;
  CloseWith(1001, "server shutting down; reconnect and resume");
}

void WsStream::OnClose() {
  closed_ = true;
  subs_.clear();
}

}  // namespace eventide::stream
