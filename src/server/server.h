// `eventide serve`: wires the log, the projection, the apps and the network
// together on one libuv loop (SPEC section 2).
//
// Threads: the loop thread owns connections, sessions, the REST service and
// the projection; the log's writer thread writes and syncs and wakes the loop
// through a uv_async; the libuv pool writes checkpoints and deletes segments.
#ifndef EVENTIDE_SRC_SERVER_SERVER_H_
#define EVENTIDE_SRC_SERVER_SERVER_H_

#include <uv.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "src/auth/jwt.h"
#include "src/config/config.h"
#include "src/dialects/compat.h"
#include "src/eventlog/event_log.h"
#include "src/hooks/dispatcher.h"
#include "src/http/session.h"
#include "src/http/static_file.h"
#include "src/net/connection.h"
#include "src/net/tls.h"
#include "src/projection/projection.h"
#include "src/rest/service.h"
#include "src/stream/hub.h"
#include "src/stream/stream.h"
#include "src/stream/ws_stream.h"
#include "wal/log.h"

namespace eventide::server {

class Server final : public http::RequestHandler,
                     public stream::WsHost,
                     public eventlog::EventLog::Listener {
 public:
  explicit Server(config::Server options);
  ~Server() override;

  // Loads apps, opens and recovers the log and the projection, sets up TLS
  // and listens. Errors are start-up errors (the caller prints and exits).
  Status Start();
  // Runs the loop until a graceful shutdown (SIGINT/SIGTERM) completes.
  void Run();
  // The bound port (with a :0 listen address).
  int port() const;

  void OnRequest(http::Exchange* session, uint64_t slot, http::Request& request) override;
  bool MayRunAhead(const http::Request& request) const override;

  // What answers requests of connection `id`: its HTTP session, or the
  // WebSocket stream that took it over. nullptr when it is gone.
  http::Responder* FindResponder(uint64_t id) const;

  // stream::WsHost
  bool ResolveTopic(const std::string& app, std::string_view name, stream::ResolvedTopic* out,
                    std::string* code, std::string* message) override;
  bool VerifyToken(const std::string& app, std::string_view token,
                   stream::TokenCheck* out) override;
  void Write(http::Responder* responder, uint64_t slot, std::string_view method,
             const stream::Topic& table, const std::string& id, std::string body,
             const policy::Principal& who) override;
  void Publish(http::Responder* responder, uint64_t slot, const stream::Topic& topic,
               std::string data_json, const policy::Principal& who) override;

 private:
  class Conn;
  class StreamSlot;
  class HttpConnection;
  class H2Connection;
  class ProtocolSwitch;
  class PoolLogSource;
  struct Metrics {
    std::map<std::string, uint64_t> rejected_by_code;
    uint64_t connections_total = 0;
    uint64_t http1_connections_total = 0;
    uint64_t h2_connections_total = 0;
    uint64_t h2_event_streams_total = 0;  // HTTP/2 streams that became event streams
  };

  // The token a request presents, checked against the app's `auth` (SPEC
  // section 8): from Authorization: Bearer, Sec-WebSocket-Protocol (an
  // upgrade) or ?token=. Not ok: answer `status` with `code`.
  struct AuthResult {
    bool ok = true;
    int status = 401;
    std::string code, message;
    bool anonymous = true;
    auth::Claims claims;
    std::string ws_protocol;  // the Sec-WebSocket-Protocol entry that held the token
  };
  // Queues `hook` of `app` with `data_json` when the app maps it to a URL.
  void EmitHook(const config::App& app, std::string_view hook, std::string data_json);
  // The real-time hooks of a stream's connection (docs/HOOKS.md).
  void EmitStreamHook(std::string_view hook, stream::StreamTransport* t, std::string_view topic,
                      std::string_view message_json);
  // Who `a` says the request acts for, as read and write rules see it.
  static policy::Principal PrincipalOf(const AuthResult& a);

  Status LoadStaticFiles();
  void ServeStatic(http::Exchange* s, uint64_t slot, const http::Request& req,
                   const config::App& app, const std::vector<std::string>& segments);
  // SSE on a table or record URL; false when the request is not one.
  // `auth`: its token (the stream ends when it expires; read rules are
  // bound to it).
  bool MaybeStartSse(http::Exchange* s, uint64_t slot, const http::Request& req,
                     const config::App& app, const schema::Table& table,
                     const std::vector<std::string>& segments, const AuthResult& auth);
  // A WebSocket upgrade (RFC 6455 section 4.2): the handshake's checks, then
  // 101 and a WsStream. Every refusal closes the connection.
  void StartWebSocket(http::Exchange* s, uint64_t slot, const http::Request& req,
                      const std::vector<std::string>& segments);
  // The handshake steps every WebSocket endpoint shares, in this order: the
  // upgrade (an Upgrade naming websocket, a GET); the endpoint's own checks
  // (app, table, token); the handshake (Sec-WebSocket-Version 13, a valid
  // Sec-WebSocket-Key, the server not shutting down); then 101. The checks
  // answer false after refusing; the parser stops at an upgrade, so a
  // refused one cannot go on as HTTP: every refusal closes.
  void RefuseUpgrade(http::Exchange* s, uint64_t slot, int status, std::string_view code,
                     std::string_view message, bool version_header = false);
  bool CheckUpgrade(http::Exchange* s, uint64_t slot, const http::Request& req);
  bool CheckHandshake(http::Exchange* s, uint64_t slot, const http::Request& req);
  void AcceptWebSocket(http::Exchange* s, uint64_t slot, const http::Request& req,
                       const std::string& ws_protocol);
  AuthResult Authenticate(const config::App& app, const http::Request& req) const;
  // When a stream opened with `a` must end (wall ms; 0 = never): the token's
  // exp plus the leeway.
  int64_t AuthDeadline(const AuthResult& a) const;
  // Answers a failed AuthResult (401 with WWW-Authenticate).
  void RespondAuthError(http::Exchange* s, uint64_t slot, const config::App& app,
                        const http::Request& req, const AuthResult& a, bool close);
  // POST /{app}/graphql with Accept: text/event-stream (docs/GRAPHQL.md).
  void StartGraphql(http::Exchange* s, uint64_t slot, const http::Request& req,
                    const config::App& app, const AuthResult& auth);
  // The compatibility dialects (SPEC section 7, docs/DIALECTS.md): every
  // path under /api/ (compat.cc). Set up after the hub: the compat app and
  // the dialects' hub formats; an unknown compat_app is a start-up error.
  Status SetUpCompat();
  void HandleCompat(http::Exchange* s, uint64_t slot, const http::Request& req,
                    const std::vector<std::string>& segments);
  void StartCompatSse(http::Exchange* s, uint64_t slot, const http::Request& req, bool ayb);
  void StartSnackbaseWs(http::Exchange* s, uint64_t slot, const http::Request& req);
  // Where a stream answered on request `slot` of `s` would write (the
  // HTTP/1.1 connection, or the HTTP/2 stream); null when it is gone.
  StreamSlot* SlotFor(http::Exchange* s, uint64_t slot);
  const config::App* FindApp(std::string_view app_id) const;
  bool WritableTable(http::Responder* r, uint64_t slot, const stream::Topic& topic,
                     const config::App** app, const schema::Table** table);
  void Healthz(http::Exchange* s, uint64_t slot, const http::Request& req);
  void MetricsPage(http::Exchange* s, uint64_t slot, const http::Request& req);
  void RespondError(http::Exchange* s, uint64_t slot, int status, std::string_view code,
                    std::string_view message);
  // 405 method_not_allowed with the Allow header RFC 9110 requires.
  void RespondMethodNotAllowed(http::Exchange* s, uint64_t slot, std::string_view allow,
                               std::string_view message);
  // EventLog::Listener.
  void OnLogDurable() override;
  void OnLogOutcomes(std::vector<eventlog::Outcome>* outcomes) override;
  // Opens the log backend options_.log names (the WAL, or JetStream).
  Status OpenLog();
  // options_.node, or the host name.
  std::string NodeName() const;
  void MaybeCheckpoint();
  void BeginShutdown(const char* why);
  void MaybeFinishShutdown();

  config::Server options_;
  std::string node_;  // NodeName(), once
  std::vector<config::App> apps_;
  std::unordered_map<std::string, http::StaticFile> static_files_;  // "/app/path" -> file
  uv_loop_t loop_;
  bool loop_open_ = false;
  uv_signal_t sigint_;
  uv_signal_t sigterm_;
  uv_timer_t shutdown_timer_;
  uv_check_t wake_check_;  // end of each loop turn: flush the turn's appends
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<projection::Projection> projection_;
  std::unique_ptr<rest::Service> rest_;
  // Real-time: the cursors, and the log reads of those behind the head (on
  // the libuv pool; counted so the log outlives them at shutdown).
  std::unique_ptr<PoolLogSource> log_source_;
  std::unique_ptr<stream::Hub> hub_;
  stream::StreamContext stream_ctx_;
  int log_reads_in_flight_ = 0;
  // Streams waiting for this node to apply a position another node gave
  // out (StreamContext::when_applied), by that position.
  struct AppliedWaiter {
    uint64_t deadline_ms = 0;  // loop time; 0: none
    std::function<void(bool reached)> then;
  };
  std::multimap<uint64_t, AppliedWaiter> applied_waiters_;
  uv_timer_t waiter_timer_;  // expires waiters past their deadline
  bool waiter_timer_open_ = false;
  void RunAppliedWaiters(bool expire);
  // One hub format per distinct GraphQL selection (Plan::key).
  std::unordered_map<std::string, size_t> graphql_formats_;
  // The compat app (null when compat_app is unset) and its dialects' formats.
  std::unique_ptr<dialects::CompatApp> compat_;
  struct CompatFormats {
    size_t ayb = 0, snackbase_sse = 0, snackbase_ws = 0;
  } compat_formats_;
  std::unique_ptr<auth::Verifier> verifier_;  // null when no key is configured
  // Webhooks (SPEC section 9): null when no app has hooks.
  std::unique_ptr<hooks::Dispatcher> hooks_;
  std::unique_ptr<net::TlsContext> tls_;
  std::unique_ptr<net::Listener> listener_;
  std::unordered_map<uint64_t, Conn*> sessions_;  // by connection id, either protocol
  // Connections whose first bytes have not yet told their protocol.
  std::unordered_set<ProtocolSwitch*> undecided_;
  Metrics metrics_;
  bool shutting_down_ = false;
  bool handles_closed_ = false;
  // Checkpoints: one at a time, on the libuv pool.
  bool checkpoint_running_ = false;
  uint64_t checkpoint_position_ = 0;   // last written (or recovered)
  uint64_t checkpoint_log_bytes_ = 0;  // the log's bytes_written at the last checkpoint
  uint64_t checkpoints_written_ = 0;
  uint64_t segments_deleted_ = 0;
  std::string checkpoint_dir_;
};

}  // namespace eventide::server

#endif  // EVENTIDE_SRC_SERVER_SERVER_H_
