// Starting streams: SSE on a table or record, the WebSocket handshake,
// GraphQL over SSE, and the stream hooks.
#include <algorithm>
#include <utility>

#include "src/common/time.h"
#include "src/graphql/graphql_stream.h"
#include "src/hooks/envelope.h"
#include "src/server/conn.h"
#include "src/server/server.h"
#include "src/stream/resume.h"
#include "src/stream/sse_stream.h"

namespace eventide::server {
namespace {

// Distinct GraphQL selections (each a hub format, kept for the server's
// life): beyond this many, new ones are refused rather than growing memory.
constexpr size_t kMaxGraphqlSelections = 4096;

// The head of an SSE response (plain SSE and GraphQL over SSE).
http::ResponseHead EventStreamHead(const config::App& app, const http::Request& req) {
  http::ResponseHead head;
  head.headers.push_back({"content-type", "text/event-stream"});
  head.headers.push_back({"cache-control", "no-cache"});
  head.headers.push_back({"x-accel-buffering", "no"});  // proxies: do not buffer
  rest::Service::AddCors(app, req, &head.headers);
  return head;
}

}  // namespace

Server::StreamSlot* Server::SlotFor(http::Exchange* s, uint64_t slot) {
  auto it = sessions_.find(s->id());
  return it == sessions_.end() ? nullptr : it->second->SlotFor(slot);
}

bool Server::MaybeStartSse(http::Exchange* s, uint64_t slot, const http::Request& req,
                           const config::App& app, const schema::Table& table,
                           const std::vector<std::string>& seg, const AuthResult& auth) {
  if (req.method != "GET") return false;
  std::vector<std::pair<std::string, std::string>> params;
  if (!http::ParseQuery(req.query, &params)) return false;  // REST answers the bad query
  bool sse = false, retained = false;
  const std::string* last_event_id = req.FindHeader("last-event-id");
  std::string query_last_id;
  bool has_query_last_id = false;
  for (auto& [k, v] : params) {
    if (k == "stream" && v == "sse") sse = true;
    if (k == "retained") retained = stream::QueryFlag(v);
    if (k == "lastEventId") {
      query_last_id = v;
      has_query_last_id = true;
    }
  }
  if (const std::string* accept = req.FindHeader("accept")) {
    if (accept->find("text/event-stream") != std::string::npos) sse = true;
  }
  if (!sse) return false;
  if (!table.exported || !table.sse || !app.sse) {
    RespondError(s, slot, 404, "sse_disabled",
                 "server-sent events are not enabled for table " + table.export_name);
    return true;
  }
  if (shutting_down_) {
    RespondError(s, slot, 503, "shutting_down", "the server is shutting down");
    return true;
  }
  stream::SseRequest sr;
  sr.topic = stream::Topic{app.app_id, table.name, seg.size() == 3 ? seg[2] : ""};
  sr.retained = retained;
  // The header wins: an EventSource sends it on reconnect, while the URL
  // still carries the id the page first connected with.
  if (last_event_id != nullptr) {
    sr.resume = stream::ParseResumeId(*last_event_id);
  } else if (has_query_last_id) {
    sr.resume = stream::ParseResumeId(query_last_id);
  }
  StreamSlot* conn = SlotFor(s, slot);
  if (conn == nullptr) return true;
  conn->set_identity({&app, "sse", auth.claims.subject});
  auto sse_stream = std::make_unique<stream::SseStream>(&stream_ctx_, conn, sr);
  sse_stream->set_auth_deadline(AuthDeadline(auth));
  if (table.read_rule) sse_stream->set_read_rule(table.read_rule->Bind(PrincipalOf(auth)));
  if (!conn->SetPendingStream(std::move(sse_stream))) {
    RespondError(s, slot, 400, "stream_in_progress", "this connection already carries a stream");
    return true;
  }
  s->StartStream(slot, EventStreamHead(app, req));
  return true;
}

void Server::StartWebSocket(http::Exchange* s, uint64_t slot, const http::Request& req,
                            const std::vector<std::string>& seg) {
  if (!CheckUpgrade(s, slot, req)) return;
  const config::App* app = seg.empty() ? nullptr : FindApp(seg[0]);
  if (app == nullptr) {
    return RefuseUpgrade(s, slot, 404, "unknown_app",
                         "no app '" + (seg.empty() ? "" : seg[0]) + "'");
  }
  const schema::Table* table =
      seg.size() == 2 || seg.size() == 3 ? app->schema.FindByExportName(seg[1]) : nullptr;
  if (table == nullptr) {
    return RefuseUpgrade(s, slot, 404, "unknown_table",
                         "WebSocket connects to /{app}/{table} or /{app}/{table}/{id}");
  }
  if (!table->exported || !table->ws || !app->ws) {
    return RefuseUpgrade(s, slot, 404, "ws_disabled",
                         "WebSocket is not enabled for table " + table->export_name);
  }
  AuthResult auth = Authenticate(*app, req);
  if (!auth.ok) return RespondAuthError(s, slot, *app, req, auth, /*close=*/true);
  if (!CheckHandshake(s, slot, req)) return;
  std::vector<std::pair<std::string, std::string>> params;
  if (!http::ParseQuery(req.query, &params)) {
    return RefuseUpgrade(s, slot, 400, "bad_query", "the query string is not valid");
  }
  stream::WsRequest wr;
  wr.connection_id = s->id();
  std::string topic_name = table->export_name;
  if (seg.size() == 3) topic_name += "/" + seg[2];
  std::string code, message;
  if (!ResolveTopic(app->app_id, topic_name, &wr.own, &code, &message)) {
    return RefuseUpgrade(s, slot, 404, code, message);
  }
  for (auto& [k, v] : params) {
    if (k == "retained") wr.retained = stream::QueryFlag(v);
    if (k == "lastEventId") wr.resume = stream::ParseResumeId(v);
  }
  StreamSlot* conn = SlotFor(s, slot);
  if (conn == nullptr) return;
  wr.who = PrincipalOf(auth);
  conn->set_identity({app, "ws", auth.claims.subject});
  auto ws = std::make_unique<stream::WsStream>(&stream_ctx_, conn, this, wr);
  ws->set_auth_deadline(AuthDeadline(auth));
  if (!conn->SetPendingStream(std::move(ws))) {
    return RefuseUpgrade(s, slot, 400, "stream_in_progress",
                         "this connection already carries a stream");
  }
  AcceptWebSocket(s, slot, req, auth.ws_protocol);
}

void Server::RefuseUpgrade(http::Exchange* s, uint64_t slot, int status, std::string_view code,
                           std::string_view message, bool version_header) {
  ++metrics_.rejected_by_code[std::string(code)];
  http::ResponseHead head;
  head.status = status;
  head.close = true;
  head.headers.push_back({"content-type", "application/json"});
  if (version_header) head.headers.push_back({"sec-websocket-version", "13"});
  s->Respond(slot, head, http::ErrorBody(code, message));
}

bool Server::CheckUpgrade(http::Exchange* s, uint64_t slot, const http::Request& req) {
  const std::string* upgrade = req.FindHeader("upgrade");
  std::string proto = upgrade ? *upgrade : "";
  std::transform(proto.begin(), proto.end(), proto.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (proto.find("websocket") == std::string::npos) {
    RefuseUpgrade(s, slot, 501, "unsupported_upgrade", "only WebSocket upgrades are served");
    return false;
  }
  if (req.method != "GET") {
    RefuseUpgrade(s, slot, 400, "bad_handshake", "a WebSocket handshake is a GET request");
    return false;
  }
  return true;
}

bool Server::CheckHandshake(http::Exchange* s, uint64_t slot, const http::Request& req) {
  const std::string* version = req.FindHeader("sec-websocket-version");
  if (version == nullptr || *version != "13") {
    RefuseUpgrade(s, slot, 400, "bad_websocket_version",
                  version == nullptr ? "Sec-WebSocket-Version is missing; this server speaks 13"
                                     : "Sec-WebSocket-Version " + *version +
                                           " is not supported; this server speaks 13",
                  true);
    return false;
  }
  const std::string* key = req.FindHeader("sec-websocket-key");
  if (key == nullptr || !stream::ValidWebSocketKey(*key)) {
    RefuseUpgrade(s, slot, 400, "bad_websocket_key",
                  key == nullptr ? "Sec-WebSocket-Key is missing"
                                 : "Sec-WebSocket-Key must be 16 bytes in base64");
    return false;
  }
  if (shutting_down_) {
    RefuseUpgrade(s, slot, 503, "shutting_down", "the server is shutting down");
    return false;
  }
  return true;
}

void Server::AcceptWebSocket(http::Exchange* s, uint64_t slot, const http::Request& req,
                             const std::string& ws_protocol) {
  http::ResponseHead head;
  head.status = 101;
  head.headers.push_back({"upgrade", "websocket"});
  head.headers.push_back({"connection", "Upgrade"});
  head.headers.push_back(
      {"sec-websocket-accept", stream::WebSocketAccept(*req.FindHeader("sec-websocket-key"))});
  if (!ws_protocol.empty()) head.headers.push_back({"sec-websocket-protocol", ws_protocol});
  s->StartStream(slot, head);
}

void Server::StartGraphql(http::Exchange* s, uint64_t slot, const http::Request& req,
                          const config::App& app, const AuthResult& auth) {
  if (req.method != "POST") {
    return RespondMethodNotAllowed(s, slot, "POST",
                                   "GraphQL subscriptions are POSTed with "
                                   "Accept: text/event-stream");
  }
  const std::string* accept = req.FindHeader("accept");
  if (accept == nullptr || accept->find("text/event-stream") == std::string::npos) {
    return RespondError(s, slot, 406, "not_acceptable",
                        "this endpoint streams subscriptions over SSE: send "
                        "Accept: text/event-stream");
  }
  if (!app.sse) {
    return RespondError(s, slot, 404, "sse_disabled",
                        "server-sent events are not enabled for app " + app.app_id);
  }
  if (shutting_down_)
    return RespondError(s, slot, 503, "shutting_down", "the server is shutting down");
  graphql::Plan plan;
  graphql::Error error;
  if (!graphql::CompileRequest(req.body, app.schema, graphql::CompileOptions(),
                               graphql::ParseLimits(), &plan, &error)) {
    ++metrics_.rejected_by_code["graphql_error"];
    http::ResponseHead head;
    head.status = 400;
    head.headers.push_back({"content-type", "application/json"});
    rest::Service::AddCors(app, req, &head.headers);
    return s->Respond(slot, head, graphql::ErrorsJson({error}));
  }
  auto format = graphql_formats_.find(plan.key);
  if (format == graphql_formats_.end()) {
    if (graphql_formats_.size() >= kMaxGraphqlSelections) {
      return RespondError(s, slot, 503, "too_many_selections",
                          "the server follows " + std::to_string(kMaxGraphqlSelections) +
                              " distinct GraphQL selections already");
    }
    format =
        graphql_formats_.emplace(plan.key, hub_->AddFormat(graphql::NextEventEncoder(plan))).first;
  }
  stream::ResumeId resume;
  if (const std::string* last = req.FindHeader("last-event-id")) {
    resume = stream::ParseResumeId(*last);
  } else {
    std::vector<std::pair<std::string, std::string>> params;
    if (http::ParseQuery(req.query, &params)) {
      for (auto& [k, v] : params) {
        if (k == "lastEventId") resume = stream::ParseResumeId(v);
      }
    }
  }
  StreamSlot* conn = SlotFor(s, slot);
  if (conn == nullptr) return;
  conn->set_identity({&app, "graphql", auth.claims.subject});
  const schema::Table* table = app.schema.FindByName(plan.table);
  auto gql = std::make_unique<graphql::GraphqlStream>(&stream_ctx_, conn, app.app_id,
                                                      std::move(plan), format->second, resume);
  gql->set_auth_deadline(AuthDeadline(auth));
  if (table != nullptr && table->read_rule) {
    gql->set_read_rule(table->read_rule->Bind(PrincipalOf(auth)));
  }
  if (!conn->SetPendingStream(std::move(gql))) {
    return RespondError(s, slot, 400, "stream_in_progress",
                        "this connection already carries a stream");
  }
  s->StartStream(slot, EventStreamHead(app, req));
}

void Server::EmitHook(const config::App& app, std::string_view hook, std::string data_json) {
  auto it = app.hooks.find(std::string(hook));
  if (hooks_ == nullptr || it == app.hooks.end()) return;
  // Never blocks: a full queue drops the delivery and counts it.
  hooks_->Enqueue(hook, it->second, hooks::Envelope(hook, app.app_id, WallMillis(), data_json));
}

void Server::EmitStreamHook(std::string_view hook, stream::StreamTransport* t,
                            std::string_view topic, std::string_view message_json) {
  if (hooks_ == nullptr) return;
  // Every stream's transport is one of our connections.
  auto* conn = static_cast<StreamSlot*>(t);
  const StreamSlot::Identity& who = conn->identity();
  if (who.app == nullptr || who.app->hooks.count(std::string(hook)) == 0) return;
  const hooks::Subject subject =
      who.subject.empty() ? std::nullopt : std::optional<std::string_view>(who.subject);
  std::string data;
  if (hook == hooks::kOnRealtimeConnect || hook == hooks::kOnRealtimeDisconnect) {
    data = hooks::ConnectionData(conn->id(), who.dialect, subject, conn->peer());
  } else if (hook == hooks::kOnRealtimeMessage) {
    data = hooks::MessageData(conn->id(),
                              topic.empty() ? std::nullopt : std::optional<std::string_view>(topic),
                              subject, message_json);
  } else {
    data = hooks::SubscriptionData(conn->id(), topic, subject);
  }
  EmitHook(*who.app, hook, std::move(data));
}

}  // namespace eventide::server
