// The SnackBase WebSocket dialect (src/dialects/snackbase.h): arbitrary client
// bytes go through wslay into SnackbaseWsStream's message handling, in chunks
// of a size the first byte picks, against a hub and a projection; after each
// chunk an entry of the collection "posts" (create, update, delete or
// publish, by turn) is published, so subscriptions (with their operations
// filters, resumes and snapshots) produce events.
//
// Checks on everything the server sent: whole, unmasked, unfragmented frames
// with a known opcode; every text frame one JSON object with a "type" or a
// "status"; an event's "seq" increasing per collection (the fuzzer's log
// holds nothing, so a resume never replays older entries: it resets); a
// Close with an
// RFC 6455 code the server uses, and nothing after it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "rapidjson/document.h"
#include "src/common/utf8.h"
#include "src/config/config.h"
#include "src/dialects/snackbase.h"
#include "src/event/event.h"
#include "src/projection/projection.h"
#include "src/schema/schema.h"
#include "src/stream/formats.h"
#include "src/stream/hub.h"

namespace eventide::dialects {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "snackbase_ws_fuzzer: check failed: %s\n", what);
    std::abort();
  }
}

// The log holds nothing: a resume from an old position resets (expired).
class NoLog : public stream::LogSource {
 public:
  void Read(wal::Position, wal::Position,
            std::function<void(Status, std::vector<stream::LoggedEntry>)> done) override {
    done(Status::NotFound("no log in the fuzzer"), {});
  }
};

class Capture : public stream::StreamTransport {
 public:
  void Send(std::string_view bytes) override { out.append(bytes); }
  void SendShared(const stream::Frame& frame) override { out.append(*frame); }
  size_t pending_output_bytes() const override { return 0; }
  void Close() override { closed = true; }
  void Abort() override { closed = true; }
  void SetTimer(uint64_t) override {}
  void PauseReading() override {}
  void ResumeReading() override {}
  std::string out;
  bool closed = false;
};

// SnackBase has no writes: only {"action":"auth"} reaches the host.
class Host : public stream::WsHost {
 public:
  bool ResolveTopic(const std::string&, std::string_view, stream::ResolvedTopic*, std::string* code,
                    std::string* message) override {
    *code = "unknown_table";
    *message = "not used by SnackBase";
    return false;
  }
  void Write(http::Responder*, uint64_t, std::string_view, const stream::Topic&, const std::string&,
             std::string, const policy::Principal&) override {
    Check(false, "SnackBase writes nothing");
  }
  void Publish(http::Responder*, uint64_t, const stream::Topic&, std::string,
               const policy::Principal&) override {
    Check(false, "SnackBase publishes nothing");
  }
  bool VerifyToken(const std::string&, std::string_view token, stream::TokenCheck* out) override {
    out->ok = token == "good";
    if (!out->ok) {
      out->code = "token_invalid";
      out->message = "not the fuzzer's token";
      return false;
    }
    out->exp_s = 60;
    out->deadline_wall_ms = 60000;
    return true;
  }
};

const config::App& FuzzApp() {
  static const config::App app = [] {
    config::App a;
    a.app_id = "app";
    Status s = schema::ParseSchema(
        "type Post @table @export(name: \"posts\", ws: true) {\n  id: ID! @primaryKey\n"
        "  title: String\n}\n"
        "type Comment @table @export(name: \"comments\", ws: true) {\n  id: ID! @primaryKey\n}\n"
        "type Secret @table @export(name: \"secrets\") {\n  id: ID! @primaryKey\n}\n",
        "fuzz.graphql", &a.schema);
    Check(s.ok(), "the fuzzer's schema parses");
    return a;
  }();
  return app;
}

