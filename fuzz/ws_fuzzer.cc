// The WebSocket message path (src/stream/ws_stream): arbitrary client bytes
// go through wslay into the stream's handler, in chunks of a size the first
// byte picks, against a hub, a projection and a host that makes writes
// "durable" at once (so acks and events flow back).
//
// Checks on everything the server sent: a sequence of whole, unmasked,
// unfragmented frames with a known opcode; every text frame is valid UTF-8
// and one JSON object; a Close carries an RFC 6455 code the server uses, and nothing
// follows it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "rapidjson/document.h"
#include "src/common/utf8.h"
#include "src/event/event.h"
#include "src/projection/projection.h"
#include "src/stream/formats.h"
#include "src/stream/hub.h"
#include "src/stream/ws_stream.h"

namespace eventide::stream {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "ws_fuzzer: check failed: %s\n", what);
    std::abort();
  }
}

class NoLog : public LogSource {
 public:
  void Read(wal::Position, wal::Position,
            std::function<void(Status, std::vector<LoggedEntry>)> done) override {
    done(Status::NotFound("no log in the fuzzer"), {});
  }
};

class Capture : public StreamTransport {
 public:
  void Send(std::string_view bytes) override { out.append(bytes); }
  void SendShared(const Frame& frame) override { out.append(*frame); }
  size_t pending_output_bytes() const override { return pending; }
  void Close() override { closed = true; }
  void Abort() override { closed = true; }
  void SetTimer(uint64_t) override {}
  void PauseReading() override {}
  void ResumeReading() override {}
  std::string out;
  size_t pending = 0;
  bool closed = false;
};

// One table, "message" (key "id"); writes become durable at once.
class Host : public WsHost {
 public:
  Host(Hub* hub, projection::Projection* projection) : hub_(hub), projection_(projection) {}
  bool ResolveTopic(const std::string& app, std::string_view name, ResolvedTopic* out,
                    std::string* code, std::string* message) override {
    size_t slash = name.find('/');
    std::string_view table = name.substr(0, slash);
    if (table != "message" && table != "Message") {
      *code = "unknown_table";
      *message = "no such table";
      return false;
    }
    std::string_view id = slash == std::string_view::npos ? "" : name.substr(slash + 1);
    if (slash != std::string_view::npos && id.empty()) {
      *code = "invalid_topic";
      *message = "empty id";
      return false;
    }
    out->topic = Topic{app, "Message", std::string(id)};
    out->name = "message";
    // A read rule, so events and retained records are judged too (and
    // left_view deletes made when an update hides a record).
    static const std::shared_ptr<const policy::Policy> rule =
        *policy::Policy::Parse("title != \"hidden\" or author = $auth.sub",
                               [](std::string_view n) { return n == "title" || n == "author"; });
    out->read_rule = rule;
    if (!id.empty()) out->name.append("/").append(id);
    out->primary_key = "id";
    return true;
  }
  void Write(http::Responder* r, uint64_t slot, std::string_view method, const Topic& table,
             const std::string& id, std::string body, const policy::Principal&) override {
    // An Event views its strings: these outlive it.
    const std::string record_id = id.empty() ? "generated" : id;
    event::Event e;
    e.op = method == "DELETE" ? event::Op::kDelete : event::Op::kUpdate;
    e.app = table.app;
    e.table = table.table;
    e.id = record_id;
    e.data = body;
    std::string prev;
    if (e.op == event::Op::kUpdate) {
      prev = Current(record_id);
      e.prev = prev;
    }
    if (e.op == event::Op::kDelete && !Exists(record_id)) {
      http::ResponseHead head;
      head.status = 404;
      r->Respond(slot, head, R"({"error":{"code":"not_found","message":"no record"}})");
      return;
    }
    Durable(r, slot, e);
  }
  bool VerifyToken(const std::string&, std::string_view token, TokenCheck* out) override {
    // "good" extends by a minute; anything else is refused.
    out->ok = token == "good";
    if (!out->ok) {
      out->code = "token_invalid";
      out->message = "not the fuzzer's token";
      return false;
    }
    out->exp_s = 60;
    out->subject = "fuzz";
    out->claims_json = R"({"sub":"fuzz"})";
    out->deadline_wall_ms = 60000;
    return true;
  }
  void Publish(http::Responder* r, uint64_t slot, const Topic& topic, std::string data_json,
               const policy::Principal&) override {
    event::Event e;
    e.op = event::Op::kPublish;
    e.app = topic.app;
    e.table = topic.table;
    e.id = topic.id;
    e.data = data_json;
    Durable(r, slot, e);
  }

