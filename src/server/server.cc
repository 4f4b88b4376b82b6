#include "src/server/server.h"

#include <strings.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "src/common/logging.h"
#include "src/common/time.h"
#include "src/common/utf8.h"
#include "src/graphql/graphql_stream.h"
#include "src/hooks/dispatcher.h"
#include "src/hooks/envelope.h"
#include "src/net/cert.h"
#include "src/projection/checkpoint.h"
#include "src/stream/formats.h"
#include "src/stream/resume.h"
#include "src/stream/sse_stream.h"

namespace eventide::server {
namespace {

// Static files of every app are read once at start-up and served from
// memory, so serving them never blocks the loop on disk. Apps are small; a
// web/ folder beyond this is a start-up error rather than a slow server.
constexpr uint64_t kMaxStaticBytes = 256ull << 20;

// Distinct GraphQL selections (each a hub format, kept for the server's
// life): beyond this many, new ones are refused rather than growing memory.
constexpr size_t kMaxGraphqlSelections = 4096;

// How long a graceful shutdown waits for writes in flight before giving up.
constexpr uint64_t kShutdownGraceMs = 10000;

// One catch-up read returns at most this many bytes of entries: a subscriber
// far behind catches up in steps, each sent before the next is read.
constexpr size_t kCatchUpReadBytes = 256 << 10;

bool ParseListen(const std::string& listen, std::string* host, int* port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  *host = listen.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  std::string p = listen.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *port = std::stoi(p);
  return *port <= 65535 && !host->empty();
}

// The oldest segment base the retention window still needs. Newest first, a
// segment is kept while the newer ones hold fewer than `bytes` bytes, or while
// its newest entry is younger than `age_s`; once one is not needed, no older
// one is. The head's segment is always kept. Runs on the pool (reads the log).
wal::Position RetentionStart(wal::Log* log, const config::Retention& r) {
  std::vector<wal::SegmentInfo> segs = log->Segments();
  if (segs.empty()) return wal::Position();
  const int64_t now_us = WallMillis() * 1000;
  const int64_t age_us = static_cast<int64_t>(r.age_s) * 1000000;
  auto reader = log->NewReader();
  uint64_t newer_bytes = 0;
  wal::Position keep_from = segs.back().base;
  for (size_t i = segs.size(); i-- > 0;) {
    bool needed = i + 1 == segs.size() || segs[i].last.value() == 0;
    if (!needed && r.bytes != 0 && newer_bytes < r.bytes) needed = true;
    if (!needed && r.age_s != 0) {
      wal::Entry e;
      if (!reader->Seek(segs[i].last).ok()) {
        needed = true;  // cannot tell its age: keep it
      } else {
        auto more = reader->Next(&e);
        needed = !more.ok() || !more.value() || e.timestamp_us >= now_us - age_us;
      }
    }
    if (!needed) break;
    keep_from = segs[i].base;
    newer_bytes += segs[i].bytes;
  }
  return keep_from;
}

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

// Glue between a net::Connection and an http::Session, and, once a response
// turns into a stream (SSE, WebSocket), between the connection and the stream.
class Server::HttpConnection final : public net::ConnectionHandler,
                                     public http::Transport,
                                     public stream::StreamTransport {
 public:
  HttpConnection(Server* server, net::Connection* conn)
      : server_(server), conn_(conn), session_(this, server, SessionOptionsFor(server, conn)) {
    server_->sessions_[conn->id()] = this;
    ++server_->metrics_.connections_total;
  }
  ~HttpConnection() override = default;

  http::Session* session() { return &session_; }
  stream::Stream* stream() { return stream_.get(); }
  // The stream that takes over once its response head is sent. False when
  // one is waiting already (a second stream request pipelined on the same
  // connection is never answered: the first one keeps the connection).
  bool SetPendingStream(std::unique_ptr<stream::Stream> s) {
    if (pending_stream_ || stream_) return false;
    pending_stream_ = std::move(s);
    return true;
  }
  // Who the stream is for, as its hooks tell (set with the pending stream).
  struct Identity {
    const config::App* app = nullptr;
    std::string dialect;  // sse, ws, graphql, ayb, snackbase
    std::string subject;  // "" = anonymous
  };
  void set_identity(Identity id) { identity_ = std::move(id); }
  const Identity& identity() const { return identity_; }
  uint64_t id() const { return conn_->id(); }
  const std::string& peer() const { return conn_->peer(); }
  void Shutdown() {
    if (stream_) stream_->OnShutdown();
  }

  // net::ConnectionHandler
  void OnData(std::string_view data) override {
    if (stream_) return stream_->OnData(data);
    session_.OnData(data);
  }
  void OnEof() override {
    if (stream_) return stream_->OnEof();
    session_.OnEof();
  }
  void OnTimer() override {
    if (stream_) return stream_->OnTimer();
    session_.OnTimer();
  }
  void OnWritten() override {
    if (stream_) stream_->OnWritten();
  }
  void OnClose() override {
    const bool streamed = stream_ != nullptr;
    if (stream_) stream_->OnClose();
    stream_.reset();  // its subscriptions end (their hooks) before the disconnect
    if (streamed) server_->EmitStreamHook(hooks::kOnRealtimeDisconnect, this, {}, {});
    pending_stream_.reset();
    server_->sessions_.erase(conn_->id());
    server_->MaybeFinishShutdown();
  }

  // http::Transport and stream::StreamTransport
  void Send(std::string_view bytes) override { conn_->Send(bytes); }
  void SendShared(const stream::Frame& frame) override { conn_->SendShared(frame); }
  void Close() override { conn_->Close(); }
  void Abort() override { conn_->Abort(); }
  size_t pending_output_bytes() const override { return conn_->pending_output_bytes(); }
  void PauseReading() override { conn_->PauseReading(); }
  void ResumeReading() override { conn_->ResumeReading(); }
  void SetTimer(uint64_t timeout_ms) override { conn_->SetTimer(timeout_ms); }
  void OnStreamStarted(std::string_view early) override {
    stream_ = std::move(pending_stream_);
    if (!stream_) {  // cannot happen: a stream head is only sent with a stream
      conn_->Close();
      return;
    }
    conn_->ResumeReading();   // to see the client's EOF (and WebSocket frames)
    std::string copy(early);  // `early` lives in the session, which is done
    server_->EmitStreamHook(hooks::kOnRealtimeConnect, this, {}, {});
    stream_->Start(copy);
  }

 private:
  static http::SessionOptions SessionOptionsFor(Server* server, net::Connection* conn) {
    const config::Limits& l = server->options_.limits;
    http::SessionOptions o;
    o.limits.header_bytes = l.header_bytes;
    o.limits.body_bytes = l.body_bytes;
    o.header_timeout_ms = l.header_timeout_ms;
    o.idle_timeout_ms = l.idle_timeout_ms;
    o.max_pipelined_requests = l.max_pipelined_requests;
    o.id = conn->id();
    return o;
  }

  Server* server_;
  net::Connection* conn_;
  http::Session session_;
  std::unique_ptr<stream::Stream> pending_stream_;
  Identity identity_;
  std::unique_ptr<stream::Stream> stream_;
};

stream::StreamTransport* Server::StreamTransportOf(const http::Session* s) {
  auto it = sessions_.find(s->id());
  return it == sessions_.end() ? nullptr : it->second;
}

void Server::SetStreamIdentity(stream::StreamTransport* t, const config::App& app,
                               std::string dialect, std::string subject) {
  static_cast<HttpConnection*>(t)->set_identity({&app, std::move(dialect), std::move(subject)});
}

bool Server::SetPendingStream(const http::Session* s, std::unique_ptr<stream::Stream> st) {
  auto it = sessions_.find(s->id());
  return it != sessions_.end() && it->second->SetPendingStream(std::move(st));
}

// Reads the log for subscribers behind the head, on the libuv pool.
class Server::PoolLogSource final : public stream::LogSource {
 public:
  explicit PoolLogSource(Server* server) : server_(server) {}

