// Server configuration (the --config file and flags) and app folders
// (config.yaml plus schema files, SPEC section 3). Every key and default is
// listed in docs/CONFIG.md. Errors name the file and line.
#ifndef EVENTIDE_SRC_CONFIG_CONFIG_H_
#define EVENTIDE_SRC_CONFIG_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "src/schema/schema.h"
#include "wal/status.h"

namespace eventide::config {

struct Cors {
  std::vector<std::string> origins;  // empty: no CORS headers; "*" allowed
};

// The field a record of a tenant app carries its writer's tenant in (server
// set, like __createdAt__; SPEC section 8).
inline constexpr std::string_view kTenantField = "__tenant__";

struct App {
  std::string dir;           // the app folder
  std::string name, app_id;  // app_id defaults to the folder name
  bool rest = true, sse = true, ws = true;
  std::vector<std::string> schema_files;  // as listed, relative to dir
  schema::Schema schema;
  std::string web_dir;  // dir/web when it exists, else ""
  Cors cors;
  std::string auth = "off";  // required|optional|off
  std::string tenant_claim;  // "" = none
  bool allow_query_token = true;
  std::map<std::string, std::string> hooks;  // hook name -> URL (SPEC section 9)
};

struct Limits {
  uint64_t header_bytes = 16 << 10;
  uint64_t body_bytes = 1 << 20;
  uint64_t max_connections = 10000;
  // Slowloris: a request must be complete this long after its first byte.
  uint64_t header_timeout_ms = 10000;
  // A kept-alive connection with nothing in flight closes after this.
  uint64_t idle_timeout_ms = 60000;
  uint64_t subscriptions_per_connection = 100;
  uint64_t output_bytes = 1 << 20;
  uint64_t stall_timeout_ms = 60000;
  uint64_t max_pipelined_requests = 64;
  // HTTP/2: streams one connection may have open at once
  // (SETTINGS_MAX_CONCURRENT_STREAMS); more are refused by RST_STREAM.
  uint64_t max_concurrent_streams = 128;
  // What one record may hold (docs/HTTP.md "Limits"), judged before it is
  // logged: an id's bytes (kept addressable: 3x, percent-encoded, fits in
  // header_bytes), the record as logged, any one top-level field's JSON
  // value, object members at every depth, and nesting.
  uint64_t id_bytes = 256;
  uint64_t record_bytes = 1 << 20;
  uint64_t field_bytes = 0;  // 0 = not set: record_bytes (see FieldBytes)
  uint64_t fields = 10000;
  uint64_t json_depth = 64;

  uint64_t FieldBytes() const { return field_bytes == 0 ? record_bytes : field_bytes; }
};

// The most a record may be (limits.record_bytes): an update under a read
// rule logs the record before it too, and a log entry holds 64 MiB.
inline constexpr uint64_t kMaxRecordBytes = 16ull << 20;
// The shortest limits.id_bytes: a generated id (a UUID) has 36.
inline constexpr uint64_t kMinIdBytes = 36;
// The deepest limits.json_depth: RapidJSON's DOM recurses per level.
inline constexpr uint64_t kMaxJsonDepth = 512;
// What a URL keeps for the rest of the request line and the headers when an
// id of id_bytes is percent-encoded into it (3 bytes per byte).
inline constexpr uint64_t kHeaderRoomBesidesId = 2048;

// Real-time stream timing (SPEC section 6).
struct Streams {
  uint64_t sse_retry_ms = 3000;             // the retry: an EventSource is told on connect
  uint64_t sse_ping_ms = 15000;             // SSE heartbeat (event: ping, no id)
  uint64_t ws_ping_ms = 5000;               // a WebSocket Ping frame this often
  uint64_t ws_pong_timeout_ms = 10000;      // closed when no Pong came for this long
  uint64_t ws_max_message_bytes = 1 << 20;  // a bigger client message closes 1009
  // The SnackBase dialect's heartbeat message, as its document says (30 s).
  uint64_t snackbase_heartbeat_ms = 30000;
};

struct Retention {
  uint64_t bytes = 0;  // keep at least this many bytes of log; 0 = no byte window
  uint64_t age_s = 0;  // keep entries younger than this; 0 = no age window
};

// The JetStream log backend (docs/CLUSTER.md).
struct Nats {
  std::string urls;                    // "nats://127.0.0.1:4222[,more]"
  std::string stream = "EVENTIDE";     // the stream; its subjects are STREAM.>
  uint64_t replicas = 3;               // the stream's replica count (1-5)
  uint64_t publish_timeout_ms = 5000;  // a publish without PubAck by then is sent again
};

struct Server {
  std::string apps_dir = "./apps";
  std::string data_dir = "./data";
  std::string listen = "127.0.0.1:9996";
  std::string tls = "auto";
  // "on": HTTP/2 beside HTTP/1.1 (ALPN h2 under TLS, prior knowledge in the
  // clear; docs/HTTP2.md). "off": HTTP/1.1 only.
  std::string http2 = "on";
  std::string fsync = "always";
  uint64_t segment_bytes = 64ull << 20;
  // The log backend: "wal" (embedded, this process alone) or "jetstream"
  // (several nodes share one NATS JetStream stream; `nats` says which).
  std::string log = "wal";
  Nats nats;
  // This node's name in /healthz, /metrics and the ids of its publishes
  // ("" = the host name).
  std::string node;
  // A checkpoint every this many entries; restart replays at most this many.
  uint64_t checkpoint_entries = 100000;
  // ... or every this many bytes of log, whichever comes first: bounds the
  // replay on restart for large records too.
  uint64_t checkpoint_bytes = 64ull << 20;
  Retention retention;
  Limits limits;
  Streams streams;
  std::string compat_app;          // the app the AYB/SnackBase dialects map to
  std::string jwt_secret;          // HS256 secret ("" = none)
  std::string jwt_public_key;      // a PEM file: RSA (RS256) or P-256 EC (ES256) public key
  uint64_t jwt_leeway_ms = 30000;  // clock skew allowed for exp and nbf
};

// Loads a server config YAML. Keys may be partial (the rest keep *out's
// values). Unknown keys, wrong types and bad values: InvalidArgument
// "FILE:LINE: reason".
Status LoadServerConfig(const std::string& path, Server* out);

// Loads every folder under apps_dir with a config.yaml, in name order.
// Folders without one are skipped (listed in *skipped). Duplicate app ids
// are an error.
Status LoadApps(const std::string& apps_dir, std::vector<App>* out,
                std::vector<std::string>* skipped = nullptr);

// "500ms", "15s", "30m", "1h", "2d", or a bare number of milliseconds.
Result<uint64_t> ParseDurationMs(std::string_view s);
// "4096", "64KiB", "64MiB", "1GiB", "1GB" (SI), "1MB".
Result<uint64_t> ParseBytes(std::string_view s);

}  // namespace eventide::config

#endif  // EVENTIDE_SRC_CONFIG_CONFIG_H_
