// eventide: the server binary. `eventide serve` runs the server (SPEC
// section 2); `eventide token` mints a development JWT. Only wiring here.
#include <rapidjson/document.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "src/auth/jwt_mint.h"
#include "src/common/json_text.h"
#include "src/common/logging.h"
#include "src/config/config.h"
#include "src/server/server.h"

namespace {

int Serve(const eventide::config::Server& options) {
  eventide::server::Server server(options);
  eventide::Status s = server.Start();
  if (!s.ok()) {
    eventide::LogLine(eventide::LogLevel::kError, "start-up failed", {{"error", s.ToString()}});
    std::fprintf(stderr, "eventide: %s\n", s.ToString().c_str());
    return 1;
  }
  server.Run();
  return 0;
}

// A claim value: JSON literals (numbers, true/false/null) as themselves,
// anything else as a string.
void AppendClaimValue(const std::string& v, std::string* out) {
  rapidjson::Document d;
  d.Parse(v.c_str(), v.size());
  if (!d.HasParseError() && (d.IsNumber() || d.IsBool() || d.IsNull())) {
    out->append(v);
  } else {
    eventide::AppendJsonString(v, out);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Eventide: an event-sourced stream server"};
  app.set_version_flag("--version", "eventide " EVENTIDE_VERSION);
  app.require_subcommand(1);

  eventide::config::Server options;
  std::string config_file;
  CLI::App* serve = app.add_subcommand("serve", "Run the server");
  serve->add_option("--config", config_file, "Server config file (YAML)");
  auto* apps_opt =
      serve->add_option("--apps", options.apps_dir, "Apps directory")->capture_default_str();
  auto* data_opt =
      serve->add_option("--data", options.data_dir, "Data directory")->capture_default_str();
  auto* listen_opt = serve->add_option("--listen", options.listen, "HOST:PORT to listen on")
                         ->capture_default_str();
  auto* tls_opt =
      serve->add_option("--tls", options.tls, "auto|off|CERT,KEY")->capture_default_str();
  auto* http2_opt = serve->add_option("--http2", options.http2, "on|off: HTTP/2 beside HTTP/1.1")
                        ->capture_default_str();
  auto* fsync_opt =
      serve->add_option("--fsync", options.fsync, "always|batch:MS|never")->capture_default_str();
  auto* log_opt = serve->add_option("--log", options.log, "wal|jetstream (docs/CLUSTER.md)")
                      ->capture_default_str();
  auto* nats_opt =
      serve->add_option("--nats", options.nats.urls, "NATS URLs for --log jetstream, comma-separated");
  auto* stream_opt = serve->add_option("--stream", options.nats.stream, "JetStream stream name")
                         ->capture_default_str();
  auto* replicas_opt =
      serve->add_option("--replicas", options.nats.replicas, "The stream's replica count")
          ->capture_default_str();
  auto* node_opt = serve->add_option("--node", options.node, "This node's name (default: host name)");

  std::string secret, sub, ttl = "1h";
  std::vector<std::string> claims;
  CLI::App* token = app.add_subcommand("token", "Mint an HS256 JWT for development");
  token->add_option("--secret", secret, "HS256 shared secret")->required();
  token->add_option("--sub", sub, "Subject (user id)")->required();
  token->add_option("--claim", claims, "Extra claim k=v (repeatable)");
  token->add_option("--ttl", ttl, "Lifetime, e.g. 15m, 1h, 7d")->capture_default_str();

  // A flag given twice takes its last value, so scripts can append overrides.
  for (CLI::Option* o : {apps_opt, data_opt, listen_opt, tls_opt, http2_opt, fsync_opt, log_opt, nats_opt,
                         stream_opt, replicas_opt, node_opt}) {
    o->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }

  CLI11_PARSE(app, argc, argv);

  if (*serve) {
    if (!config_file.empty()) {
      // The file first, then flags given on the command line override it.
      eventide::config::Server from_file;
      eventide::Status s = eventide::config::LoadServerConfig(config_file, &from_file);
      if (!s.ok()) {
        std::fprintf(stderr, "eventide: %s\n", s.ToString().c_str());
        return 1;
      }
      eventide::config::Server flags = options;
      options = from_file;
      if (apps_opt->count()) options.apps_dir = flags.apps_dir;
      if (data_opt->count()) options.data_dir = flags.data_dir;
      if (listen_opt->count()) options.listen = flags.listen;
      if (tls_opt->count()) options.tls = flags.tls;
      if (http2_opt->count()) options.http2 = flags.http2;
      if (fsync_opt->count()) options.fsync = flags.fsync;
      if (log_opt->count()) options.log = flags.log;
      if (nats_opt->count()) options.nats.urls = flags.nats.urls;
      if (stream_opt->count()) options.nats.stream = flags.nats.stream;
      if (replicas_opt->count()) options.nats.replicas = flags.nats.replicas;
      if (node_opt->count()) options.node = flags.node;
    }
    return Serve(options);
  }

  auto ttl_ms = eventide::config::ParseDurationMs(ttl);
  if (!ttl_ms.ok()) {
    std::fprintf(stderr, "eventide token: --ttl: %s\n", ttl_ms.status().message().c_str());
    return 2;
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::string c = "{\"sub\":";
  eventide::AppendJsonString(sub, &c);
  c += ",\"iat\":" + std::to_string(now);
  c += ",\"exp\":" + std::to_string(now + static_cast<int64_t>(ttl_ms.value() / 1000));
  for (const std::string& kv : claims) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "eventide token: --claim must be k=v, got '%s'\n", kv.c_str());
      return 2;
    }
    c += ',';
    eventide::AppendJsonString(kv.substr(0, eq), &c);
    c += ':';
    AppendClaimValue(kv.substr(eq + 1), &c);
  }
  c += '}';
  std::printf("%s\n", eventide::auth::MintHs256(secret, c).c_str());
  return 0;
}