  void Read(wal::Position after, wal::Position to,
            std::function<void(Status, std::vector<stream::LoggedEntry>)> done) override {
    struct Job {
      uv_work_t req;
      Server* server;
      wal::Position after, to;
      std::function<void(Status, std::vector<stream::LoggedEntry>)> done;
      Status status;
      std::vector<stream::LoggedEntry> entries;
    };
    auto* job = new Job{};
    job->req.data = job;
    job->server = server_;
    job->after = after;
    job->to = to;
    job->done = std::move(done);
    ++server_->log_reads_in_flight_;
    uv_queue_work(
        &server_->loop_, &job->req,
        [](uv_work_t* req) {
          auto* j = static_cast<Job*>(req->data);
          auto reader = j->server->log_->NewReader();
          j->status = reader->Seek(j->after.Next());
          size_t bytes = 0;
          while (j->status.ok() && reader->next_position().value() <= j->to.value() &&
                 bytes < kCatchUpReadBytes) {
            wal::Entry e;
            auto more = reader->Next(&e);
            if (!more.ok()) {
              j->status = more.status();
              break;
            }
            if (!more.value()) break;
            j->entries.push_back({e.position, std::string(e.payload)});
            bytes += e.payload.size();
          }
        },
        [](uv_work_t* req, int) {
          std::unique_ptr<Job> j(static_cast<Job*>(req->data));
          Server* self = j->server;
          --self->log_reads_in_flight_;
          if (!self->handles_closed_) j->done(j->status, std::move(j->entries));
          self->MaybeFinishShutdown();
        });
  }

