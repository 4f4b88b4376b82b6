// One SSE subscriber (SPEC section 6, "SSE"): GET /{app}/{table}[/{id}] with
// ?stream=sse or Accept: text/event-stream.
//
//   retry: MS                                  on connect
//   event: message  data: {"type":"connected","status":"ok","position":HEAD}
//   [event: message data: {"type":"reset","reason":…,"position":HEAD}]
//   [event: message data: {"type":"retained","id":…,"data":{record}}]…
//   [event: message id: P  data: {"type":"synced","position":P}]
//   event: update|delete|publish  id: N  data: …     every matching entry
//   event: ping     data: {"type":"ping"}          every sse_ping_ms, no id
//
// A resumed subscriber (a valid Last-Event-ID or lastEventId) gets every
// matching entry after its position from the log, then live ones; a fresh one
// gets the retained snapshot when it asked for it (record topics always),
// then `synced`, then everything after the snapshot's position.
#ifndef EVENTIDE_SRC_STREAM_SSE_STREAM_H_
#define EVENTIDE_SRC_STREAM_SSE_STREAM_H_

#include <cstdint>
#include <memory>
#include <string>

#include "src/stream/stream.h"
#include "src/stream/subscription.h"

namespace eventide::stream {

struct SseRequest {
  Topic topic;
  bool retained = false;  // ?retained=true (a record topic replays regardless)
  ResumeId resume;
};

// What every stream in SSE framing does (plain SSE here, GraphQL over SSE in
// src/graphql): one subscription, a heartbeat frame every sse_ping_ms, the
// stall check, catching up as the socket drains, a goodbye at shutdown. The
// dialect starts the subscription and says the notices.
class SseFramedStream : public Stream, public Notices {
 public:
  // The table's read rule bound to the reader (SPEC section 8); set before
  // Start. Events and retained records it does not admit are not sent.
  void set_read_rule(policy::Bound rule) { read_rule_ = std::move(rule); }
  // REQUIRES: ctx and transport outlive the stream.
  SseFramedStream(StreamContext* ctx, StreamTransport* transport);
  ~SseFramedStream() override;

  // Stream (Start is the dialect's; it calls StartTimers first)
  void OnData(std::string_view data) override;
  void OnEof() override;
  void OnTimer() override;
  void OnWritten() override;
  void OnShutdown() override;
  void OnClose() override;

 protected:
  // Arms the heartbeat and the stall check.
  void StartTimers();
  // The heartbeat: the same bytes for every stream of the dialect.
  virtual const Frame& Heartbeat() const = 0;
  // How often it is sent.
  virtual uint64_t heartbeat_ms() const { return ctx_->options.sse_ping_ms; }
  // Sent at shutdown before the connection closes.
  virtual void SayGoodbye() {}
  // Sent when the token expired, before the stream ends.
  virtual void SayTokenExpired() = 0;

  StreamContext* ctx_;
  StreamTransport* t_;
  std::unique_ptr<Subscription> sub_;
  policy::Bound read_rule_;  // given to sub_ when the dialect makes it

 private:
  void ArmTimer();

  bool closed_ = false;
  int64_t next_ping_ms_ = 0;
  StallWatch stall_;
};

class SseStream final : public SseFramedStream {
 public:
  SseStream(StreamContext* ctx, StreamTransport* transport, SseRequest request);

  void Start(std::string_view early) override;

  // Notices
  void OnReset(const Subscription& s, std::string_view reason, wal::Position head) override;
  void OnRetained(const Subscription& s, const projection::Record& r) override;
  void OnSynced(const Subscription& s, wal::Position p) override;

 private:
  const Frame& Heartbeat() const override;
  // A reconnect hint: `retry:`.
  void SayGoodbye() override;
  // event: error  data: {"type":"error","code":"token_expired",…} (no id)
  void SayTokenExpired() override;
  void Notice(std::string_view json, std::string_view id = {});

  SseRequest req_;
  std::string scratch_;
  std::string data_;
};

}  // namespace eventide::stream

#endif  // EVENTIDE_SRC_STREAM_SSE_STREAM_H_
