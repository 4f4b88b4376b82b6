// Request bodies through record validation (src/schema/validate.h) against a
// fixed schema: byte 0 picks the table and the write mode, the rest is parsed
// as JSON by ParseJsonInput, as the REST service does. Invariants: no crash;
// what ParseJsonInput accepts holds only UTF-8 strings (no lone surrogate
// escape slips through); a violation that names a field names one the body
// has or the table declares; a body the validator accepts for create is a
// JSON object whose every member is a declared field. The limits' one-pass
// scan (src/common/json_shape.h) agrees with the DOM: on what is accepted,
// the text's nesting and members, as sent and as written back, are the
// DOM's, and a top-level field it calls too big is, written back, that big;
// nothing nested deeper than the limit is accepted.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "src/common/json_shape.h"
#include "src/common/utf8.h"
#include "src/schema/schema.h"
#include "src/schema/validate.h"

namespace {

using eventide::schema::Schema;
using eventide::schema::WriteMode;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "validate_fuzzer: check failed: %s\n", what);
    std::abort();
  }
}

const Schema& TheSchema() {
  static const Schema schema = [] {
    Schema s;
    eventide::Status st = eventide::schema::ParseSchema(
        "type Message @export(name: \"message\") { id: ID! @primaryKey title: String! "
        "content: String! author: String __createdAt__: String __updatedAt__: String }\n"
        "type Item @export { key: Int! @primaryKey n: Int f: Float b: Boolean! "
        "tags: [String!]! maybe: [Int] any: JSON }\n",
        "fuzz.graphql", &s);
    Check(st.ok(), "the fixed schema parses");
    return s;
  }();
  return schema;
}

// Depth and members of a DOM value, as ScanJsonShape counts them.
void Shape(const rapidjson::Value& v, size_t level, size_t* depth, size_t* members) {
  if (v.IsObject() || v.IsArray()) *depth = std::max(*depth, level + 1);
  if (v.IsObject()) {
    for (auto& m : v.GetObject()) {
      ++*members;
      Shape(m.value, level + 1, depth, members);
    }
  } else if (v.IsArray()) {
    for (auto& e : v.GetArray()) Shape(e, level + 1, depth, members);
  }
}

std::string Write(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Schema& schema = TheSchema();
  const auto& table = schema.tables[data[0] % schema.tables.size()];
  const WriteMode mode = static_cast<WriteMode>((data[0] / 2) % 3);
  rapidjson::Document d;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  constexpr size_t kDepth = 16;
  eventide::JsonInputResult parsed = eventide::ParseJsonInput(text, &d, "the body", kDepth);
  Check(eventide::IsUtf8(parsed.message), "the error message is UTF-8");
  if (!parsed.ok()) return 0;
  {
    size_t depth = 0, members = 0;
    Shape(d, 0, &depth, &members);
    Check(depth <= kDepth, "JSON nested past the limit accepted");
    const std::string written = Write(d);
    for (std::string_view t : {text, std::string_view(written)}) {
      const eventide::JsonShape s = eventide::ScanJsonShape(t, kDepth, t.size());
      Check(s.depth == depth, "the scan's depth is the DOM's");
      Check(s.members == members, "the scan's members are the DOM's");
    }
    if (d.IsObject() && d.MemberCount() > 0) {
      // The first member's value written back, as the limit: the scan finds
      // no field over it unless a later one is longer, and that one is.
      const size_t limit = Write(d.MemberBegin()->value).size();
      const eventide::JsonShape s = eventide::ScanJsonShape(written, kDepth, limit);
      bool longer = false;
      for (auto& m : d.GetObject()) longer = longer || Write(m.value).size() > limit;
      Check(s.has_big_field() == longer, "the scan finds a field over the limit iff there is one");
      Check(!s.has_big_field() || s.big_field_bytes > limit, "a big field is over the limit");
    }
  }
  {
    // What would be logged: the record as RapidJSON writes it back.
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    d.Accept(w);
    Check(eventide::IsUtf8(std::string_view(sb.GetString(), sb.GetSize())),
          "accepted JSON decodes to UTF-8 only");
  }
  auto v = eventide::schema::Validate(table, d, mode);
  if (v) {
    if (!v->field.empty()) {
      // By length, not c_str(): a member name may hold a NUL.
      bool in_body = d.IsObject() && d.FindMember(rapidjson::Value(rapidjson::StringRef(
                                         v->field.data(), v->field.size()))) != d.MemberEnd();
      Check(in_body || table.FindField(v->field) != nullptr, "violation names an unknown field");
    }
    Check(!v->message.empty(), "violation without a message");
    return 0;
  }
  Check(d.IsObject(), "a non-object accepted");
  for (auto it = d.MemberBegin(); it != d.MemberEnd(); ++it) {
    Check(table.FindField(std::string_view(it->name.GetString(), it->name.GetStringLength())) !=
              nullptr,
          "an undeclared member accepted");
  }
  return 0;
}
