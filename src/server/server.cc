// Server start-up and lifecycle: open the log, recover the projection, set up
// the hub, TLS and the listener; run; shut down gracefully. The other rooms of
// `Server`: routing.cc, auth.cc, streams.cc, compat.cc, metrics.cc,
// checkpoints.cc, log_source.cc.
#include "src/server/server.h"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "src/common/logging.h"
#include "src/common/time.h"
#include "src/hooks/dispatcher.h"
#include "src/hooks/envelope.h"
#include "src/net/cert.h"
#include "src/projection/checkpoint.h"
#include "src/server/h2_connection.h"
#include "src/server/http_connection.h"
#include "src/server/pool_log_source.h"
#include "src/stream/formats.h"

namespace eventide::server {
namespace {

// How long a graceful shutdown waits for writes in flight before giving up.
constexpr uint64_t kShutdownGraceMs = 10000;

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

}  // namespace

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
  return it == sessions_.end() ? nullptr : it->second->responder();
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

  s = OpenLog();
  if (!s.ok()) return s;

  // The projection: newest checkpoint plus the log after it.
  checkpoint_dir_ = options_.data_dir + "/checkpoints";
  std::filesystem::create_directories(checkpoint_dir_, ec);
  projection_ = std::make_unique<projection::Projection>();
  projection::RecoveryReport pr;
  s = projection::Recover(checkpoint_dir_, log_->local(), projection_.get(), &pr);
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

  // TLS, offering h2 by ALPN when HTTP/2 is on.
  if (options_.http2 != "on" && options_.http2 != "off") {
    return Status::InvalidArgument("--http2 must be on or off; got " + options_.http2);
  }
  const bool offer_h2 = options_.http2 == "on";
  if (options_.tls == "auto") {
    std::string cert, key;
    bool generated = false;
    s = net::EnsureSelfSignedCertificate(options_.data_dir, &cert, &key, &generated);
    if (!s.ok()) return s;
    if (generated)
      LogLine(LogLevel::kInfo, "generated a self-signed certificate", {{"cert", cert}});
    auto ctx = net::TlsContext::Load(cert, key, offer_h2);
    if (!ctx.ok()) return ctx.status();
    tls_ = std::move(ctx).value();
  } else if (options_.tls != "off") {
    size_t comma = options_.tls.find(',');
    if (comma == std::string::npos) {
      return Status::InvalidArgument("--tls must be auto, off or CERT,KEY; got " + options_.tls);
    }
    auto ctx = net::TlsContext::Load(options_.tls.substr(0, comma), options_.tls.substr(comma + 1),
                                     offer_h2);
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
  stream_ctx_.first_retained = [this] { return log_->local()->first_position(); };
  if (log_->kind() != "wal") {
    stream_ctx_.known_head = [this] { return log_->known_head(); };
    stream_ctx_.when_applied = [this](wal::Position p, uint64_t wait_ms,
                                      std::function<void(bool)> then) {
      AppliedWaiter w;
      w.deadline_ms = wait_ms == 0 ? 0 : uv_now(&loop_) + wait_ms;
      w.then = std::move(then);
      // Beyond what this node knows: ask the stream how far it goes.
      if (wait_ms != 0) log_->RefreshKnownHead();
      applied_waiters_.emplace(p.value(), std::move(w));
    };
    waiter_timer_.data = this;
    uv_timer_init(&loop_, &waiter_timer_);
    waiter_timer_open_ = true;
    uv_timer_start(
        &waiter_timer_,
        [](uv_timer_t* t) { static_cast<Server*>(t->data)->RunAppliedWaiters(true); }, 250, 250);
    uv_unref(reinterpret_cast<uv_handle_t*>(&waiter_timer_));
  }
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
  s = log_->Start(&loop_, this);
  if (!s.ok()) return s;
  wake_check_.data = this;
  uv_check_init(&loop_, &wake_check_);
  uv_check_start(&wake_check_, [](uv_check_t* c) {
    auto* self = static_cast<Server*>(c->data);
    self->log_->Flush();
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
  // With HTTP/2 on, a connection's first bytes pick its protocol (the h2
  // client preface, whether ALPN chose h2 or the client knew); off, every
  // connection is HTTP/1.1 from its first byte.
  const bool h2 = options_.http2 == "on";
  listener_ = std::make_unique<net::Listener>(
      &loop_, nl, [this, h2](net::Connection* c) -> std::unique_ptr<net::ConnectionHandler> {
        if (h2) return std::make_unique<ProtocolSwitch>(this, c);
        return std::make_unique<HttpConnection>(this, c);
      });
  s = listener_->Start();
  if (!s.ok()) return s;
  LogLine(LogLevel::kInfo, "listening",
          {{"addr", nl.host + ":" + std::to_string(listener_->port())},
           {"tls", tls_ ? "on" : "off"},
           {"http2", options_.http2},
           {"fsync", options_.fsync},
           {"log", std::string(log_->kind())},
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

void Server::Run() { uv_run(&loop_, UV_RUN_DEFAULT); }

void Server::OnLogOutcomes(std::vector<eventlog::Outcome>* outcomes) {
  rest_->OnOutcomes(outcomes);
  MaybeFinishShutdown();
}

void Server::OnLogDurable() {
  rest_->OnDurable(log_->durable_head(), log_->Health());
  if (!applied_waiters_.empty()) RunAppliedWaiters(false);
  if (!rest_->failure().ok() && !shutting_down_) {
    LogLine(LogLevel::kError, "log failed; writes are refused until restart",
            {{"error", rest_->failure().ToString()}});
  }
  MaybeCheckpoint();
  MaybeFinishShutdown();
}

void Server::RunAppliedWaiters(bool expire) {
  const uint64_t applied = projection_->applied().value();
  std::vector<std::pair<bool, std::function<void(bool)>>> run;
  for (auto it = applied_waiters_.begin(); it != applied_waiters_.end();) {
    const bool reached = it->first <= applied;
    bool late = expire && it->second.deadline_ms != 0 && uv_now(&loop_) >= it->second.deadline_ms;
    if (late && !reached && it->first <= log_->known_head().value()) {
      // The stream does hold it: this node will get there; wait on.
      it->second.deadline_ms = 0;
      late = false;
    }
    if (!reached && !late) {
      if (!expire) break;  // ordered by position: the rest are further
      ++it;
      continue;
    }
    run.emplace_back(reached, std::move(it->second.then));
    it = applied_waiters_.erase(it);
  }
  for (auto& [reached, then] : run) then(reached);
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
  if (!sessions_.empty() || !undecided_.empty()) {
    // Streams say goodbye with a reconnect hint first.
    std::vector<Conn*> conns;
    for (auto& [id, c] : sessions_) conns.push_back(c);
    for (Conn* c : conns) c->Shutdown();
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
  if (waiter_timer_open_) uv_close(reinterpret_cast<uv_handle_t*>(&waiter_timer_), nullptr);
  // After a grace timeout entries may still be queued: Close waits for
  // them and closes the handles the log's threads poke.
  log_->Close();
  LogLine(LogLevel::kInfo, "stopped", {{"head", projection_->applied().value()}});
}

}  // namespace eventide::server
