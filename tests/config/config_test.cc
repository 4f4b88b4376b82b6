// Server config and app folders (src/config/config.h).
#include "src/config/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/wal/test_util.h"

namespace eventide::config {
namespace {

using wal::TempDir;

void Write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

const char* kSchema = "type Message @export(name: \"message\") { id: ID! title: String! }\n";

void WriteApp(const TempDir& d, const std::string& folder, const std::string& config,
              const char* schema = kSchema) {
  Write(d.Sub("apps/" + folder + "/config.yaml"), config);
  Write(d.Sub("apps/" + folder + "/schema.graphql"), schema);
}

TEST(ServerConfigTest, DefaultsMatchTheSpec) {
  Server s;
  EXPECT_EQ(s.apps_dir, "./apps");
  EXPECT_EQ(s.data_dir, "./data");
  EXPECT_EQ(s.listen, "127.0.0.1:9996");
  EXPECT_EQ(s.tls, "auto");
  EXPECT_EQ(s.fsync, "always");
  EXPECT_EQ(s.limits.header_bytes, 16u << 10);
  EXPECT_EQ(s.limits.body_bytes, 1u << 20);
  EXPECT_EQ(s.limits.output_bytes, 1u << 20);
  EXPECT_EQ(s.limits.stall_timeout_ms, 60000u);
}

TEST(ServerConfigTest, KeysOverrideDefaults) {
  TempDir d;
  Write(d.Sub("s.yaml"),
        "listen: 0.0.0.0:8443\nfsync: batch:5\nsegment_bytes: 8MiB\ncheckpoint_entries: 500\n"
        "retention:\n  bytes: 1GiB\nlimits:\n  header_bytes: 8KiB\n  header_timeout_ms: 250\n");
  Server s;
  ASSERT_TRUE(LoadServerConfig(d.Sub("s.yaml"), &s).ok());
  EXPECT_EQ(s.listen, "0.0.0.0:8443");
  EXPECT_EQ(s.fsync, "batch:5");
  EXPECT_EQ(s.segment_bytes, 8u << 20);
  EXPECT_EQ(s.checkpoint_entries, 500u);
  EXPECT_EQ(s.retention.bytes, 1ull << 30);
  EXPECT_EQ(s.limits.header_bytes, 8u << 10);
  EXPECT_EQ(s.limits.header_timeout_ms, 250u);
  EXPECT_EQ(s.limits.body_bytes, 1u << 20) << "untouched keys keep their defaults";
  EXPECT_EQ(s.data_dir, "./data");
}

TEST(ServerConfigTest, ErrorsNameFileAndLine) {
  struct Case {
    const char* yaml;
    const char* error;
  };
  const Case cases[] = {
      {"listen: x\nlisen: y\n", "s.yaml:2: unknown key 'lisen'"},
      {"limits:\n  body_bytes: lots\n", "s.yaml:2: 'body_bytes' must be a size"},
      {"limits:\n  header_timeout_ms: -1\n",
       "s.yaml:2: 'header_timeout_ms' must be a non-negative"},
      {"limits: 5\n", "s.yaml:1: limits must be a mapping"},
      {"checkpoint_entries: 0\n", "checkpoint_entries and checkpoint_bytes must be at least 1"},
      {"- a\n- b\n", "s.yaml:1: expected a mapping"},
      {"listen: [unclosed\n", "s.yaml:"},
  };
  for (const Case& c : cases) {
    TempDir d;
    Write(d.Sub("s.yaml"), c.yaml);
    Server s;
    Status st = LoadServerConfig(d.Sub("s.yaml"), &s);
    EXPECT_FALSE(st.ok()) << c.yaml;
    EXPECT_NE(st.message().find(c.error), std::string::npos) << c.yaml << " -> " << st.ToString();
  }
}

TEST(ServerConfigTest, RecordLimitsHaveDefaultsAndAreRead) {
  Server s;
  EXPECT_EQ(s.limits.id_bytes, 256u);
  EXPECT_EQ(s.limits.record_bytes, 1u << 20);
  EXPECT_EQ(s.limits.FieldBytes(), 1u << 20) << "unset: a field may be the whole record";
  EXPECT_EQ(s.limits.fields, 10000u);
  EXPECT_EQ(s.limits.json_depth, 64u);
  TempDir d;
  Write(d.Sub("s.yaml"),
        "limits:\n  id_bytes: 100\n  record_bytes: 64KiB\n  fields: 50\n  json_depth: 8\n");
  ASSERT_TRUE(LoadServerConfig(d.Sub("s.yaml"), &s).ok());
  EXPECT_EQ(s.limits.id_bytes, 100u);
  EXPECT_EQ(s.limits.record_bytes, 64u << 10);
  EXPECT_EQ(s.limits.FieldBytes(), 64u << 10) << "follows a lowered record_bytes";
  EXPECT_EQ(s.limits.fields, 50u);
  EXPECT_EQ(s.limits.json_depth, 8u);
  Write(d.Sub("t.yaml"), "limits:\n  record_bytes: 64KiB\n  field_bytes: 4KiB\n");
  Server t;
  ASSERT_TRUE(LoadServerConfig(d.Sub("t.yaml"), &t).ok());
  EXPECT_EQ(t.limits.FieldBytes(), 4u << 10);
}

TEST(ServerConfigTest, RecordLimitsThatCannotWorkAreStartUpErrors) {
  struct Case {
    const char* yaml;
    const char* error;
  };
  const Case cases[] = {
      {"limits:\n  id_bytes: 0\n", "limits.id_bytes, record_bytes, fields and json_depth must be"},
      {"limits:\n  fields: 0\n", "must be > 0"},
      {"limits:\n  json_depth: 0\n", "must be > 0"},
      {"limits:\n  id_bytes: 20\n", "limits.id_bytes is 20; at least 36"},
      {"limits:\n  record_bytes: 17MiB\n", "limits.record_bytes is 17825792; at most 16777216"},
      {"limits:\n  record_bytes: 4KiB\n  field_bytes: 8KiB\n",
       "limits.field_bytes (8192) is more than limits.record_bytes (4096)"},
      {"limits:\n  json_depth: 100000\n", "limits.json_depth is 100000; at most 512"},
      // 5000 bytes percent-encode to 15000 of URL: a 16 KiB header limit
      // could not address such a record.
      {"limits:\n  id_bytes: 5000\n", "limits.id_bytes 5000 would make records that cannot be"},
      {"limits:\n  header_bytes: 2KiB\n", "raise header_bytes or lower id_bytes"},
      {"limits:\n  id_bytes: lots\n", "s.yaml:2: 'id_bytes' must be a size"},
  };
  for (const Case& c : cases) {
    TempDir d;
    Write(d.Sub("s.yaml"), c.yaml);
    Server s;
    Status st = LoadServerConfig(d.Sub("s.yaml"), &s);
    EXPECT_FALSE(st.ok()) << c.yaml;
    EXPECT_NE(st.message().find(c.error), std::string::npos) << c.yaml << " -> " << st.ToString();
  }
}

TEST(ServerConfigTest, MissingFileIsNotFound) {
  Server s;
  EXPECT_TRUE(LoadServerConfig("/nonexistent/eventide.yaml", &s).IsNotFound());
}

TEST(AppsTest, LoadsTheBundledDemoApp) {
  std::vector<App> apps;
  ASSERT_TRUE(LoadApps(EVENTIDE_SOURCE_DIR "/apps", &apps).ok());
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_EQ(apps[0].app_id, "realtime-demo");
  EXPECT_EQ(apps[0].name, "Real-time Demo");
  EXPECT_TRUE(apps[0].rest && apps[0].sse && apps[0].ws);
  EXPECT_NE(apps[0].schema.FindByExportName("message"), nullptr);
}

TEST(AppsTest, AppIdDefaultsToTheFolderAndFoldersWithoutConfigAreSkipped) {
  TempDir d;
  WriteApp(d, "shop", "schemas:\n  - schema.graphql\nsse: false\ncors:\n  origins: ['*']\n");
  std::filesystem::create_directories(d.Sub("apps/notes-without-config"));
  Write(d.Sub("apps/shop/web/index.html"), "<p>");
  std::vector<App> apps;
  std::vector<std::string> skipped;
  ASSERT_TRUE(LoadApps(d.Sub("apps"), &apps, &skipped).ok());
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_EQ(apps[0].app_id, "shop");
  EXPECT_FALSE(apps[0].sse);
  EXPECT_EQ(apps[0].cors.origins, std::vector<std::string>{"*"});
  EXPECT_EQ(apps[0].web_dir, d.Sub("apps/shop/web"));
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find("notes-without-config"), std::string::npos);
}

TEST(AppsTest, ErrorsNameTheFile) {
  struct Case {
    const char* config;
    const char* schema;
    const char* error;
  };
  const Case cases[] = {
      {"schemas: [schema.graphql]\nauth: maybe\n", kSchema, "config.yaml:2: 'auth' must be"},
      {"schemas: [schema.graphql]\napp_id: api\n", kSchema,
       "config.yaml:2: app_id 'api' is reserved"},
      {"schemas: [schema.graphql]\napp_id: 'a b'\n", kSchema, "may only hold letters"},
      {"schemas: [missing.graphql]\n", kSchema, "schema file missing.graphql not found"},
      {"name: x\n", kSchema, "'schemas' must list at least one schema file"},
      {"schemas: [schema.graphql]\nhooks:\n  on_whatever: http://x\n", kSchema,
       "config.yaml:3: unknown hook 'on_whatever'"},
      {"schemas: [schema.graphql]\n", "type A {\n  id: ID!\n  x: Nope\n}\n",
       "schema.graphql:3:6: unknown type 'Nope'"},
  };
  for (const Case& c : cases) {
    TempDir d;
    WriteApp(d, "app", c.config, c.schema);
    std::vector<App> apps;
    Status st = LoadApps(d.Sub("apps"), &apps);
    EXPECT_FALSE(st.ok()) << c.config;
    EXPECT_NE(st.message().find(c.error), std::string::npos) << st.ToString();
  }
}

TEST(AppsTest, DuplicateAppIdsAreAnError) {
  TempDir d;
  WriteApp(d, "one", "app_id: same\nschemas: [schema.graphql]\n");
  WriteApp(d, "two", "app_id: same\nschemas: [schema.graphql]\n");
  std::vector<App> apps;
  Status st = LoadApps(d.Sub("apps"), &apps);
  EXPECT_NE(st.message().find("app_id 'same' is also used by"), std::string::npos) << st.ToString();
}

TEST(AppsTest, MissingAppsDirectoryIsNotFound) {
  std::vector<App> apps;
  EXPECT_TRUE(LoadApps("/nonexistent/apps", &apps).IsNotFound());
}

TEST(ParseTest, DurationsAndSizes) {
  EXPECT_EQ(ParseDurationMs("500ms").value(), 500u);
  EXPECT_EQ(ParseDurationMs("15s").value(), 15000u);
  EXPECT_EQ(ParseDurationMs("30m").value(), 1800000u);
  EXPECT_EQ(ParseDurationMs("1h").value(), 3600000u);
  EXPECT_EQ(ParseDurationMs("2d").value(), 172800000u);
  EXPECT_EQ(ParseDurationMs("250").value(), 250u);
  EXPECT_FALSE(ParseDurationMs("1y").ok());
  EXPECT_FALSE(ParseDurationMs("h").ok());
  EXPECT_FALSE(ParseDurationMs("").ok());
  EXPECT_EQ(ParseBytes("4096").value(), 4096u);
  EXPECT_EQ(ParseBytes("64KiB").value(), 64u << 10);
  EXPECT_EQ(ParseBytes("64MiB").value(), 64u << 20);
  EXPECT_EQ(ParseBytes("1GiB").value(), 1ull << 30);
  EXPECT_EQ(ParseBytes("1GB").value(), 1000000000u);
  EXPECT_FALSE(ParseBytes("12 parsecs").ok());
  EXPECT_FALSE(ParseBytes("99999999999999999999GiB").ok());
}

}  // namespace
}  // namespace eventide::config
