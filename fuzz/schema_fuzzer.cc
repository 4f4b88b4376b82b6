// Bytes as a schema file through the GraphQL-SDL parser, and (when it parses)
// a JSON body through record validation against each table.
// Invariants: no crash or hang; a parsed table has fields, exactly one
// primary key at primary_key, and a non-empty URL name; an error is
// "FILE:LINE:COL: reason" with a line inside the input.
#include <rapidjson/document.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "src/schema/schema.h"
#include "src/schema/validate.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "schema_fuzzer: check failed: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // An optional JSON body after a line "#--json--".
  std::string_view body;
  size_t cut = in.find("#--json--\n");
  if (cut != std::string_view::npos) {
    body = in.substr(cut + 10);
    in = in.substr(0, cut);
  }
  eventide::schema::Schema schema;
  eventide::Status s = eventide::schema::ParseSchema(in, "f.graphql", &schema);
  if (!s.ok()) {
    Check(s.message().rfind("f.graphql:", 0) == 0, "error without file:line:col");
    Check(schema.tables.empty(), "tables appended despite an error");
    return 0;
  }
  for (const auto& t : schema.tables) {
    Check(!t.fields.empty(), "table without fields");
    Check(t.primary_key < t.fields.size(), "primary key out of range");
    int keys = 0;
    for (const auto& f : t.fields) keys += f.primary_key ? 1 : 0;
    Check(keys == 1, "not exactly one primary key");
    Check(!t.export_name.empty(), "empty URL name");
    Check(schema.FindByExportName(t.export_name) != nullptr, "table not found by its URL name");
  }
  if (body.empty()) return 0;
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (d.HasParseError()) return 0;
  for (const auto& t : schema.tables) {
    for (auto mode : {eventide::schema::WriteMode::kCreate, eventide::schema::WriteMode::kReplace,
                      eventide::schema::WriteMode::kMerge}) {
      auto v = eventide::schema::Validate(t, d, mode);
      if (v && !v->field.empty()) {
        Check(t.FindField(v->field) != nullptr || d.IsObject(), "violation names no field");
      }
    }
  }
  return 0;
}