void CheckOutput(std::string_view out) {
  bool closed = false;
  std::map<std::string, uint64_t> last_seq;  // by event type's collection
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
      case stream::kWsText: {
        // SPEC section 12: no frame leaves the server that is not UTF-8
        // (client input is refused where it enters; nothing is checked on
        // the way out, so this holds only if every input path checks).
        Check(IsUtf8(payload), "a text frame is UTF-8");
        rapidjson::Document d;
        d.Parse(payload.data(), payload.size());
        Check(!d.HasParseError() && d.IsObject(), "a text frame is one JSON object");
        const bool typed = d.HasMember("type") && d["type"].IsString();
        Check(typed || (d.HasMember("status") && d["status"].IsString()),
              "a message has a type or a status");
        if (typed && d.HasMember("seq") && d.HasMember("timestamp")) {
          const std::string type = d["type"].GetString();
          Check(d["seq"].IsUint64(), "seq is a position");
          const std::string collection = type.substr(0, type.find('.'));
          const uint64_t seq = d["seq"].GetUint64();
          Check(seq > last_seq[collection], "a collection's seq increases");
          last_seq[collection] = seq;
        }
        break;
      }
      case stream::kWsClose: {
        closed = true;
        Check(payload.size() < 2 || IsUtf8(payload.substr(2)), "a Close reason is UTF-8");
        if (payload.size() >= 2) {
          const int code =
              (static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]);
          Check((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
                    (code >= 3000 && code <= 4999),
                "a Close code the server uses, or a valid one echoed");
        }
        break;
      }
      case stream::kWsPing:
      case stream::kWsPong:
        Check(len <= 125, "control frames are short");
        break;
      default:
        Check(false, "a known opcode");
    }
    at += head + len;
  }
}

}  // namespace
}  // namespace eventide::dialects

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eventide;
  using namespace eventide::dialects;
  if (size < 1) return 0;
  const size_t chunk = 1 + (data[0] % 64);
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  const config::App& app_config = FuzzApp();
  CompatApp app(&app_config);
  NoLog log;
  stream::Hub hub(&log, wal::Position(), 1 << 20, stream::AllFormats());
  const size_t format = hub.AddFormat(SnackbaseWsEncoder(app.export_names()));
  projection::Projection projection;
  stream::StreamContext ctx;
  ctx.hub = &hub;
  ctx.projection = &projection;
  int64_t now = 1000;
  ctx.first_retained = [] { return wal::Position(1); };
  ctx.now_ms = [&now] { return now; };
  ctx.wall_ms = [&now] { return now; };
  ctx.options.ws_max_message_bytes = 4096;
  ctx.options.max_subscriptions = 2;
  ctx.options.snackbase_heartbeat_ms = 7000;
  Capture transport;
  Host host;
  {
    SnackbaseWsRequest req;
    req.connection_id = 1;
    req.auth.anonymous = false;
    req.auth.claims.subject = "fuzz";
    SnackbaseWsStream ws(&ctx, &transport, &host, &app, req, format);
    ws.set_auth_deadline(now + 30000);
    ws.Start({});
    const event::Op ops[] = {event::Op::kCreate, event::Op::kUpdate, event::Op::kDelete,
                             event::Op::kPublish};
    int turn = 0;
    for (size_t at = 0; at < input.size() && !transport.closed; at += chunk) {
      ws.OnData(input.substr(at, chunk));
      ws.OnWritten();
      // An entry of posts, durable and applied, then published.
      event::Event e;
      e.op = ops[turn++ % 4];
      e.time_ms = now;
      e.app = "app";
      e.table = "Post";
      e.id = "p1";
      e.data = R"({"id":"p1","title":"t"})";
      const wal::Position p = hub.head().Next();
      projection.Apply(p, e);
      hub.Publish(p, e);
    }
    // Time passes: heartbeats and pings go out, an unanswered ping ends it.
    for (int i = 0; i < 4 && !transport.closed; ++i) {
      now += 6000;
      ws.OnTimer();
    }
    ws.OnClose();
  }
  CheckOutput(transport.out);
  return 0;
}
