// One WebSocket connection (SPEC section 6, "WebSocket"): RFC 6455 framing by
// wslay, subscriptions as cursors in the hub, client actions answered in-band.
//
//   client frames ──wslay (reassembly, UTF-8, size, control frames)──▶ OnMessage
//     subscribe / unsubscribe      ─▶ Subscription per topic
//     put / delete / publish / {…} ─▶ WsHost (the REST write path) ─▶ ack | error
//     ping                         ─▶ {"type":"pong"}
//   hub events (shared frames) ─────────────────────────────────────▶ client
//
// Event frames are whole unmasked frames shared by every subscriber and sent
// as they are; wslay only sends control frames (Pong replies, Close). Its
// send callback takes every byte at once, so its frames never interleave
// with ours mid-frame. wslay's context (8 KiB of buffers) is made when the
// client's bytes arrive and released between messages, so an idle
// connection costs no more than an SSE one plus its subscriptions.
//
// Close codes: 1003 for a binary message, 1007 for text (or a Close reason)
// that is not UTF-8,
// 1009 for a message over ws_max_message_bytes, 1002 for a protocol error,
// 1001 when the client answers no Ping for ws_pong_timeout_ms or the server
// shuts down.
#ifndef EVENTIDE_SRC_STREAM_WS_STREAM_H_
#define EVENTIDE_SRC_STREAM_WS_STREAM_H_

#include <rapidjson/document.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "src/http/session.h"
#include "src/stream/stream.h"
#include "src/stream/subscription.h"

struct wslay_event_context;

namespace eventide::stream {

// A topic as a WebSocket client names it, resolved against the schema.
struct ResolvedTopic {
  Topic topic;
  std::string name;         // canonical: "Message" or "Message/msg-1" (export name)
  std::string primary_key;  // the table's key field
  // The table's read rule (null: none), bound to the connection's principal
  // for each subscription.
  std::shared_ptr<const policy::Policy> read_rule;
};

// A token presented in-band ({"action":"auth"}), as the server judged it.
struct TokenCheck {
  bool ok = false;
  std::string code, message;     // when !ok
  std::string subject;           // the token's "sub"
  std::string claims_json;       // its claims object
  int64_t exp_s = 0;             // its "exp" (0: none)
  int64_t deadline_wall_ms = 0;  // when a stream holding it must end (0: never)
};

// What a WebSocket stream needs from the server: topic names, writes, tokens.
class WsHost {
 public:
  virtual ~WsHost() = default;
  // Resolves "Table" or "Table/id" in `app`; false with an error code and
  // message when the table is unknown or has no WebSocket.
  virtual bool ResolveTopic(const std::string& app, std::string_view name, ResolvedTopic* out,
                            std::string* code, std::string* message) = 0;
  // A write through the REST write path: "PUT" (create or replace `id`),
  // "POST" (create, id generated) or "DELETE". Answered through
  // responder->Respond(slot, …) like an HTTP request.
  virtual void Write(http::Responder* responder, uint64_t slot, std::string_view method,
                     const Topic& table, const std::string& id, std::string body,
                     const policy::Principal& who) = 0;
  // A publish to `topic` (SPEC section 6): logged, changes no record.
  virtual void Publish(http::Responder* responder, uint64_t slot, const Topic& topic,
                       std::string data_json, const policy::Principal& who) = 0;
  // Checks a token for `app` as the door does.
  virtual bool VerifyToken(const std::string& app, std::string_view token, TokenCheck* out) = 0;
};

struct WsRequest {
  uint64_t connection_id = 0;
  policy::Principal who;  // the token at the door (anonymous: none)
  ResolvedTopic own;      // the URL's topic: followed from the start
  bool retained = false;  // ?retained=true
  ResumeId resume;        // ?lastEventId=
};

// Follows a client's frame headers (RFC 6455 section 5.2) just enough to know
// when the bytes so far end on a message boundary: no frame half-received,
// no fragmented message open.
class FrameBoundary {
 public:
  void Feed(std::string_view data);
  bool idle() const { return header_len_ == 0 && payload_left_ == 0 && !in_message_; }

 private:
  uint8_t header_[14] = {};
  size_t header_len_ = 0;
  uint64_t payload_left_ = 0;
  bool in_message_ = false;
};

// RFC 6455 section 4.2.1: a Sec-WebSocket-Key is 16 bytes in base64.
bool ValidWebSocketKey(std::string_view key);
// RFC 6455 section 4.2.2: base64(SHA-1(key + GUID)).
std::string WebSocketAccept(std::string_view key);

// The native dialect's connection; a dialect with other messages (SnackBase,
// src/dialects) derives from it and keeps its framing, Pings, close codes and
// back-pressure: it overrides Open and HandleText (and OnTick for a duty of
// its own), and keeps its subscriptions in subs_.
class WsStream : public Stream, public Notices, public http::Responder {
 public:
  // REQUIRES: ctx, transport and host outlive the stream.
  WsStream(StreamContext* ctx, StreamTransport* transport, WsHost* host, WsRequest request);
  ~WsStream() override;

