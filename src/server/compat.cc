// The routes of the compatibility dialects (SPEC section 7; the wire contract
// is docs/DIALECTS.md): everything under /api/. The streams themselves are in
// src/dialects; this file resolves a request against the compat app, checks
// its token as the native routes do, and hands the connection over.
#include <algorithm>
#include <cctype>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "src/dialects/ayb.h"
#include "src/dialects/snackbase.h"
#include "src/server/conn.h"
#include "src/server/server.h"

namespace eventide::server {
namespace {

// "posts, comments,,x" -> {"posts", "comments", "x"} appended to *out.
void SplitNames(std::string_view list, std::vector<std::string>* out) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view name = list.substr(0, comma);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (!name.empty()) out->emplace_back(name);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

Status Server::SetUpCompat() {
  if (options_.compat_app.empty()) return Status::OK();
  const config::App* app = FindApp(options_.compat_app);
  if (app == nullptr) {
    return Status::InvalidArgument("compat_app: there is no app '" + options_.compat_app + "' in " +
                                   options_.apps_dir);
  }
  compat_ = std::make_unique<dialects::CompatApp>(app);
  // One hub format per dialect wire: an event is encoded once for all AYB
  // subscribers, once for SnackBase's SSE ones and once for its WebSocket
  // ones.
  compat_formats_.ayb = hub_->AddFormat(dialects::AybEncoder(compat_->export_names()));
  compat_formats_.snackbase_sse =
      hub_->AddFormat(dialects::SnackbaseSseEncoder(compat_->export_names()));
  compat_formats_.snackbase_ws =
      hub_->AddFormat(dialects::SnackbaseWsEncoder(compat_->export_names()));
  return Status::OK();
}

void Server::HandleCompat(http::Exchange* s, uint64_t slot, const http::Request& req,
                          const std::vector<std::string>& seg) {
  const bool ayb = seg.size() == 2 && seg[1] == "realtime";
  const bool snackbase = seg.size() == 4 && seg[1] == "v1" && seg[2] == "realtime";
  const bool snackbase_sse = snackbase && seg[3] == "subscribe";
  const bool snackbase_ws = snackbase && seg[3] == "ws";
  auto refuse = [&](int status, std::string_view code, std::string_view message) {
    if (!req.upgrade) return RespondError(s, slot, status, code, message);
    // The parser stops at an upgrade: a refused one cannot go on as HTTP.
    ++metrics_.rejected_by_code[std::string(code)];
    http::ResponseHead head;
    head.status = status;
    head.close = true;
    head.headers.push_back({"content-type", "application/json"});
    s->Respond(slot, head, http::ErrorBody(code, message));
  };
  if (!ayb && !snackbase_sse && !snackbase_ws) {
    return refuse(404, "not_found",
                  "nothing here; the compatibility dialects serve /api/realtime, "
                  "/api/v1/realtime/subscribe and /api/v1/realtime/ws");
  }
  if (compat_ == nullptr) {
    return refuse(404, "compat_disabled",
                  "the AYB and SnackBase endpoints are off: the server config names no "
                  "compat_app");
  }
  if (snackbase_ws) return StartSnackbaseWs(s, slot, req);
  if (req.upgrade) return refuse(404, "not_found", "this endpoint serves SSE, not WebSocket");
  if (req.method == "OPTIONS") {
    http::ResponseHead head;
    head.status = 204;
    rest::Service::AddCors(compat_->app(), req, &head.headers);
    head.headers.push_back({"allow", "GET, OPTIONS"});
    head.headers.push_back({"access-control-allow-methods", "GET"});
    head.headers.push_back({"access-control-allow-headers", "Authorization, Last-Event-ID"});
    return s->Respond(slot, head, "");
  }
  if (req.method != "GET") {
    return RespondMethodNotAllowed(s, slot, "GET, OPTIONS", "this stream is opened with GET");
  }
  StartCompatSse(s, slot, req, ayb);
}

void Server::StartCompatSse(http::Exchange* s, uint64_t slot, const http::Request& req, bool ayb) {
  const config::App& app = compat_->app();
  std::vector<std::pair<std::string, std::string>> params;
  if (!http::ParseQuery(req.query, &params)) {
    return RespondError(s, slot, 400, "bad_query", "the query string is not valid");
  }
  // AYB: ?tables=a,b (the key may repeat); SnackBase: ?collection=a&collection=b
  // (a comma list is taken too).
  const std::string_view key = ayb ? "tables" : "collection";
  std::vector<std::string> names;
  dialects::CompatSseRequest cr;
  cr.app = app.app_id;
  const std::string* last_event_id = req.FindHeader("last-event-id");
  for (auto& [k, v] : params) {
    if (k == key) SplitNames(v, &names);
    if (k == "retained") cr.retained = stream::QueryFlag(v);
    if (k == "lastEventId" && last_event_id == nullptr) cr.resume = stream::ParseResumeId(v);
  }
  // The header wins: an EventSource sends it on reconnect, while the URL
  // still carries the id the page first connected with.
  if (last_event_id != nullptr) cr.resume = stream::ParseResumeId(*last_event_id);
  const std::string_view what = ayb ? "table" : "collection";
  if (names.empty()) {
    if (ayb) {
      return RespondError(s, slot, 400, "tables_required",
                          "name the tables to follow: /api/realtime?tables=posts,comments");
    }
    // SnackBase's document makes `collection` optional: without one, the
    // stream follows every collection that has SSE on.
    for (const schema::Table& t : app.schema.tables) {
      if (compat_->SseOn(t)) names.push_back(t.export_name);
    }
    if (names.empty()) {
      return RespondError(
          s, slot, 404, "sse_disabled",
          "server-sent events are not enabled for any collection of app " + app.app_id);
    }
  }
  std::vector<const schema::Table*> tables;
  for (const std::string& name : names) {
    const schema::Table* t = compat_->Find(name);
    if (t == nullptr) {
      return RespondError(s, slot, 404, ayb ? "unknown_table" : "unknown_collection",
                          "no " + std::string(what) + " '" + name + "' in app " + app.app_id);
    }
    if (std::find(tables.begin(), tables.end(), t) == tables.end()) tables.push_back(t);
  }
  // As the native routes: the token is checked once the tables are known
  // to exist, before anything streams.
  AuthResult a = Authenticate(app, req);
  if (!a.ok) return RespondAuthError(s, slot, app, req, a, false);
  for (const schema::Table* t : tables) {
    if (!compat_->SseOn(*t)) {
      return RespondError(
          s, slot, 404, "sse_disabled",
          "server-sent events are not enabled for " + std::string(what) + " " + t->export_name);
    }
    cr.tables.push_back({t->name, t->export_name, t->read_rule});
  }
  if (shutting_down_) {
    return RespondError(s, slot, 503, "shutting_down", "the server is shutting down");
  }
  const int64_t deadline = AuthDeadline(a);
  const std::string subject = a.claims.subject;
  cr.auth.anonymous = a.anonymous;
  cr.auth.claims = std::move(a.claims);
  StreamSlot* transport = SlotFor(s, slot);
  if (transport == nullptr) return;
  transport->set_identity({&app, ayb ? "ayb" : "snackbase", subject});
  std::unique_ptr<stream::Stream> st;
  if (ayb) {
    st = std::make_unique<dialects::AybStream>(&stream_ctx_, transport, std::move(cr),
                                               compat_formats_.ayb);
  } else {
    st = std::make_unique<dialects::SnackbaseSseStream>(&stream_ctx_, transport, std::move(cr),
                                                        compat_formats_.snackbase_sse);
  }
  st->set_auth_deadline(deadline);
  if (!transport->SetPendingStream(std::move(st))) {
    return RespondError(s, slot, 400, "stream_in_progress",
                        "this connection already carries a stream");
  }
  http::ResponseHead head;
  head.headers.push_back({"content-type", "text/event-stream"});
  head.headers.push_back({"cache-control", "no-cache"});
  head.headers.push_back({"x-accel-buffering", "no"});  // proxies: do not buffer
  rest::Service::AddCors(app, req, &head.headers);
  s->StartStream(slot, head);
}

void Server::StartSnackbaseWs(http::Exchange* s, uint64_t slot, const http::Request& req) {
  const config::App& app = compat_->app();
  if (!req.upgrade) {
    http::ResponseHead head;
    head.status = 426;
    head.headers.push_back({"content-type", "application/json"});
    head.headers.push_back({"upgrade", "websocket"});
    ++metrics_.rejected_by_code["upgrade_required"];
    return s->Respond(slot, head,
                      http::ErrorBody("upgrade_required",
                                      "this endpoint is a WebSocket: send an RFC 6455 upgrade"));
  }
  // The same handshake as the native WebSocket (docs/STREAMS.md).
  if (!CheckUpgrade(s, slot, req)) return;
  if (!app.ws) {
    return RefuseUpgrade(s, slot, 404, "ws_disabled",
                         "WebSocket is not enabled for app " + app.app_id);
  }
  AuthResult auth = Authenticate(app, req);
  if (!auth.ok) return RespondAuthError(s, slot, app, req, auth, /*close=*/true);
  if (!CheckHandshake(s, slot, req)) return;
  StreamSlot* transport = SlotFor(s, slot);
  if (transport == nullptr) return;
  transport->set_identity({&app, "snackbase", auth.claims.subject});
  dialects::SnackbaseWsRequest wr;
  wr.connection_id = s->id();
  wr.auth.anonymous = auth.anonymous;
  wr.auth.claims = auth.claims;
  auto ws = std::make_unique<dialects::SnackbaseWsStream>(
      &stream_ctx_, transport, this, compat_.get(), std::move(wr), compat_formats_.snackbase_ws);
  ws->set_auth_deadline(AuthDeadline(auth));
  if (!transport->SetPendingStream(std::move(ws))) {
    return RefuseUpgrade(s, slot, 400, "stream_in_progress",
                         "this connection already carries a stream");
  }
  AcceptWebSocket(s, slot, req, auth.ws_protocol);
}

}  // namespace eventide::server
