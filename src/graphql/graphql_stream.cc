#include "src/graphql/graphql_stream.h"

#include <utility>

#include "src/graphql/encode.h"
#include "src/stream/sse.h"

namespace eventide::graphql {
namespace {

// A heartbeat graphql-sse clients ignore: an SSE comment.
const stream::Frame& HeartbeatFrame() {
  static const stream::Frame frame = std::make_shared<const std::string>(":\n\n");
  return frame;
}

}  // namespace

stream::Encoder NextEventEncoder(const Plan& plan) {
  // The subscription's topic already filters by record: the encoder only
  // needs the selection (and skips what no plan delivers, publishes).
  Plan selection = plan;
  selection.record_id.clear();
  return [selection = std::move(selection)](wal::Position p, const event::Event& e) {
    std::string out;
    AppendNextEvent(selection, p, e, &out);
    return out;
  };
}

GraphqlStream::GraphqlStream(stream::StreamContext* ctx, stream::StreamTransport* transport,
                             std::string app_id, Plan plan, size_t format, stream::ResumeId resume)
    : SseFramedStream(ctx, transport),
      app_id_(std::move(app_id)),
      plan_(std::move(plan)),
      format_(format),
      resume_(resume) {}

const stream::Frame& GraphqlStream::Heartbeat() const { return HeartbeatFrame(); }

void GraphqlStream::SayTokenExpired() {
  Next(R"({"errors":[{"message":"the token expired; reconnect with a new one to resume",)"
       R"("extensions":{"code":"token_expired"}}]})");
  scratch_.clear();
  AppendCompleteEvent(&scratch_);
  t_->Send(scratch_);
}

void GraphqlStream::Start(std::string_view) {
  StartTimers();
  std::string name = plan_.root_key;
  if (!plan_.record_id.empty()) name += "/" + plan_.record_id;
  sub_ = std::make_unique<stream::Subscription>(
      ctx_, t_, this, stream::Topic{app_id_, plan_.table, plan_.record_id}, std::move(name),
      format_);
  sub_->set_rule(read_rule_);
  // Like SSE: a record subscription starts with the record's state; a table
  // one at the head. Last-Event-ID resumes either.
  sub_->Start(resume_, !plan_.record_id.empty());
}

void GraphqlStream::Next(std::string_view payload, std::string_view id) {
  scratch_.clear();
  stream::AppendSseEvent("next", id, payload, &scratch_);
  t_->Send(scratch_);
}

void GraphqlStream::OnReset(const stream::Subscription&, std::string_view reason,
                            wal::Position head) {
  payload_.assign(R"({"data":null,"extensions":{"type":"reset","reason":")");
  payload_.append(reason).append(R"(","position":)").append(std::to_string(head.value()));
  payload_.append("}}");
  Next(payload_);
}

void GraphqlStream::OnRetained(const stream::Subscription&, const projection::Record& r) {
  event::Event e;
  e.op = event::Op::kUpdate;
  e.app = app_id_;
  e.table = plan_.table;
  e.id = r.id();
  e.data = r.json();
  rapidjson::Document record;
  record.Parse(r.json().data(), r.json().size());
  payload_.clear();
  AppendNextPayload(plan_, e, record.HasParseError() ? nullptr : &record, &payload_);
  // {"data":{…}} -> {"data":{…},"extensions":{"type":"retained"}}
  payload_.pop_back();
  payload_.append(R"(,"extensions":{"type":"retained"}})");
  Next(payload_);
}

void GraphqlStream::OnSynced(const stream::Subscription&, wal::Position p) {
  const std::string pos = std::to_string(p.value());
  payload_.assign(R"({"data":null,"extensions":{"type":"synced","position":)");
  payload_.append(pos).append("}}");
  Next(payload_, pos);
}

}  // namespace eventide::graphql