  // Stream
  void Start(std::string_view early) override;
  void OnData(std::string_view data) override;
  void OnEof() override;
  void OnTimer() override;
  void OnWritten() override;
  void OnShutdown() override;
  void OnClose() override;
  http::Responder* responder() override { return this; }

  // Notices
  void OnReset(const Subscription& s, std::string_view reason, wal::Position head) override;
  void OnRetained(const Subscription& s, const projection::Record& r) override;
  void OnSynced(const Subscription& s, wal::Position p) override;

  // http::Responder: the answer to a write this stream asked for.
  uint64_t id() const override { return req_.connection_id; }
  void Respond(uint64_t slot, const http::ResponseHead& head, std::string_view body) override;

 protected:
  // What the connection follows from the start (after the 101): the URL's
  // topic.
  virtual void Open();
  // A dialect's periodic duty: OnTick runs on each timer tick of an open
  // connection, which comes at least every TickLimitMs.
  virtual void OnTick(int64_t now_ms) { (void)now_ms; }
  virtual uint64_t TickLimitMs() const { return UINT64_MAX; }

  friend struct WsCallbacks;
  // wslay's callbacks: input from OnData, output to the transport, and each
  // complete message.
  size_t RecvInto(uint8_t* buf, size_t len);
  void SendRaw(std::string_view bytes);
  void OnMessage(uint8_t opcode, std::string_view payload);

  // A write waiting for its answer.
  struct PendingWrite {
    std::string action;
    std::string ref;          // the client's "ref", as JSON ("" = none)
    std::string id;           // the record's id when known before the answer
    std::string primary_key;  // else: read it from the answered record
  };
  virtual void HandleText(std::string_view text);
  void SubscribeAction(const rapidjson::Value& msg, const std::string& topic_name,
                       const std::string& ref);
  // {"action":"auth","token":…}: a new token extends the connection.
  void AuthAction(const rapidjson::Value& msg, const std::string& ref);
  // publish, put, delete: through the host, answered in Respond.
  void WriteAction(const std::string& action, const rapidjson::Value& msg,
                   const std::string& topic_name, const std::string& ref);
  void Subscribe(const std::string& topic_name, const ResumeId& resume, bool retained,
                 const std::string& ref);
  void Unsubscribe(const std::string& topic_name, const std::string& ref);
  // Sends one text message (a reply or a notice, for this connection only).
  void SendText(std::string_view json);
  void SendError(std::string_view code, std::string_view message, std::string_view action,
                 const std::string& ref, std::string_view field = {});
  // Starts the closing handshake with `code`; the connection ends when the
  // client answers, or after a grace period.
  void CloseWith(uint16_t code, std::string_view reason);
  // Fails the connection (RFC 6455 section 7.1.7) where wslay cannot or does
  // not (a frame it could not parse, 1002; a Close reason that is not UTF-8,
  // 1007): sends Close `code` with `reason` itself, bypassing wslay's queue,
  // then closes once it is written. No closing handshake.
  void FailConnection(uint16_t code, std::string_view reason);
  // Writes what wslay queued and ends the connection when wslay is done.
  void Pump();
  // wslay's context exists only while the client is mid-message or a
  // closing handshake runs; false when it cannot be made (the connection is
  // aborted).
  bool EnsureWslay();
  void MaybeReleaseWslay();
  void ArmTimer();
  // Pauses or resumes reading the client by its writes in flight and its
  // unread output.
  void UpdateReading();

  StreamContext* ctx_;
  StreamTransport* t_;
  WsHost* host_;
  WsRequest req_;
  wslay_event_context* ws_ = nullptr;  // see EnsureWslay
  FrameBoundary boundary_;
  std::map<std::string, std::unique_ptr<Subscription>> subs_;  // by canonical name
  std::unordered_map<uint64_t, PendingWrite> pending_;         // by slot
  uint64_t next_slot_ = 1;
  bool reading_paused_ = false;  // too many writes in flight, or too much unread output
  bool closing_ = false;         // a Close was queued by us
  bool closed_ = false;          // the connection is ending; nothing more is sent
  bool protocol_close_counted_ = false;
  int64_t close_deadline_ms_ = 0;
  int64_t next_ping_ms_ = 0;
  int64_t awaiting_pong_since_ms_ = 0;  // 0: no Ping unanswered
  StallWatch stall_;
  std::string_view input_;  // OnData's bytes, read by wslay
  std::string msg_;         // a message being built
  std::string frame_;       // its frame
};

}  // namespace eventide::stream

#endif  // EVENTIDE_SRC_STREAM_WS_STREAM_H_