 private:
  Server* server_;
};

Server::Server(config::Server options) : options_(std::move(options)) {}

Server::~Server() {
  if (loop_open_) {
    // After a graceful shutdown every handle is closing already; after a
    // failed start some are open. Close what is left, let every close
    // callback run, then drop the loop.
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
}

int Server::port() const { return listener_ ? listener_->port() : 0; }

http::Responder* Server::FindResponder(uint64_t id) const {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return nullptr;
  if (stream::Stream* st = it->second->stream()) return st->responder();
  return it->second->session();
}

const config::App* Server::FindApp(std::string_view app_id) const {
  for (const config::App& a : apps_) {
    if (a.app_id == app_id) return &a;
  }
  return nullptr;
}

Status Server::Start() {
  // A peer that closes while we write must cost an EPIPE on that socket,
  // not the process (the default action of SIGPIPE is to terminate).
  std::signal(SIGPIPE, SIG_IGN);
  Status s = config::LoadApps(options_.apps_dir, &apps_);
  if (!s.ok()) return s;
  if (apps_.empty()) {
    LogLine(LogLevel::kWarn, "no apps found", {{"apps_dir", options_.apps_dir}});
  }
  s = LoadStaticFiles();
  if (!s.ok()) return s;

  // Tokens (SPEC section 8): the keys, read once; an app that asks for auth
  // without a key to check tokens with is a start-up error.
  if (!options_.jwt_secret.empty() || !options_.jwt_public_key.empty()) {
    auth::VerifierOptions vo;
    vo.hs256_secret = options_.jwt_secret;
    vo.leeway_seconds = static_cast<int64_t>(options_.jwt_leeway_ms / 1000);
    if (!options_.jwt_public_key.empty()) {
      std::ifstream in(options_.jwt_public_key, std::ios::binary);
      if (!in) return Status::IOError("cannot read jwt_public_key " + options_.jwt_public_key);
      std::ostringstream pem;
      pem << in.rdbuf();
      vo.public_key_pem = pem.str();
    }
    auto v = auth::Verifier::Create(vo);
    if (!v.ok()) return v.status();
    verifier_ = std::move(v).value();
  }
  bool any_hooks = false;
  for (const config::App& a : apps_) {
    if (a.auth != "off" && verifier_ == nullptr) {
      return Status::InvalidArgument("app " + a.app_id + " has auth: " + a.auth +
                                     " but the server has no jwt_secret or jwt_public_key");
    }
    for (const auto& [name, url] : a.hooks) {
      const std::string where = a.dir + "/config.yaml: hooks: " + name;
      if (!hooks::IsHookName(name)) {
        return Status::InvalidArgument(
            where +
            " is not a hook (on_realtime_connect, on_realtime_disconnect, on_realtime_subscribe, "
            "on_realtime_unsubscribe, on_realtime_message, on_write)");
      }
      Status u = hooks::Dispatcher::CheckUrl(url);
      if (!u.ok()) return Status::InvalidArgument(where + ": " + u.message());
      any_hooks = true;
    }
  }
  if (any_hooks) {
    auto d = hooks::Dispatcher::Create(hooks::DispatcherOptions());
    if (!d.ok()) return d.status();
    hooks_ = std::move(d).value();
  }

  std::error_code ec;
  std::filesystem::create_directories(options_.data_dir, ec);
  if (ec) return Status::IOError("create data dir " + options_.data_dir + ": " + ec.message());

  // The log.
  wal::LogOptions lo;
  lo.dir = options_.data_dir + "/wal";
  auto policy = wal::SyncPolicy::Parse(options_.fsync);
  if (!policy.ok()) return policy.status();
  lo.sync = policy.value();
  lo.segment_bytes = options_.segment_bytes;
  wal::RecoveryReport recovery;
  auto log = wal::Log::Open(lo, &recovery);
  if (!log.ok()) return log.status();
  log_ = std::move(log).value();
  if (!recovery.mark_problem.empty()) {
    // Not an error: a log from before SYNCED existed, or a mark a power loss
    // tore. Recovery judged the tail by its entries alone (wal/FORMAT.md).
    LogLine(LogLevel::kWarn, "log synced mark not used", {{"problem", recovery.mark_problem}});
  }
  if (recovery.tail_bytes > 0) {
    LogLine(LogLevel::kWarn, "log tail cut",
            {{"segment", recovery.tail_segment},
             {"offset", recovery.tail_offset},
             {"bytes", recovery.tail_bytes},
             {"reason", recovery.tail_reason}});
  }

  // The projection: newest checkpoint plus the log after it.
  checkpoint_dir_ = options_.data_dir + "/checkpoints";
  std::filesystem::create_directories(checkpoint_dir_, ec);
  projection_ = std::make_unique<projection::Projection>();
  projection::RecoveryReport pr;
  s = projection::Recover(checkpoint_dir_, log_.get(), projection_.get(), &pr);
  if (!s.ok()) return s;
  for (const std::string& note : pr.skipped) {
    LogLine(LogLevel::kWarn, "checkpoint skipped", {{"reason", note}});
  }
  checkpoint_position_ = pr.checkpoint.value();
  LogLine(LogLevel::kInfo, "recovered",
          {{"head", log_->durable_head().value()},
           {"checkpoint", pr.checkpoint.value()},
           {"replayed", pr.entries_replayed},
           {"records", projection_->record_count()}});

  // TLS.
  if (options_.tls == "auto") {
    std::string cert, key;
    bool generated = false;
    s = net::EnsureSelfSignedCertificate(options_.data_dir, &cert, &key, &generated);
    if (!s.ok()) return s;
    if (generated)
      LogLine(LogLevel::kInfo, "generated a self-signed certificate", {{"cert", cert}});
    auto ctx = net::TlsContext::Load(cert, key);
    if (!ctx.ok()) return ctx.status();
    tls_ = std::move(ctx).value();
  } else if (options_.tls != "off") {
    size_t comma = options_.tls.find(',');
    if (comma == std::string::npos) {
      return Status::InvalidArgument("--tls must be auto, off or CERT,KEY; got " + options_.tls);
    }
    auto ctx = net::TlsContext::Load(options_.tls.substr(0, comma), options_.tls.substr(comma + 1));
    if (!ctx.ok()) return ctx.status();
    tls_ = std::move(ctx).value();
  }

  // The loop.
  uv_loop_init(&loop_);
  loop_open_ = true;
  rest_ = std::make_unique<rest::Service>(log_.get(), projection_.get(), options_.limits,
                                          [this](uint64_t id) { return FindResponder(id); });
  // Real-time: every durable entry is published to the cursors right after
  // the projection applied it, so a snapshot and the live stream agree.
  log_source_ = std::make_unique<PoolLogSource>(this);
  hub_ = std::make_unique<stream::Hub>(log_source_.get(), projection_->applied(),
                                       options_.limits.output_bytes, stream::AllFormats());
  rest_->on_applied = [this](wal::Position p, const event::Event& e) {
    hub_->Publish(p, e);
    if (hooks_ == nullptr) return;
    const config::App* app = FindApp(e.app);
    if (app == nullptr || app->hooks.count(std::string(hooks::kOnWrite)) == 0) return;
    EmitHook(
        *app, hooks::kOnWrite,
        hooks::WriteData(
            event::OpName(e.op), e.table,
            e.id.empty() ? std::nullopt : std::optional<std::string_view>(e.id), p,
            e.subject.empty() ? std::nullopt : std::optional<std::string_view>(e.subject), e.data));
  };
  if (hooks_ != nullptr) {
    stream_ctx_.on_hook = [this](std::string_view hook, stream::StreamTransport* t,
                                 std::string_view topic, std::string_view message_json) {
      EmitStreamHook(hook, t, topic, message_json);
    };
  }
  s = SetUpCompat();
  if (!s.ok()) return s;
  stream_ctx_.hub = hub_.get();
  stream_ctx_.projection = projection_.get();
  stream_ctx_.first_retained = [this] { return log_->first_position(); };
  stream_ctx_.now_ms = [this] { return static_cast<int64_t>(uv_now(&loop_)); };
  stream_ctx_.wall_ms = [] { return WallMillis(); };
  {
    stream::StreamOptions& so = stream_ctx_.options;
    so.output_limit = options_.limits.output_bytes;
    so.stall_timeout_ms = options_.limits.stall_timeout_ms;
    so.max_subscriptions = options_.limits.subscriptions_per_connection;
    so.sse_retry_ms = options_.streams.sse_retry_ms;
    so.sse_ping_ms = options_.streams.sse_ping_ms;
    so.ws_ping_ms = options_.streams.ws_ping_ms;
    so.ws_pong_timeout_ms = options_.streams.ws_pong_timeout_ms;
    so.ws_max_message_bytes = options_.streams.ws_max_message_bytes;
    so.json_depth = options_.limits.json_depth;
    so.snackbase_heartbeat_ms = options_.streams.snackbase_heartbeat_ms;
  }
  durable_async_.data = this;
  uv_async_init(&loop_, &durable_async_,
                [](uv_async_t* a) { static_cast<Server*>(a->data)->OnDurableAsync(); });
  // The writer thread only pokes the loop; the loop reads the head itself.
  log_->SetDurableListener(
      [this](wal::Position, const Status&) { uv_async_send(&durable_async_); });
  wake_check_.data = this;
  uv_check_init(&loop_, &wake_check_);
  uv_check_start(&wake_check_, [](uv_check_t* c) {
    auto* self = static_cast<Server*>(c->data);
    if (self->rest_->TakeWakeNeeded()) self->log_->Wake();
  });
  uv_unref(reinterpret_cast<uv_handle_t*>(&wake_check_));
  sigint_.data = sigterm_.data = shutdown_timer_.data = this;
  uv_signal_init(&loop_, &sigint_);
  uv_signal_init(&loop_, &sigterm_);
  uv_timer_init(&loop_, &shutdown_timer_);
  auto on_signal = [](uv_signal_t* h, int signum) {
    static_cast<Server*>(h->data)->BeginShutdown(signum == SIGINT ? "SIGINT" : "SIGTERM");
  };
  uv_signal_start(&sigint_, on_signal, SIGINT);
  uv_signal_start(&sigterm_, on_signal, SIGTERM);

  net::ListenerOptions nl;
  if (!ParseListen(options_.listen, &nl.host, &nl.port)) {
    return Status::InvalidArgument("--listen must be HOST:PORT; got " + options_.listen);
  }
  nl.max_connections = options_.limits.max_connections;
  {
    http::ResponseHead head;
    head.status = 503;
    head.close = true;
    head.headers.push_back({"content-type", "application/json"});
    http::AppendResponse(
        head, http::ErrorBody("too_many_connections", "the server is at its connection limit"),
        &nl.over_limit_response);
  }
  nl.tls = tls_.get();
  listener_ = std::make_unique<net::Listener>(
      &loop_, nl, [this](net::Connection* c) { return std::make_unique<HttpConnection>(this, c); });
  s = listener_->Start();
  if (!s.ok()) return s;
  LogLine(LogLevel::kInfo, "listening",
          {{"addr", nl.host + ":" + std::to_string(listener_->port())},
           {"tls", tls_ ? "on" : "off"},
           {"fsync", options_.fsync},
           {"apps", static_cast<int64_t>(apps_.size())}});
  // Where to point a browser: an app's page, when it has one. Loopback is
  // spelled localhost, the name --tls auto's certificate is for.
  std::string host =
      nl.host == "127.0.0.1" || nl.host == "0.0.0.0" || nl.host == "::" || nl.host == "::1"
          ? "localhost"
          : nl.host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  for (const config::App& app : apps_) {
    if (static_files_.count("/" + app.app_id + "/index.html") == 0) continue;
    LogLine(LogLevel::kInfo, "page",
            {{"app", app.app_id},
             {"url", std::string(tls_ ? "https" : "http") + "://" + host + ":" +
                         std::to_string(listener_->port()) + "/" + app.app_id + "/"}});
  }
  return Status::OK();
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

void Server::Run() { uv_run(&loop_, UV_RUN_DEFAULT); }

void Server::RespondError(http::Session* s, uint64_t slot, int status, std::string_view code,
                          std::string_view message) {
  ++metrics_.rejected_by_code[std::string(code)];
  s->RespondError(slot, status, code, message);
}

void Server::OnRequest(http::Session* s, uint64_t slot, http::Request& req) {
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

bool Server::MaybeStartSse(http::Session* s, uint64_t slot, const http::Request& req,
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
  auto it = sessions_.find(s->id());
  if (it == sessions_.end()) return true;
  HttpConnection* conn = it->second;
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

void Server::StartWebSocket(http::Session* s, uint64_t slot, const http::Request& req,
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
  auto it = sessions_.find(s->id());
  if (it == sessions_.end()) return;
  HttpConnection* conn = it->second;
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

void Server::RefuseUpgrade(http::Session* s, uint64_t slot, int status, std::string_view code,
                           std::string_view message, bool version_header) {
  ++metrics_.rejected_by_code[std::string(code)];
  http::ResponseHead head;
  head.status = status;
  head.close = true;
  head.headers.push_back({"content-type", "application/json"});
  if (version_header) head.headers.push_back({"sec-websocket-version", "13"});
  s->Respond(slot, head, http::ErrorBody(code, message));
}

bool Server::CheckUpgrade(http::Session* s, uint64_t slot, const http::Request& req) {
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

bool Server::CheckHandshake(http::Session* s, uint64_t slot, const http::Request& req) {
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

void Server::AcceptWebSocket(http::Session* s, uint64_t slot, const http::Request& req,
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

Server::AuthResult Server::Authenticate(const config::App& app, const http::Request& req) const {
  AuthResult a;
  if (app.auth == "off") return a;
  std::string token;
  if (const std::string* h = req.FindHeader("authorization")) {
    std::string_view v(*h);
    if (v.size() > 7 && strncasecmp(v.data(), "bearer ", 7) == 0) {
      v.remove_prefix(7);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      token.assign(v);
    }
  }
  if (token.empty() && req.upgrade) {
    // Browsers cannot set headers on a WebSocket: the token rides as one of
    // the offered subprotocols (an entry shaped like a JWT), and is echoed
    // back as the chosen one (RFC 6455 section 4.2.2).
    if (const std::string* p = req.FindHeader("sec-websocket-protocol")) {
      std::string_view list(*p);
      while (!list.empty()) {
        size_t comma = list.find(',');
        std::string_view entry = list.substr(0, comma);
        while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
        while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
        if (std::count(entry.begin(), entry.end(), '.') == 2) {
          token.assign(entry);
          a.ws_protocol = token;
          break;
        }
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
    }
  }
  std::vector<std::pair<std::string, std::string>> params;
  if (http::ParseQuery(req.query, &params)) {
    for (auto& [k, v] : params) {
      if (k != "token") continue;
      if (!app.allow_query_token) {
        a.ok = false;
        a.code = "query_token_not_allowed";
        a.message = "app " + app.app_id +
                    " takes tokens in the Authorization header (or Sec-WebSocket-Protocol), "
                    "not in the URL";
        return a;
      }
      if (token.empty()) token = v;
    }
  }
  if (token.empty()) {
    if (app.auth == "optional") return a;
    a.ok = false;
    a.code = "token_missing";
    a.message = "app " + app.app_id +
                " needs a token: Authorization: Bearer, Sec-WebSocket-Protocol or ?token=";
    return a;
  }
  auth::Verdict v = verifier_->Verify(token, WallMillis() / 1000);
  if (!v.ok) {
    a.ok = false;
    a.code = v.code;
    a.message = v.message;
    return a;
  }
  a.anonymous = false;
  a.claims = std::move(v.claims);
  return a;
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
  auto* conn = static_cast<HttpConnection*>(t);
  const HttpConnection::Identity& who = conn->identity();
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

policy::Principal Server::PrincipalOf(const AuthResult& a) {
  policy::Principal p;
  if (a.anonymous) return p;
  p.subject = a.claims.subject;
  p.claims_json = a.claims.json.empty() ? "{}" : a.claims.json;
  return p;
}

int64_t Server::AuthDeadline(const AuthResult& a) const {
  if (a.anonymous || a.claims.expires == 0) return 0;
  return (a.claims.expires + static_cast<int64_t>(options_.jwt_leeway_ms / 1000)) * 1000;
}

bool Server::VerifyToken(const std::string& app_id, std::string_view token,
                         stream::TokenCheck* out) {
  out->ok = false;
  if (verifier_ == nullptr) {
    out->code = "token_invalid";
    out->message = "this server checks no tokens";
    return false;
  }
  auth::Verdict v = verifier_->Verify(token, WallMillis() / 1000);
  if (!v.ok) {
    out->code = v.code;
    out->message = v.message;
    return false;
  }
  (void)app_id;  // every app shares the server's keys
  AuthResult a;
  a.anonymous = false;
  a.claims = std::move(v.claims);
  out->ok = true;
  out->subject = a.claims.subject;
  out->claims_json = PrincipalOf(a).claims_json;
  out->exp_s = a.claims.expires;
  out->deadline_wall_ms = AuthDeadline(a);
  return true;
}

void Server::RespondAuthError(http::Session* s, uint64_t slot, const config::App& app,
                              const http::Request& req, const AuthResult& a, bool close) {
  ++metrics_.rejected_by_code[a.code];
  http::ResponseHead head;
  head.status = a.status;
  head.close = close;
  head.headers.push_back({"content-type", "application/json"});
  head.headers.push_back({"www-authenticate",
                          a.code == "token_missing" ? "Bearer" : "Bearer error=\"invalid_token\""});
  rest::Service::AddCors(app, req, &head.headers);
  s->Respond(slot, head, http::ErrorBody(a.code, a.message));
}

void Server::StartGraphql(http::Session* s, uint64_t slot, const http::Request& req,
                          const config::App& app, const AuthResult& auth) {
  if (req.method != "POST") {
    ++metrics_.rejected_by_code["method_not_allowed"];
    http::ResponseHead head;
    head.status = 405;
    head.headers.push_back({"content-type", "application/json"});
    head.headers.push_back({"allow", "POST"});
    return s->Respond(slot, head,
                      http::ErrorBody("method_not_allowed",
                                      "GraphQL subscriptions are POSTed with "
                                      "Accept: text/event-stream"));
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
  auto it = sessions_.find(s->id());
  if (it == sessions_.end()) return;
  HttpConnection* conn = it->second;
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

void Server::ServeStatic(http::Session* s, uint64_t slot, const http::Request& req,
                         const config::App& app, const std::vector<std::string>& seg) {
  if (req.method != "GET" && req.method != "HEAD") {
    return RespondError(
        s, slot, seg.size() <= 3 ? 404 : 405,
        seg.size() <= 3 ? "unknown_table" : "method_not_allowed",
        seg.size() <= 3 ? "no table '" + (seg.size() > 1 ? seg[1] : "") + "' in app " + app.app_id
                        : "static files are read-only");
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

void Server::Healthz(http::Session* s, uint64_t slot, const http::Request&) {
  Status h = log_->Health();
  http::ResponseHead head;
  head.headers.push_back({"content-type", "application/json"});
  std::string body;
  if (h.ok() && !shutting_down_) {
    body = "{\"status\":\"ok\",\"position\":" + std::to_string(log_->durable_head().value()) + "}";
  } else {
    head.status = 503;
    body = http::ErrorBody(h.ok() ? "shutting_down" : "storage_unavailable",
                           h.ok() ? "the server is shutting down" : h.ToString());
  }
  s->Respond(slot, head, body);
}

void Server::MetricsPage(http::Session* s, uint64_t slot, const http::Request&) {
  std::string m;
  auto line = [&m](const char* name, const char* type, const char* help, uint64_t v) {
    m += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
         name + " " + std::to_string(v) + "\n";
  };
  const rest::RestStats& rs = rest_->stats();
  line("eventide_connections", "gauge", "Open client connections.",
       listener_ ? listener_->connection_count() : 0);
  line("eventide_connections_total", "counter", "Connections accepted.",
       metrics_.connections_total);
  line("eventide_events_written_total", "counter", "Log entries made durable and applied.",
       rs.events_written);
  line("eventide_writes_failed_total", "counter", "Writes answered 503 after the log failed.",
       rs.writes_failed);
  line("eventide_writes_pending", "gauge", "Writes waiting to become durable.",
       rest_->pending_writes());
  line("eventide_log_durable_position", "gauge", "The log's durable head.",
       log_->durable_head().value());
  line("eventide_log_first_position", "gauge", "The oldest retained log position.",
       log_->first_position().value());
  line("eventide_log_healthy", "gauge", "1 while the log accepts writes.",
       log_->Health().ok() ? 1 : 0);
  line("eventide_records", "gauge", "Records in the projection.", projection_->record_count());
  line("eventide_checkpoints_written_total", "counter", "Projection checkpoints written.",
       checkpoints_written_);
  line("eventide_checkpoint_position", "gauge", "Position of the newest checkpoint.",
       checkpoint_position_);
  line("eventide_segments_deleted_total", "counter", "Log segments deleted by retention.",
       segments_deleted_);
  m += "# HELP eventide_write_latency_seconds Accept-to-durable time of writes.\n"
       "# TYPE eventide_write_latency_seconds summary\n";
  m += "eventide_write_latency_seconds_sum " +
       std::to_string(static_cast<double>(rs.write_latency_us_sum) / 1e6) + "\n";
  m += "eventide_write_latency_seconds_count " + std::to_string(rs.write_latency_count) + "\n";
  // The log's write path: fsync latency and group size histograms.
  const wal::LogStats ls = log_->Stats();
  auto histogram = [&m](const char* name, const char* help, const auto& bounds, const auto& buckets,
                        double sum, uint64_t count) {
    m += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " histogram\n";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds.size(); ++i) {
      cumulative += buckets[i];
      char le[32];
      std::snprintf(le, sizeof(le), "%g", static_cast<double>(bounds[i]));
      m += std::string(name) + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
    }
    cumulative += buckets[bounds.size()];
    m += std::string(name) + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
    char sum_text[64];
    std::snprintf(sum_text, sizeof(sum_text), "%.9g", sum);
    m += std::string(name) + "_sum " + sum_text + "\n";
    m += std::string(name) + "_count " + std::to_string(count) + "\n";
  };
  histogram("eventide_fsync_seconds", "Time of each fdatasync of the log.",
            wal::LogStats::kSyncBoundsSeconds, ls.sync_buckets, ls.sync_seconds_sum, ls.syncs);
  histogram("eventide_group_size", "Entries written per log batch (group commit size).",
            wal::LogStats::kGroupBounds, ls.group_buckets, static_cast<double>(ls.entries),
            ls.batches);
  line("eventide_log_bytes_written_total", "counter", "Bytes the log has written.",
       ls.bytes_written);
  // Real-time (SPEC section 10): subscribers by dialect, deliveries, cursor
  // lag, slow-consumer catch-ups, resets.
  const stream::StreamStats& ss = stream_ctx_.stats;
  m += "# HELP eventide_subscribers Open streams, by dialect.\n"
       "# TYPE eventide_subscribers gauge\n";
  // The compat dialects' streams are SSE streams and WebSocket connections
  // too: each is counted under its own dialect only.
  m += "eventide_subscribers{dialect=\"sse\"} " +
       std::to_string(ss.sse_streams - ss.ayb_streams - ss.snackbase_sse_streams) + "\n";
  m += "eventide_subscribers{dialect=\"ws\"} " +
       std::to_string(ss.ws_connections - ss.snackbase_ws_connections) + "\n";
  m += "eventide_subscribers{dialect=\"ayb\"} " + std::to_string(ss.ayb_streams) + "\n";
  m += "eventide_subscribers{dialect=\"snackbase\"} " +
       std::to_string(ss.snackbase_sse_streams + ss.snackbase_ws_connections) + "\n";
  line("eventide_subscriptions", "gauge", "Open subscriptions (topics followed).",
       ss.subscriptions);
  line("eventide_events_delivered_total", "counter", "Event frames sent to subscribers.",
       ss.events_delivered);
  line("eventide_retained_sent_total", "counter", "Retained records sent on connect.",
       ss.retained_sent);
  line("eventide_stream_resumes_total", "counter", "Subscriptions resumed from a position.",
       ss.resumes);
  line("eventide_stream_resets_total", "counter",
       "Reset notices (expired, unknown or malformed positions).", ss.resets);
  line("eventide_stream_catch_ups_total", "counter",
       "Log reads for subscribers behind the head (resumes and slow consumers).",
       hub_->catch_ups());
  const stream::Hub::Lag lag = hub_->lag();
  line("eventide_cursors_behind", "gauge", "Subscribers catching up from the log.", lag.behind);
  line("eventide_cursor_lag_max_entries", "gauge", "Entries between the head and the last cursor.",
       lag.max_entries);
  line("eventide_stream_stalled_closed_total", "counter",
       "Streams closed after stall_timeout without reading.", ss.stalled_closed);
  line("eventide_ws_pong_timeouts_total", "counter", "WebSocket connections closed without a Pong.",
       ss.ws_pong_timeouts);
  line("eventide_ws_protocol_closes_total", "counter",
       "WebSocket connections closed 1002, 1003, 1007 or 1009.", ss.ws_protocol_closes);
  line("eventide_stream_token_expired_total", "counter",
       "Streams ended because their token expired (SSE error event, WebSocket 4001).",
       ss.token_expired_closed);
  line("eventide_ws_client_errors_total", "counter",
       "WebSocket client messages answered with an error.", ss.ws_client_errors);
  if (hooks_ != nullptr) {
    const hooks::HookStats hs = hooks_->Stats();
    line("eventide_hook_deliveries_total", "counter", "Webhook deliveries answered with a 2xx.",
         hs.delivered);
    line("eventide_hook_failed_attempts_total", "counter",
         "Webhook attempts that failed (refused, timed out, non-2xx).", hs.failed_attempts);
    line("eventide_hook_retries_total", "counter", "Webhook attempts made after a failed one.",
         hs.retries);
    line("eventide_hook_gave_up_total", "counter",
         "Webhook deliveries abandoned after their last attempt or a final refusal.", hs.gave_up);
    line("eventide_hook_dropped_total", "counter",
         "Webhook deliveries dropped because the queue was full.", hs.dropped_queue_full);
    line("eventide_hook_queue_depth", "gauge", "Webhook deliveries waiting.", hs.queue_depth);
    line("eventide_hook_in_flight", "gauge", "Webhook attempts under way.", hs.in_flight);
  }
  // Error answers by code: the server's own and the REST service's.
  std::map<std::string, uint64_t> rejected = metrics_.rejected_by_code;
  for (auto& [code, n] : rs.rejected_by_code) rejected[code] += n;
  m += "# HELP eventide_rejected_requests_total Requests refused, by error code.\n"
       "# TYPE eventide_rejected_requests_total counter\n";
  for (auto& [code, n] : rejected) {
    m += "eventide_rejected_requests_total{code=\"" + code + "\"} " + std::to_string(n) + "\n";
  }
  http::ResponseHead head;
  head.headers.push_back({"content-type", "text/plain; version=0.0.4; charset=utf-8"});
  s->Respond(slot, head, m);
}

void Server::OnDurableAsync() {
  rest_->OnDurable(log_->durable_head(), log_->Health());
  if (!rest_->failure().ok() && !shutting_down_) {
    LogLine(LogLevel::kError, "log failed; writes are refused until restart",
            {{"error", rest_->failure().ToString()}});
  }
  MaybeCheckpoint();
  MaybeFinishShutdown();
}

void Server::MaybeCheckpoint() {
  if (checkpoint_running_ || handles_closed_ || !rest_->failure().ok()) return;
  const uint64_t applied = projection_->applied().value();
  const uint64_t log_bytes = log_->Stats().bytes_written;
  if (applied - checkpoint_position_ < options_.checkpoint_entries &&
      log_bytes - checkpoint_log_bytes_ < options_.checkpoint_bytes) {
    return;
  }
  if (applied == checkpoint_position_) return;
  checkpoint_log_bytes_ = log_bytes;
  // A checkpoint: snapshot on the loop (shares the records), write on the pool.
  struct Work {
    uv_work_t req;
    Server* server;
    std::shared_ptr<const projection::Snapshot> snap;
    std::string dir;
    uint64_t position;
    uint64_t bytes = 0;
    Status status;
    size_t deleted = 0;
    config::Retention retention;
    wal::Log* log;
  };
  auto* job = new Work;
  job->req.data = job;
  job->server = this;
  job->snap = projection_->TakeSnapshot();
  job->dir = checkpoint_dir_;
  job->position = applied;
  job->retention = options_.retention;
  job->log = log_.get();
  checkpoint_running_ = true;
  uv_queue_work(
      &loop_, &job->req,
      [](uv_work_t* req) {
        auto* work = static_cast<Work*>(req->data);
        work->status = projection::WriteCheckpoint(work->dir, *work->snap, &work->bytes);
        if (!work->status.ok()) return;
        // Retention (SPEC section 4): segments wholly before the checkpoint
        // and outside the retention window go. Unlimited by default.
        if (work->retention.bytes == 0 && work->retention.age_s == 0) return;
        wal::Position keep_from = RetentionStart(work->log, work->retention);
        wal::Position limit(std::min(keep_from.value(), work->position + 1));
        Status s = work->log->DeleteBefore(limit, &work->deleted);
        if (!s.ok()) work->status = s;
      },
      [](uv_work_t* req, int) {
        auto* work = static_cast<Work*>(req->data);
        Server* self = work->server;
        self->checkpoint_running_ = false;
        if (work->status.ok()) {
          self->checkpoint_position_ = work->position;
          ++self->checkpoints_written_;
          self->segments_deleted_ += work->deleted;
          LogLine(LogLevel::kInfo, "checkpoint written",
                  {{"position", work->position},
                   {"bytes", work->bytes},
                   {"segments_deleted", work->deleted}});
        } else {
          LogLine(LogLevel::kError, "checkpoint failed", {{"error", work->status.ToString()}});
        }
        delete work;
        // Writes that crossed a threshold while this one ran get theirs now,
        // not only when the next write comes.
        if (!self->shutting_down_) self->MaybeCheckpoint();
        self->MaybeFinishShutdown();
      });
}

void Server::BeginShutdown(const char* why) {
  if (shutting_down_) return;
  shutting_down_ = true;
  LogLine(LogLevel::kInfo, "shutting down",
          {{"signal", why}, {"pending_writes", rest_->pending_writes()}});
  listener_->StopAccepting();
  uv_timer_start(
      &shutdown_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Server*>(t->data);
        LogLine(LogLevel::kWarn, "shutdown grace period over; closing",
                {{"pending_writes", self->rest_->pending_writes()}});
        self->rest_->OnDurable(self->log_->durable_head(),
                               Status::Unavailable("the server is shutting down"));
        self->MaybeFinishShutdown();
      },
      kShutdownGraceMs, 0);
  MaybeFinishShutdown();
}

void Server::MaybeFinishShutdown() {
  if (!shutting_down_ || handles_closed_) return;
  // In-flight writes complete (and are answered) before connections close;
  // a checkpoint on the pool reads the log, which closes last.
  if (rest_->pending_writes() > 0 || checkpoint_running_) return;
  if (!sessions_.empty()) {
    // Streams say goodbye with a reconnect hint first.
    std::vector<HttpConnection*> conns;
    for (auto& [id, c] : sessions_) conns.push_back(c);
    for (HttpConnection* c : conns) c->Shutdown();
    listener_->CloseAll();
    return;  // each connection's OnClose calls back here
  }
  if (log_reads_in_flight_ > 0) return;  // their callbacks call back here
  handles_closed_ = true;
  listener_->CloseHandles();
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&shutdown_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&wake_check_), nullptr);
  // Close the log before the async handle its writer pokes: after a grace
  // timeout, entries may still be queued, and their listener call must not
  // find the handle closed. This waits for the writer (the loop is done).
  log_->Wake();
  log_.reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&durable_async_), nullptr);
  LogLine(LogLevel::kInfo, "stopped", {{"head", projection_->applied().value()}});
}

}  // namespace eventide::server
