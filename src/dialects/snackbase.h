// The "SnackBase" dialect (SPEC section 7, docs/DIALECTS.md): collections
// are the compat app's tables.
//
// WebSocket  GET /api/v1/realtime/ws[?token=JWT]  (or the token as the
//            Sec-WebSocket-Protocol, echoed back)
//   client: {"action":"subscribe","collection":"posts","operations":["create","update"],
//            "lastEventId":"41","retained":true}      (all but collection optional)
//           {"action":"unsubscribe","collection":"posts"}
//           {"action":"ping"}   {"action":"auth","token":…}
//   server: {"status":"subscribed","collection":"posts"}
//           {"status":"unsubscribed","collection":"posts"}
//           {"type":"pong"}
//           {"type":"posts.create","timestamp":"…","data":{…},"seq":N}    events
//           {"type":"heartbeat","timestamp":"…"}       every snackbase_heartbeat_ms
//           {"type":"reset","collection":…,"reason":…,"position":N}
//           {"type":"posts.create","data":{…},"retained":true}
//           {"type":"synced","collection":"posts","seq":P}
//           {"type":"error","code":…,"message":…[,"action":…][,"collection":…]}
//   Native WebSocket behaviour otherwise (stream/ws_stream.h): Pings every
//   ws_ping_ms, close codes, back-pressure, 4001 when the token expires.
//
// SSE        GET /api/v1/realtime/subscribe?collection=posts&collection=comments
//   retry: MS
//   data: {"type":"connected","status":"ok","position":HEAD}
//   id: N  data: {"type":"posts.create","timestamp":"…","data":{…},"seq":N}
//   data: {"type":"heartbeat","event":"heartbeat","timestamp":"…"}   (no id)
//   and reset / retained / synced as on the WebSocket, without "collection".
//
// Publishes are not delivered (SnackBase has no such event).
#ifndef EVENTIDE_SRC_DIALECTS_SNACKBASE_H_
#define EVENTIDE_SRC_DIALECTS_SNACKBASE_H_

#include <rapidjson/document.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "src/dialects/compat.h"
#include "src/stream/hub.h"
#include "src/stream/ws_stream.h"

namespace eventide::dialects {

// The hub encoders of SnackBase events: the event object as one WebSocket
// text frame, and as an unnamed SSE event with `id: N`. Nothing for a
// publish. One format each, shared by every subscriber of that transport.
stream::Encoder SnackbaseWsEncoder(ExportNames names);
stream::Encoder SnackbaseSseEncoder(ExportNames names);

// "create" | "update" | "delete" -> the op's bit; 0 for anything else.
uint8_t SnackbaseOpBit(std::string_view operation);

class SnackbaseSseStream final : public CompatSseStream {
 public:
  // `format`: the hub format of SnackbaseSseEncoder. REQUIRES: ctx and
  // transport outlive the stream.
  SnackbaseSseStream(stream::StreamContext* ctx, stream::StreamTransport* transport,
                     CompatSseRequest request, size_t format);
  ~SnackbaseSseStream() override;

  // Notices
  void OnReset(const stream::Subscription& s, std::string_view reason, wal::Position head) override;
  void OnRetained(const stream::Subscription& s, const projection::Record& r) override;
  void OnSynced(const stream::Subscription& s, wal::Position p) override;

 private:
  void SayConnected(wal::Position head) override;
  // Carries the time, so it is made for each beat.
  const stream::Frame& Heartbeat() const override;
  uint64_t heartbeat_ms() const override { return ctx_->options.snackbase_heartbeat_ms; }

  mutable stream::Frame heartbeat_;
};

struct SnackbaseWsRequest {
  uint64_t connection_id = 0;
  CompatAuth auth;
};

class SnackbaseWsStream final : public stream::WsStream {
 public:
  // `format`: the hub format of SnackbaseWsEncoder. REQUIRES: ctx,
  // transport, host and app outlive the stream.
  SnackbaseWsStream(stream::StreamContext* ctx, stream::StreamTransport* transport,
                    stream::WsHost* host, const CompatApp* app, SnackbaseWsRequest request,
                    size_t format);
  ~SnackbaseWsStream() override;

  const CompatAuth& auth() const { return auth_; }

  // Notices
  void OnReset(const stream::Subscription& s, std::string_view reason, wal::Position head) override;
  void OnRetained(const stream::Subscription& s, const projection::Record& r) override;
  void OnSynced(const stream::Subscription& s, wal::Position p) override;

 private:
  // Nothing is followed until the client subscribes.
  void Open() override;
  void HandleText(std::string_view text) override;
  // The heartbeat message.
  void OnTick(int64_t now_ms) override;
  uint64_t TickLimitMs() const override { return ctx_->options.snackbase_heartbeat_ms; }

  void SubscribeAction(const rapidjson::Value& msg);
  void UnsubscribeAction(const rapidjson::Value& msg);
  // The one place this stream makes a subscription (a read-policy filter
  // for auth() attaches here): collection `table`, operations `ops`.
  std::unique_ptr<stream::Subscription> NewSubscription(const schema::Table& table, uint8_t ops);
  void SendSnackbaseError(std::string_view code, std::string_view message, std::string_view action,
                          std::string_view collection = {});
  void SendStatus(std::string_view status, const std::string& collection);

  const CompatApp* app_;
  CompatAuth auth_;
  size_t format_;
  std::map<std::string, uint8_t> ops_;  // by collection (export name): what its subscription takes
  int64_t next_heartbeat_ms_ = 0;
  std::string text_;  // a message being built
};

}  // namespace eventide::dialects

#endif  // EVENTIDE_SRC_DIALECTS_SNACKBASE_H_
