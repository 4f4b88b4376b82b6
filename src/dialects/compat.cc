#include "src/dialects/compat.h"

#include <utility>

#include "src/common/json_text.h"
#include "src/stream/sse.h"

namespace eventide::dialects {

CompatApp::CompatApp(const config::App* app) : app_(app) {
  for (const schema::Table& t : app_->schema.tables) export_names_[t.name] = t.export_name;
}

const schema::Table* CompatApp::Find(std::string_view url_name) const {
  return app_->schema.FindByExportName(url_name);
}

stream::Topic TablesTopic(const std::string& app, const std::vector<CompatTable>& tables) {
  stream::Topic topic(app, tables.front().name);
  for (size_t i = 1; i < tables.size(); ++i) topic.more_tables.push_back(tables[i].name);
  topic.ops = kRecordOps;
  return topic;
}

void AppendRecord(const event::Event& e, std::string* out) {
  if (!e.data.empty()) {
    out->append(e.data);
  } else if (e.op == event::Op::kDelete) {
    out->append("{\"id\":");
    AppendJsonString(e.id, out);
    out->push_back('}');
  } else {
    out->append("null");
  }
}

CompatSseStream::CompatSseStream(stream::StreamContext* ctx, stream::StreamTransport* transport,
                                 CompatSseRequest request, size_t format)
    : SseFramedStream(ctx, transport), req_(std::move(request)), format_(format) {}

std::unique_ptr<stream::Subscription> CompatSseStream::NewSubscription() {
  std::string name;
  for (const CompatTable& t : req_.tables) {
    if (!name.empty()) name.push_back(',');
    name.append(t.export_name);
  }
  auto sub = std::make_unique<stream::Subscription>(
      ctx_, t_, this, TablesTopic(req_.app, req_.tables), std::move(name), format_);
  // One read rule per table, in the topic's table order (SPEC section 8).
  stream::Rules rules;
  bool any = false;
  const policy::Principal who = req_.auth.principal();
  for (const CompatTable& t : req_.tables) {
    rules.push_back(t.read_rule ? t.read_rule->Bind(who) : policy::Bound());
    any = any || t.read_rule != nullptr;
  }
  if (any) sub->set_rules(std::move(rules));
  return sub;
}

void CompatSseStream::Start(std::string_view) {
  StartTimers();
  scratch_.clear();
  stream::AppendSseRetry(ctx_->options.sse_retry_ms, &scratch_);
  t_->Send(scratch_);
  SayConnected(ctx_->hub->head());
  sub_ = NewSubscription();
  // A fresh stream replays the tables' records only when asked; a reset
  // always does (the client's state is unknown).
  sub_->Start(req_.resume, req_.retained);
}

void CompatSseStream::SendMessage(std::string_view data, std::string_view id) {
  scratch_.clear();
  stream::AppendSseEvent("", id, data, &scratch_);
  t_->Send(scratch_);
}

const std::string& CompatSseStream::ExportName(const std::string& table) const {
  for (const CompatTable& t : req_.tables) {
    if (t.name == table) return t.export_name;
  }
  return table;  // cannot happen: the subscription follows these tables only
}

void CompatSseStream::SayGoodbye() {
  // An EventSource reconnects after `retry` and resumes from its
  // Last-Event-ID on the restarted server.
  scratch_.clear();
  stream::AppendSseRetry(ctx_->options.sse_retry_ms, &scratch_);
  t_->Send(scratch_);
}

void CompatSseStream::SayTokenExpired() {
  // The native stream's last event: an EventSource dispatches it to
  // onerror, and Last-Event-ID stays at the last event received.
  scratch_.clear();
  stream::AppendSseEvent("error", "",
                         R"({"type":"error","code":"token_expired","message":"the token expired; )"
                         R"(reconnect with a new one to resume"})",
                         &scratch_);
  t_->Send(scratch_);
}

}  // namespace eventide::dialects
