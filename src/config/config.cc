#include "src/config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>

#include "src/policy/policy.h"

namespace eventide::config {
namespace {

std::string At(const std::string& file, const YAML::Node& n) {
  return file + ":" + std::to_string(n.Mark().line + 1);
}

Status Bad(const std::string& file, const YAML::Node& n, const std::string& reason) {
  return Status::InvalidArgument(At(file, n) + ": " + reason);
}

Status ReadText(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return Status::OK();
}

Status LoadYaml(const std::string& path, YAML::Node* out) {
  std::string text;
  Status s = ReadText(path, &text);
  if (!s.ok()) return s;
  try {
    *out = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws; the exception stops here.
    return Status::InvalidArgument(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (out->IsNull()) *out = YAML::Node(YAML::NodeType::Map);
  if (!out->IsMap()) return Bad(path, *out, "expected a mapping of keys to values");
  return Status::OK();
}

// Typed getters: each checks the node's kind and names file:line on error.
Status GetString(const std::string& file, const YAML::Node& n, const std::string& key,
                 std::string* out) {
  if (!n.IsScalar()) return Bad(file, n, "'" + key + "' must be a string");
  *out = n.Scalar();
  return Status::OK();
}

Status GetBool(const std::string& file, const YAML::Node& n, const std::string& key, bool* out) {
  if (n.IsScalar()) {
    const std::string& v = n.Scalar();
    if (v == "true" || v == "yes" || v == "on") {
      *out = true;
      return Status::OK();
    }
    if (v == "false" || v == "no" || v == "off") {
      *out = false;
      return Status::OK();
    }
  }
  return Bad(file, n, "'" + key + "' must be true or false");
}

Status GetUint(const std::string& file, const YAML::Node& n, const std::string& key,
               uint64_t* out) {
  if (n.IsScalar()) {
    const std::string& v = n.Scalar();
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
    if (ec == std::errc() && p == v.data() + v.size()) return Status::OK();
  }
  return Bad(file, n, "'" + key + "' must be a non-negative integer");
}

Status GetBytes(const std::string& file, const YAML::Node& n, const std::string& key,
                uint64_t* out) {
  if (n.IsScalar()) {
    auto r = ParseBytes(n.Scalar());
    if (r.ok()) {
      *out = r.value();
      return Status::OK();
    }
  }
  return Bad(file, n, "'" + key + "' must be a size such as 4096, 64KiB or 1GiB");
}

Status GetDurationMs(const std::string& file, const YAML::Node& n, const std::string& key,
                     uint64_t* out) {
  if (n.IsScalar()) {
    auto r = ParseDurationMs(n.Scalar());
    if (r.ok()) {
      *out = r.value();
      return Status::OK();
    }
  }
  return Bad(file, n, "'" + key + "' must be a duration such as 500ms, 15s, 1h or 7d");
}

using KeyHandler = std::function<Status(const YAML::Node& value, const std::string& key)>;

// Runs the handler of each key of `map`; an unknown key is an error that
// lists the known ones.
Status ForEachKey(const std::string& file, const YAML::Node& map, const std::string& where,
                  const std::map<std::string, KeyHandler>& handlers) {
  if (!map.IsMap()) return Bad(file, map, where + " must be a mapping");
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::string key = it->first.Scalar();
    auto h = handlers.find(key);
    if (h == handlers.end()) {
      std::string known;
      for (auto& [k, v] : handlers) known += (known.empty() ? "" : ", ") + k;
      return Bad(file, it->first,
                 "unknown key '" + key + "' in " + where + " (known: " + known + ")");
    }
    Status s = h->second(it->second, key);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

// `line`: where app_id was set (1 when it defaults to the folder name).
Status ValidateAppId(const std::string& file, int line, const std::string& id) {
  auto bad = [&](const std::string& reason) {
    return Status::InvalidArgument(file + ":" + std::to_string(line) + ": " + reason);
  };
  if (id.empty() || id.size() > 64) return bad("app_id must be 1 to 64 characters");
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return bad("app_id '" + id + "' may only hold letters, digits, '-', '_' and '.'");
    }
  }
  if (id == "api" || id == "healthz" || id == "metrics") {
    return bad("app_id '" + id + "' is reserved for the server's own endpoints");
  }
  return Status::OK();
}

// Compiles each table's @policy, and'ed with the app's tenant rule, into
// read_rule / write_rule (SPEC section 8). Errors name the schema file, the
// line of @policy, the type, the rule and the column.
Status CompileRules(const std::string& config_file, App* app) {
  std::shared_ptr<const policy::Policy> tenant;
  if (!app->tenant_claim.empty()) {
    auto t = policy::Policy::Parse(std::string(kTenantField) + " = $auth." + app->tenant_claim,
                                   [](std::string_view n) { return n == kTenantField; });
    if (!t.ok()) {
      return Status::InvalidArgument(config_file + ": tenant_claim '" + app->tenant_claim +
                                     "' must be a claim name ([A-Za-z_][A-Za-z0-9_]*)");
    }
    tenant = *t;
  }
  for (schema::Table& table : app->schema.tables) {
    auto is_field = [&table](std::string_view n) { return table.FindField(n) != nullptr; };
    std::shared_ptr<const policy::Policy> rules[2];
    const std::string* texts[2] = {&table.policy_read, &table.policy_write};
    for (int i = 0; i < 2; ++i) {
      if (texts[i]->empty()) continue;
      auto r = policy::Policy::Parse(*texts[i], is_field);
      if (!r.ok()) {
        return Status::InvalidArgument(table.file + ":" + std::to_string(table.policy_line) +
                                       ": type " + table.name + ": @policy(" +
                                       (i == 0 ? "read" : "write") + ": \"" + *texts[i] + "\") " +
                                       r.status().message());
      }
      rules[i] = *r;
    }
    table.read_rule = policy::Policy::And(tenant, rules[0]);
    table.write_rule = policy::Policy::And(tenant, rules[1]);
  }
  return Status::OK();
}

Status LoadApp(const std::filesystem::path& dir, App* app) {
  const std::string file = (dir / "config.yaml").string();
  YAML::Node root;
  Status s = LoadYaml(file, &root);
  if (!s.ok()) return s;
  app->dir = dir.string();
  app->app_id = dir.filename().string();
  // Where app_id is set, for its error (a YAML::Node cannot be kept: its
  // assignment writes through to the document).
  int id_line = 1;
  static const std::set<std::string> kHooks = {"on_realtime_connect",   "on_realtime_disconnect",
                                               "on_realtime_subscribe", "on_realtime_unsubscribe",
                                               "on_realtime_message",   "on_write"};
  std::map<std::string, KeyHandler> h = {
      {"name", [&](const YAML::Node& v,
                   const std::string& k) { return GetString(file, v, k, &app->name); }},
      {"app_id",
       [&](const YAML::Node& v, const std::string& k) {
         id_line = v.Mark().line + 1;
         return GetString(file, v, k, &app->app_id);
       }},
      {"rest",
       [&](const YAML::Node& v, const std::string& k) { return GetBool(file, v, k, &app->rest); }},
      {"sse",
       [&](const YAML::Node& v, const std::string& k) { return GetBool(file, v, k, &app->sse); }},
      {"ws",
       [&](const YAML::Node& v, const std::string& k) { return GetBool(file, v, k, &app->ws); }},
      {"schemas",
       [&](const YAML::Node& v, const std::string& k) -> Status {
         if (!v.IsSequence()) return Bad(file, v, "'schemas' must be a list of files");
         for (const YAML::Node& item : v) {
           std::string f;
           Status st = GetString(file, item, k, &f);
           if (!st.ok()) return st;
           app->schema_files.push_back(f);
         }
         return Status::OK();
       }},
      {"cors",
       [&](const YAML::Node& v, const std::string&) -> Status {
         return ForEachKey(file, v, "cors",
                           {{"origins", [&](const YAML::Node& o, const std::string& k) -> Status {
                               if (o.IsScalar()) {
                                 app->cors.origins.push_back(o.Scalar());
                                 return Status::OK();
                               }
                               if (!o.IsSequence()) return Bad(file, o, "'origins' must be a list");
                               for (const YAML::Node& item : o) {
                                 std::string origin;
                                 Status st = GetString(file, item, k, &origin);
                                 if (!st.ok()) return st;
                                 app->cors.origins.push_back(origin);
                               }
                               return Status::OK();
                             }}});
       }},
      {"auth",
       [&](const YAML::Node& v, const std::string& k) -> Status {
         Status st = GetString(file, v, k, &app->auth);
         if (!st.ok()) return st;
         if (app->auth != "required" && app->auth != "optional" && app->auth != "off") {
           return Bad(file, v, "'auth' must be required, optional or off");
         }
         return Status::OK();
       }},
      {"tenant_claim",
       [&](const YAML::Node& v, const std::string& k) {
         return GetString(file, v, k, &app->tenant_claim);
       }},
      {"allow_query_token",
       [&](const YAML::Node& v, const std::string& k) {
         return GetBool(file, v, k, &app->allow_query_token);
       }},
      {"hooks",
       [&](const YAML::Node& v, const std::string&) -> Status {
         if (!v.IsMap()) return Bad(file, v, "'hooks' must map hook names to URLs");
         for (auto it = v.begin(); it != v.end(); ++it) {
           std::string name = it->first.Scalar();
           if (!kHooks.count(name)) return Bad(file, it->first, "unknown hook '" + name + "'");
           std::string url;
           Status st = GetString(file, it->second, name, &url);
           if (!st.ok()) return st;
           if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
             return Bad(file, it->second, "hook '" + name + "' must be an http(s) URL");
           }
           app->hooks[name] = url;
         }
         return Status::OK();
       }},
  };
  s = ForEachKey(file, root, "config.yaml", h);
  if (!s.ok()) return s;
  s = ValidateAppId(file, id_line, app->app_id);
  if (!s.ok()) return s;
  if (app->name.empty()) app->name = app->app_id;
  if (app->schema_files.empty()) {
    return Status::InvalidArgument(file + ":1: 'schemas' must list at least one schema file");
  }
  for (const std::string& rel : app->schema_files) {
    std::filesystem::path p = dir / rel;
    std::string text;
    s = ReadText(p.string(), &text);
    if (!s.ok()) return Status::InvalidArgument(file + ": schema file " + rel + " not found");
    s = schema::ParseSchema(text, p.string(), &app->schema);
    if (!s.ok()) return s;
  }
  s = CompileRules(file, app);
  if (!s.ok()) return s;
  std::error_code ec;
  if (std::filesystem::is_directory(dir / "web", ec)) app->web_dir = (dir / "web").string();
  return Status::OK();
}

// The record limits (docs/HTTP.md "Limits"): each one set, and together
// ones a record can meet. Resolves an unset field_bytes to record_bytes.
Status CheckRecordLimits(const std::string& f, Limits* l) {
  if (l->id_bytes == 0 || l->record_bytes == 0 || l->fields == 0 || l->json_depth == 0) {
    return Status::InvalidArgument(
        f + ": limits.id_bytes, record_bytes, fields and json_depth must be > 0");
  }
  if (l->id_bytes < kMinIdBytes) {
    return Status::InvalidArgument(f + ": limits.id_bytes is " + std::to_string(l->id_bytes) +
                                   "; at least " + std::to_string(kMinIdBytes) +
                                   " (a generated id is a 36-byte UUID)");
  }
  if (l->record_bytes > kMaxRecordBytes) {
    return Status::InvalidArgument(f + ": limits.record_bytes is " +
                                   std::to_string(l->record_bytes) + "; at most " +
                                   std::to_string(kMaxRecordBytes) +
                                   " (16MiB: an update can log a record twice, in one entry)");
  }
  if (l->field_bytes == 0) l->field_bytes = l->record_bytes;
  if (l->field_bytes > l->record_bytes) {
    return Status::InvalidArgument(f + ": limits.field_bytes (" + std::to_string(l->field_bytes) +
                                   ") is more than limits.record_bytes (" +
                                   std::to_string(l->record_bytes) +
                                   "): a field cannot be bigger than its record");
  }
  if (l->json_depth > kMaxJsonDepth) {
    return Status::InvalidArgument(f + ": limits.json_depth is " + std::to_string(l->json_depth) +
                                   "; at most " + std::to_string(kMaxJsonDepth));
  }
  if (l->id_bytes * 3 + kHeaderRoomBesidesId > l->header_bytes) {
    return Status::InvalidArgument(
        f + ": limits.id_bytes " + std::to_string(l->id_bytes) +
        " would make records that cannot be addressed: such an id, percent-encoded, is up to " +
        std::to_string(l->id_bytes * 3) + " bytes of URL, and limits.header_bytes (" +
        std::to_string(l->header_bytes) + ") must hold that and " +
        std::to_string(kHeaderRoomBesidesId) + " more; raise header_bytes or lower id_bytes");
  }
  return Status::OK();
}

}  // namespace

Status LoadServerConfig(const std::string& path, Server* out) {
  YAML::Node root;
  Status s = LoadYaml(path, &root);
  if (!s.ok()) return s;
  const std::string& f = path;
  Limits& l = out->limits;
  auto str = [&](std::string* field) {
    return [&f, field](const YAML::Node& v, const std::string& k) {
      return GetString(f, v, k, field);
    };
  };
  auto uint = [&](uint64_t* field) {
    return
        [&f, field](const YAML::Node& v, const std::string& k) { return GetUint(f, v, k, field); };
  };
  auto bytes = [&](uint64_t* field) {
    return
        [&f, field](const YAML::Node& v, const std::string& k) { return GetBytes(f, v, k, field); };
  };
  auto ms = [&](uint64_t* field) {
    return [&f, field](const YAML::Node& v, const std::string& k) {
      return GetDurationMs(f, v, k, field);
    };
  };
  std::map<std::string, KeyHandler> h = {
      {"apps", str(&out->apps_dir)},
      {"data", str(&out->data_dir)},
      {"listen", str(&out->listen)},
      {"tls", str(&out->tls)},
      {"http2", str(&out->http2)},
      {"fsync", str(&out->fsync)},
      {"segment_bytes", bytes(&out->segment_bytes)},
      {"log", str(&out->log)},
      {"node", str(&out->node)},
      {"nats",
       [&](const YAML::Node& v, const std::string&) {
         return ForEachKey(f, v, "nats",
                           {{"urls", str(&out->nats.urls)},
                            {"stream", str(&out->nats.stream)},
                            {"replicas", uint(&out->nats.replicas)},
                            {"publish_timeout", ms(&out->nats.publish_timeout_ms)}});
       }},
      {"checkpoint_entries", uint(&out->checkpoint_entries)},
      {"checkpoint_bytes", bytes(&out->checkpoint_bytes)},
      {"compat_app", str(&out->compat_app)},
      {"jwt_secret", str(&out->jwt_secret)},
      {"jwt_public_key", str(&out->jwt_public_key)},
      {"jwt_leeway", ms(&out->jwt_leeway_ms)},
      {"retention",
       [&](const YAML::Node& v, const std::string&) -> Status {
         uint64_t age_ms = out->retention.age_s * 1000;
         Status st = ForEachKey(f, v, "retention",
                                {{"bytes", bytes(&out->retention.bytes)}, {"age", ms(&age_ms)}});
         out->retention.age_s = age_ms / 1000;
         return st;
       }},
      {"streams",
       [&](const YAML::Node& v, const std::string&) {
         config::Streams& st = out->streams;
         return ForEachKey(f, v, "streams",
                           {{"sse_retry_ms", uint(&st.sse_retry_ms)},
                            {"sse_ping_ms", uint(&st.sse_ping_ms)},
                            {"ws_ping_ms", uint(&st.ws_ping_ms)},
                            {"ws_pong_timeout_ms", uint(&st.ws_pong_timeout_ms)},
                            {"ws_max_message_bytes", bytes(&st.ws_max_message_bytes)},
                            {"snackbase_heartbeat_ms", uint(&st.snackbase_heartbeat_ms)}});
       }},
      {"limits",
       [&](const YAML::Node& v, const std::string&) {
         return ForEachKey(f, v, "limits",
                           {{"header_bytes", bytes(&l.header_bytes)},
                            {"body_bytes", bytes(&l.body_bytes)},
                            {"max_connections", uint(&l.max_connections)},
                            {"header_timeout_ms", uint(&l.header_timeout_ms)},
                            {"idle_timeout_ms", uint(&l.idle_timeout_ms)},
                            {"subscriptions_per_connection", uint(&l.subscriptions_per_connection)},
                            {"output_bytes", bytes(&l.output_bytes)},
                            {"stall_timeout_ms", uint(&l.stall_timeout_ms)},
                            {"max_pipelined_requests", uint(&l.max_pipelined_requests)},
                            {"max_concurrent_streams", uint(&l.max_concurrent_streams)},
                            {"id_bytes", bytes(&l.id_bytes)},
                            {"record_bytes", bytes(&l.record_bytes)},
                            {"field_bytes", bytes(&l.field_bytes)},
                            {"fields", uint(&l.fields)},
                            {"json_depth", uint(&l.json_depth)}});
       }},
  };
  s = ForEachKey(f, root, "the server config", h);
  if (!s.ok()) return s;
  if (out->checkpoint_entries == 0 || out->checkpoint_bytes == 0) {
    return Status::InvalidArgument(f +
                                   ": checkpoint_entries and checkpoint_bytes must be at least 1");
  }
  if (l.header_timeout_ms == 0 || l.idle_timeout_ms == 0) {
    return Status::InvalidArgument(f +
                                   ": limits.header_timeout_ms and idle_timeout_ms must be > 0");
  }
  if (out->streams.sse_ping_ms == 0 || out->streams.ws_ping_ms == 0 ||
      out->streams.ws_pong_timeout_ms == 0 || out->streams.snackbase_heartbeat_ms == 0 ||
      l.stall_timeout_ms == 0 || l.output_bytes == 0) {
    return Status::InvalidArgument(f +
                                   ": streams timings, limits.stall_timeout_ms and "
                                   "limits.output_bytes must be > 0");
  }
  if (l.max_pipelined_requests == 0 || l.max_connections == 0) {
    return Status::InvalidArgument(
        f + ": limits.max_pipelined_requests and max_connections must be > 0");
  }
  if (l.max_concurrent_streams == 0 || l.max_concurrent_streams > (1u << 31) - 1) {
    return Status::InvalidArgument(f + ": limits.max_concurrent_streams must be 1 to 2^31-1");
  }
  if (out->http2 != "on" && out->http2 != "off") {
    return Status::InvalidArgument(f + ": http2 must be on or off; got " + out->http2);
  }
  return CheckRecordLimits(f, &l);
}

Status LoadApps(const std::string& apps_dir, std::vector<App>* out,
                std::vector<std::string>* skipped) {
  std::error_code ec;
  if (!std::filesystem::is_directory(apps_dir, ec)) {
    return Status::NotFound("apps directory " + apps_dir + " does not exist");
  }
  std::vector<std::filesystem::path> dirs;
  for (auto& entry : std::filesystem::directory_iterator(apps_dir, ec)) {
    if (entry.is_directory()) dirs.push_back(entry.path());
  }
  if (ec) return Status::IOError("read " + apps_dir + ": " + ec.message());
  std::sort(dirs.begin(), dirs.end());
  std::vector<App> apps;
  for (const auto& d : dirs) {
    if (!std::filesystem::exists(d / "config.yaml")) {
      if (skipped) skipped->push_back(d.string());
      continue;
    }
    App app;
    Status s = LoadApp(d, &app);
    if (!s.ok()) return s;
    for (const App& other : apps) {
      if (other.app_id == app.app_id) {
        return Status::InvalidArgument(app.dir + "/config.yaml: app_id '" + app.app_id +
                                       "' is also used by " + other.dir);
      }
    }
    apps.push_back(std::move(app));
  }
  *out = std::move(apps);
  return Status::OK();
}

Result<uint64_t> ParseDurationMs(std::string_view s) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p == s.data()) {
    return Status::InvalidArgument("bad duration '" + std::string(s) + "'");
  }
  std::string_view unit(p, static_cast<size_t>(s.data() + s.size() - p));
  uint64_t mult;
  if (unit.empty() || unit == "ms")
    mult = 1;
  else if (unit == "s")
    mult = 1000;
  else if (unit == "m")
    mult = 60 * 1000;
  else if (unit == "h")
    mult = 3600 * 1000;
  else if (unit == "d")
    mult = 86400 * 1000;
  else
    return Status::InvalidArgument("bad duration unit in '" + std::string(s) +
                                   "' (ms, s, m, h, d)");
  if (n > UINT64_MAX / mult)
    return Status::InvalidArgument("duration '" + std::string(s) + "' is too large");
  return n * mult;
}

Result<uint64_t> ParseBytes(std::string_view s) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p == s.data())
    return Status::InvalidArgument("bad size '" + std::string(s) + "'");
  std::string_view unit(p, static_cast<size_t>(s.data() + s.size() - p));
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  uint64_t mult;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "KiB" || unit == "K")
    mult = 1ull << 10;
  else if (unit == "MiB" || unit == "M")
    mult = 1ull << 20;
  else if (unit == "GiB" || unit == "G")
    mult = 1ull << 30;
  else if (unit == "KB" || unit == "kB")
    mult = 1000;
  else if (unit == "MB")
    mult = 1000 * 1000;
  else if (unit == "GB")
    mult = 1000ull * 1000 * 1000;
  else
    return Status::InvalidArgument("bad size unit in '" + std::string(s) +
                                   "' (B, KiB, MiB, GiB, KB, MB, GB)");
  if (n > UINT64_MAX / mult)
    return Status::InvalidArgument("size '" + std::string(s) + "' is too large");
  return n * mult;
}

}  // namespace eventide::config