 private:
  std::string Current(const std::string& id) const {
    const projection::Table* t = projection_->Find("app", "Message");
    projection::RecordPtr r = t != nullptr ? t->Get(id) : nullptr;
    return r ? std::string(r->json()) : std::string();
  }
  bool Exists(const std::string& id) const {
    const projection::Table* t = projection_->Find("app", "Message");
    return t != nullptr && static_cast<bool>(t->Get(id));
  }
  void Durable(http::Responder* r, uint64_t slot, const event::Event& e) {
    wal::Position p = hub_->head().Next();
    projection_->Apply(p, e);
    hub_->Publish(p, e);
    http::ResponseHead head;
    head.status = 200;
    const std::string headers = "event-position: " + std::to_string(p.value()) + "\r\n";
    head.raw_headers = headers;  // a view
    r->Respond(slot, head, "{}");
  }
  Hub* hub_;
  projection::Projection* projection_;
};

// Walks the server's bytes frame by frame.
void CheckOutput(std::string_view out) {
  bool closed = false;
  size_t at = 0;
  while (at < out.size()) {
    Check(!closed, "nothing follows a Close");
    Check(out.size() - at >= 2, "a whole frame header");
    const auto b0 = static_cast<uint8_t>(out[at]), b1 = static_cast<uint8_t>(out[at + 1]);
    Check((b0 & 0x80) != 0, "server frames are not fragmented");
    Check((b0 & 0x70) == 0, "no reserved bits");
    Check((b1 & 0x80) == 0, "server frames are not masked");
    const uint8_t opcode = b0 & 0x0F;
    uint64_t len = b1 & 0x7F;
    size_t head = 2;
    if (len == 126) {
      Check(out.size() - at >= 4, "a whole 16-bit length");
      len = (uint64_t{static_cast<uint8_t>(out[at + 2])} << 8) | static_cast<uint8_t>(out[at + 3]);
      head = 4;
    } else if (len == 127) {
      Check(out.size() - at >= 10, "a whole 64-bit length");
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<uint8_t>(out[at + 2 + i]);
      head = 10;
    }
    Check(out.size() - at - head >= len, "a whole payload");
    std::string_view payload = out.substr(at + head, len);
    switch (opcode) {
      case kWsText: {
        // SPEC section 12: no frame leaves the server that is not UTF-8
        // (client input is refused where it enters; nothing is checked on
        // the way out, so this holds only if every input path checks).
        Check(IsUtf8(payload), "a text frame is UTF-8");
        rapidjson::Document d;
        d.Parse(payload.data(), payload.size());
        Check(!d.HasParseError() && d.IsObject(), "a text frame is one JSON object");
        break;
      }
      case kWsClose: {
        closed = true;
        Check(payload.size() < 2 || IsUtf8(payload.substr(2)), "a Close reason is UTF-8");
        if (payload.size() >= 2) {
          const int code =
              (static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]);
          // The server's own (1001-1003, 1007, 1009), or a client's valid
          // code echoed back (RFC 6455 section 7.4: 1000-1003, 1007-1011,
          // 3000-4999; wslay answers an invalid one with 1002).
          Check((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
                    (code >= 3000 && code <= 4999),
                "a Close code the server uses, or a valid one echoed");
        }
        break;
      }
      case kWsPing:
      case kWsPong:
        Check(len <= 125, "control frames are short");
        break;
      default:
        Check(false, "a known opcode");
    }
    at += head + len;
  }
}

}  // namespace
}  // namespace eventide::stream

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eventide::stream;
  if (size < 1) return 0;
  const size_t chunk = 1 + (data[0] % 64);
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  NoLog log;
  Hub hub(&log, eventide::wal::Position(), 1 << 20, AllFormats());
  eventide::projection::Projection projection;
  StreamContext ctx;
  ctx.hub = &hub;
  ctx.projection = &projection;
  int64_t now = 1000;
  ctx.first_retained = [] { return eventide::wal::Position(1); };
  ctx.now_ms = [&now] { return now; };
  ctx.wall_ms = [&now] { return now; };
  ctx.options.ws_max_message_bytes = 4096;
  ctx.options.max_subscriptions = 4;
  Capture transport;
  Host host(&hub, &projection);
  {
    WsRequest req;
    req.connection_id = 1;
    req.own.topic = Topic{"app", "Message", ""};
    req.own.name = "message";
    req.own.primary_key = "id";
    WsStream ws(&ctx, &transport, &host, req);
    // Its token runs out as time passes below (4001), unless an in-band
    // {"action":"auth","token":"good"} extended it.
    ws.set_auth_deadline(now + 5000);
    ws.Start({});
    for (size_t at = 0; at < input.size() && !transport.closed; at += chunk) {
      ws.OnData(input.substr(at, chunk));
      ws.OnWritten();
    }
    // Time passes: pings go out, an unanswered one ends the connection.
    for (int i = 0; i < 4 && !transport.closed; ++i) {
      now += 6000;
      ws.OnTimer();
    }
    ws.OnClose();
  }
  CheckOutput(transport.out);
  return 0;
}
