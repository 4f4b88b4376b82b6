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

class SseStream final : public Stream, public Notices {
 public:
  // REQUIRES: ctx and transport outlive the stream.
  SseStream(StreamContext* ctx, StreamTransport* transport, SseRequest request);
  ~SseStream() override;

  // Stream
  void Start(std::string_view early) override;
  void OnData(std::string_view data) override;
  void OnEof() override;
  void OnTimer() override;
  void OnWritten() override;
  void OnShutdown() override;
  void OnClose() override;

  // Notices
  void OnReset(const Subscription& s, std::string_view reason, wal::Position head) override;
  void OnRetained(const Subscription& s, const projection::Record& r) override;
  void OnSynced(const Subscription& s, wal::Position p) override;

 private:
  void Notice(std::string_view json, std::string_view id = {});
  void ArmTimer();

  StreamContext* ctx_;
  StreamTransport* t_;
  SseRequest req_;
  std::unique_ptr<Subscription> sub_;
  bool closed_ = false;
  int64_t next_ping_ms_ = 0;
  StallWatch stall_;
  std::string scratch_;
  std::string data_;
};

}  // namespace eventide::stream

#endif  // EVENTIDE_SRC_STREAM_SSE_STREAM_H_
