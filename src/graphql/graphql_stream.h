// One GraphQL subscription over SSE (SPEC section 6; graphql-sse,
// distinct-connections mode): POST /{app}/graphql with
// Accept: text/event-stream. A cursor in the hub like any subscriber, whose
// wire format is its plan's selection (one hub format per distinct
// Plan::key, so subscribers selecting the same fields share the bytes).
//
//   event: next   id: N   data: {"data":{"message":{…selected…}}}   each event
//   :                                                               heartbeat
//
// graphql-sse clients know only `next` and `complete`, so everything else is
// said inside `next` events, in `extensions`, and without an id unless it
// carries a position (docs/GRAPHQL.md):
//   reset     {"data":null,"extensions":{"type":"reset","reason":…,"position":N}}
//   retained  {"data":{ROOT:{…}},"extensions":{"type":"retained"}}   (record plans)
//   synced    {"data":null,"extensions":{"type":"synced","position":P}}   id: P
// The stream never sends `complete` by itself: a subscription lasts until
// the client leaves, and at shutdown the connection just ends, so the client
// reconnects and resumes with Last-Event-ID.
#ifndef EVENTIDE_SRC_GRAPHQL_GRAPHQL_STREAM_H_
#define EVENTIDE_SRC_GRAPHQL_GRAPHQL_STREAM_H_

#include <memory>
#include <string>

#include "src/graphql/plan.h"
#include "src/stream/sse_stream.h"

namespace eventide::graphql {

// The hub encoder for a plan's selection: a "next" event, or nothing for an
// event the plan does not deliver (a publish). Shared by every plan with the
// same key: the record filter is the subscription's topic.
stream::Encoder NextEventEncoder(const Plan& plan);

class GraphqlStream final : public stream::SseFramedStream {
 public:
  // `format`: the hub format of NextEventEncoder(plan) (or of a plan with the
  // same key). REQUIRES: ctx and transport outlive the stream.
  GraphqlStream(stream::StreamContext* ctx, stream::StreamTransport* transport, std::string app_id,
                Plan plan, size_t format, stream::ResumeId resume);

  void Start(std::string_view early) override;

  // Notices
  void OnReset(const stream::Subscription& s, std::string_view reason, wal::Position head) override;
  void OnRetained(const stream::Subscription& s, const projection::Record& r) override;
  void OnSynced(const stream::Subscription& s, wal::Position p) override;

 private:
  // An SSE comment, which graphql-sse clients ignore. At shutdown nothing is
  // said (no `complete`): the client reconnects and resumes.
  const stream::Frame& Heartbeat() const override;
  // A `next` carrying a GraphQL error, then `complete`.
  void SayTokenExpired() override;
  void Next(std::string_view payload, std::string_view id = {});

  std::string app_id_;
  Plan plan_;
  size_t format_;
  stream::ResumeId resume_;
  std::string scratch_;
  std::string payload_;
};

}  // namespace eventide::graphql

#endif  // EVENTIDE_SRC_GRAPHQL_GRAPHQL_STREAM_H_
