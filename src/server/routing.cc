// Request routing: /healthz, /metrics, REST, streams, static files; the
// WebSocket host's writes and publishes, and static files served from memory.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "src/common/utf8.h"
#include "src/server/http_connection.h"
#include "src/server/server.h"

namespace eventide::server {
namespace {

// Static files of every app are read once at start-up and served from
// memory, so serving them never blocks the loop on disk. Apps are small; a
// web/ folder beyond this is a start-up error rather than a slow server.
constexpr uint64_t kMaxStaticBytes = 256ull << 20;

}  // namespace

const config::App* Server::FindApp(std::string_view app_id) const {
  for (const config::App& a : apps_) {
    if (a.app_id == app_id) return &a;
  }
  return nullptr;
}

void Server::RespondError(http::Exchange* s, uint64_t slot, int status, std::string_view code,
                          std::string_view message) {
  ++metrics_.rejected_by_code[std::string(code)];
  s->RespondError(slot, status, code, message);
}

void Server::RespondMethodNotAllowed(http::Exchange* s, uint64_t slot, std::string_view allow,
                                     std::string_view message) {
  ++metrics_.rejected_by_code["method_not_allowed"];
  s->Respond(slot, http::MethodNotAllowedHead(allow),
             http::ErrorBody("method_not_allowed", message));
}

void Server::OnRequest(http::Exchange* s, uint64_t slot, http::Request& req) {
  std::vector<std::string> seg;
  if (req.path.empty() || req.path[0] != '/' || !http::SplitPath(req.path, &seg)) {
    return RespondError(s, slot, 400, "bad_path", "the request path is not a valid URL path");
  }
  if (!http::TargetIsUtf8(req.target)) {
    return RespondError(s, slot, 400, kInvalidUtf8Code,
                        "the request path or query, %-decoded, is not valid UTF-8");
  }
  // No app is called "api" (config.h): the compatibility dialects live there.
  if (!seg.empty() && seg[0] == "api") return HandleCompat(s, slot, req, seg);
  if (req.upgrade) return StartWebSocket(s, slot, req, seg);
  if (seg.size() == 1 && seg[0] == "healthz") return Healthz(s, slot, req);
  if (seg.size() == 1 && seg[0] == "metrics") return MetricsPage(s, slot, req);
  if (seg.empty()) {
    return RespondError(s, slot, 404, "not_found", "nothing here; apps are served at /{app_id}/");
  }
  const config::App* app = FindApp(seg[0]);
  if (app == nullptr) {
    return RespondError(s, slot, 404, "unknown_app", "no app '" + seg[0] + "'");
  }
  const bool graphql =
      seg.size() == 2 && seg[1] == "graphql" && app->schema.FindByExportName("graphql") == nullptr;
  const schema::Table* t =
      seg.size() == 2 || seg.size() == 3 ? app->schema.FindByExportName(seg[1]) : nullptr;
  AuthResult auth;  // anonymous unless checked
  if ((graphql || t != nullptr) && req.method != "OPTIONS") {
    // Tables and GraphQL need the app's auth; static files (web/) do not,
    // and a CORS preflight carries no credentials.
    auth = Authenticate(*app, req);
    if (!auth.ok) return RespondAuthError(s, slot, *app, req, auth, false);
  }
  if (graphql) return StartGraphql(s, slot, req, *app, auth);
  if (seg.size() == 2 || seg.size() == 3) {
    if (t != nullptr) {
      if (MaybeStartSse(s, slot, req, *app, *t, seg, auth)) return;
      if (!t->exported || !t->rest || !app->rest) {
        return RespondError(s, slot, 404, "rest_disabled",
                            "REST is not enabled for table " + t->export_name);
      }
      if (shutting_down_ && req.method != "GET" && req.method != "HEAD") {
        return RespondError(s, slot, 503, "shutting_down", "the server is shutting down");
      }
      // Count statuses the service answers with through the session's
      // responses is not visible here; the service keeps its own counters.
      return rest_->Handle(s, slot, req, *app, *t, seg, PrincipalOf(auth));
    }
  }
  ServeStatic(s, slot, req, *app, seg);
}

// A REST write (/{app}/{table}[/{id}]) is judged against the accepted
// overlay, so it may be handed over before the writes pipelined ahead of it
// are durable. Everything else reads state or starts a stream (GraphQL is a
// POST that opens one; /api/ holds the dialects' streams) and waits its turn.
bool Server::MayRunAhead(const http::Request& req) const {
  const std::string& m = req.method;
  if (m != "POST" && m != "PUT" && m != "PATCH" && m != "DELETE") return false;
  if (req.upgrade || req.path.size() < 2 || req.path[0] != '/') return false;
  std::string_view rest = std::string_view(req.path).substr(1);
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return false;
  std::string_view app = rest.substr(0, slash), table = rest.substr(slash + 1);
  table = table.substr(0, table.find('/'));
  return app != "api" && !table.empty() && table != "graphql";
}

bool Server::ResolveTopic(const std::string& app_id, std::string_view name,
                          stream::ResolvedTopic* out, std::string* code, std::string* message) {
  const config::App* app = FindApp(app_id);
  const size_t slash = name.find('/');
  std::string_view table_name = name.substr(0, slash);
  std::string_view id = slash == std::string_view::npos ? "" : name.substr(slash + 1);
  if (app == nullptr || table_name.empty() || (slash != std::string_view::npos && id.empty()) ||
      id.find('/') != std::string_view::npos) {
    *code = "invalid_topic";
    *message = "a topic is \"Table\" or \"Table/id\" (an id has no '/'); got \"" +
               std::string(name) + "\"";
    return false;
  }
  const schema::Table* t = app->schema.FindByExportName(table_name);
  if (t == nullptr) {
    *code = "unknown_table";
    *message = "no table '" + std::string(table_name) + "' in app " + app->app_id;
    return false;
  }
  if (!t->exported || !t->ws || !app->ws) {
    *code = "ws_disabled";
    *message = "WebSocket is not enabled for table " + t->export_name;
    return false;
  }
  out->topic = stream::Topic{app->app_id, t->name, std::string(id)};
  out->name = t->export_name;
  if (!id.empty()) out->name.append("/").append(id);
  out->primary_key = t->fields[t->primary_key].name;
  out->read_rule = t->read_rule;
  return true;
}

// The app and table a WebSocket write goes to; false (answered) when the
// write cannot be taken.
bool Server::WritableTable(http::Responder* r, uint64_t slot, const stream::Topic& topic,
                           const config::App** app, const schema::Table** table) {
  *app = FindApp(topic.app);
  *table = *app ? (*app)->schema.FindByName(topic.table) : nullptr;
  http::ResponseHead head;
  head.status = *table == nullptr ? 404 : 503;
  if (*table == nullptr) {
    r->Respond(slot, head, http::ErrorBody("unknown_table", "no table " + topic.table));
  } else if (shutting_down_) {
    r->Respond(slot, head, http::ErrorBody("shutting_down", "the server is shutting down"));
  } else {
    return true;
  }
  return false;
}

void Server::Write(http::Responder* r, uint64_t slot, std::string_view method,
                   const stream::Topic& topic, const std::string& id, std::string body,
                   const policy::Principal& who) {
  const config::App* app;
  const schema::Table* table;
  if (!WritableTable(r, slot, topic, &app, &table)) return;
  http::Request req;
  req.method = std::string(method);
  req.body = std::move(body);
  std::vector<std::string> seg{app->app_id, table->export_name};
  if (!id.empty()) seg.push_back(id);
  req.path = "/" + app->app_id + "/" + table->export_name + (id.empty() ? "" : "/" + id);
  rest_->Handle(r, slot, req, *app, *table, seg, who);
}

void Server::Publish(http::Responder* r, uint64_t slot, const stream::Topic& topic,
                     std::string data_json, const policy::Principal& who) {
  const config::App* app;
  const schema::Table* table;
  if (!WritableTable(r, slot, topic, &app, &table)) return;
  http::Request req;
  req.method = "POST";
  rest_->Publish(r, slot, req, *app, *table, topic.id, std::move(data_json), who);
}

Status Server::LoadStaticFiles() {
  uint64_t total = 0;
  for (const config::App& app : apps_) {
    if (app.web_dir.empty()) continue;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(app.web_dir, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      std::string rel = std::filesystem::relative(it->path(), app.web_dir).generic_string();
      std::ifstream in(it->path(), std::ios::binary);
      std::ostringstream body;
      body << in.rdbuf();
      http::StaticFile f = http::MakeStaticFile(rel, body.str());
      total += f.body.size() + f.gzip.size();
      if (total > kMaxStaticBytes) {
        return Status::InvalidArgument(app.web_dir + ": static files exceed " +
                                       std::to_string(kMaxStaticBytes >> 20) + " MiB");
      }
      static_files_["/" + app.app_id + "/" + rel] = std::move(f);
    }
    if (ec) return Status::IOError("read " + app.web_dir + ": " + ec.message());
  }
  return Status::OK();
}

void Server::ServeStatic(http::Exchange* s, uint64_t slot, const http::Request& req,
                         const config::App& app, const std::vector<std::string>& seg) {
  if (req.method != "GET" && req.method != "HEAD") {
    if (seg.size() > 3)
      return RespondMethodNotAllowed(s, slot, "GET, HEAD", "static files are read-only");
    return RespondError(s, slot, 404, "unknown_table",
                        "no table '" + (seg.size() > 1 ? seg[1] : "") + "' in app " + app.app_id);
  }
  std::string key = "/" + app.app_id;
  for (size_t i = 1; i < seg.size(); ++i) key += "/" + seg[i];
  bool dir = seg.size() == 1 || req.path.back() == '/';
  if (seg.size() == 1 && req.path.back() != '/') {
    // /app -> /app/ so that relative links in index.html resolve.
    http::ResponseHead head;
    head.status = 301;
    head.headers.push_back({"location", "/" + app.app_id + "/"});
    return s->Respond(slot, head, "");
  }
  auto it = static_files_.find(dir ? key + "/index.html" : key);
  if (it == static_files_.end() && !dir) it = static_files_.find(key + "/index.html");
  if (it == static_files_.end()) {
    if (seg.size() == 2 || seg.size() == 3) {
      return RespondError(s, slot, 404, "unknown_table",
                          "no table or file '" + seg[1] + "' in app " + app.app_id);
    }
    return RespondError(s, slot, 404, "not_found", "no such file in app " + app.app_id);
  }
  // Revalidated on every use (no-cache) against a strong ETag, one per
  // representation: a page reloads its bundle with a 304 until the server
  // has a new one.
  const http::StaticFile& f = it->second;
  const std::string* ae = f.gzip.empty() ? nullptr : req.FindHeader("accept-encoding");
  const bool gzip = ae != nullptr && http::AcceptsGzip(*ae);
  const std::string& etag = gzip ? f.gzip_etag : f.etag;
  http::ResponseHead head;
  head.headers.push_back({"cache-control", "no-cache"});
  head.headers.push_back({"etag", etag});
  if (!f.gzip.empty()) head.headers.push_back({"vary", "accept-encoding"});
  if (const std::string* inm = req.FindHeader("if-none-match");
      inm != nullptr && http::EtagMatches(*inm, etag)) {
    head.status = 304;
    return s->Respond(slot, head, "");
  }
  head.headers.push_back({"content-type", f.content_type});
  if (gzip) head.headers.push_back({"content-encoding", "gzip"});
  const std::string& body = gzip ? f.gzip : f.body;
  if (req.method == "HEAD") head.content_length = static_cast<int64_t>(body.size());
  s->Respond(slot, head, req.method == "HEAD" ? std::string_view() : std::string_view(body));
}

}  // namespace eventide::server
