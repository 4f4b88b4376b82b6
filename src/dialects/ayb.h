// The "AYB" dialect (SPEC section 7, docs/DIALECTS.md): one SSE stream over
// one cursor that follows the tables of the compat app named in the URL.
//
//   GET /api/realtime?tables=posts,comments[&token=JWT][&retained=true][&lastEventId=N]
//
//   retry: MS
//   data: {"action":"connected","type":"connected","status":"ok","position":HEAD}
//   [data: {"action":"reset","type":"reset","reason":…,"position":HEAD}]
//   [data: {"action":"create","table":T,"record":{…},"retained":true}]…
//   [id: P  data: {"action":"synced","type":"synced","position":P}]
//   id: N   data: {"action":"create|update|delete","table":T,"record":{…}}
//   : ping                                            every sse_ping_ms
//
// Every event is unnamed (an EventSource's `message`); only events and
// `synced` carry an id, so Last-Event-ID is always a position. Publishes are
// not delivered (AYB has no such event).
#ifndef EVENTIDE_SRC_DIALECTS_AYB_H_
#define EVENTIDE_SRC_DIALECTS_AYB_H_

#include <string>

#include "src/dialects/compat.h"
#include "src/stream/hub.h"

namespace eventide::dialects {

// The hub encoder of AYB events: `id: N` and the data above, or nothing for
// a publish. One format for every AYB subscriber: the bytes of an event do
// not depend on who receives it.
stream::Encoder AybEncoder(ExportNames names);

class AybStream final : public CompatSseStream {
 public:
  // `format`: the hub format of AybEncoder. REQUIRES: ctx and transport
  // outlive the stream.
  AybStream(stream::StreamContext* ctx, stream::StreamTransport* transport,
            CompatSseRequest request, size_t format);
  ~AybStream() override;

  // Notices
  void OnReset(const stream::Subscription& s, std::string_view reason, wal::Position head) override;
  void OnRetained(const stream::Subscription& s, const projection::Record& r) override;
  void OnSynced(const stream::Subscription& s, wal::Position p) override;

 private:
  void SayConnected(wal::Position head) override;
  // An SSE comment: EventSource ignores it, proxies see traffic.
  const stream::Frame& Heartbeat() const override;
};

}  // namespace eventide::dialects

#endif  // EVENTIDE_SRC_DIALECTS_AYB_H_
