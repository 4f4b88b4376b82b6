// Request bodies through record validation (src/schema/validate.h) against a
// fixed schema: byte 0 picks the table and the write mode, the rest is parsed
// as JSON by ParseJsonInput, as the REST service does. Invariants: no crash;
// what ParseJsonInput accepts holds only UTF-8 strings (no lone surrogate
// escape slips through); a violation that names a field names one the body
// has or the table declares; a body the validator accepts for create is a
// JSON object whose every member is a declared field.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Schema& schema = TheSchema();
  const auto& table = schema.tables[data[0] % schema.tables.size()];
  const WriteMode mode = static_cast<WriteMode>((data[0] / 2) % 3);
  rapidjson::Document d;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  eventide::JsonInputResult parsed = eventide::ParseJsonInput(text, &d, "the body");
  Check(eventide::IsUtf8(parsed.message), "the error message is UTF-8");
  if (!parsed.ok()) return 0;
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
