// Bytes as a GraphQL document through graphql::ParseDocument; when it parses,
// through graphql::Compile against a fixed two-table schema (with the
// variables after a line "#--variables--", when there is one), and when that
// compiles, through the encoder for a create, a delete and a publish.
// Invariants: no crash or hang; a syntax error says "Syntax Error: " and has
// exactly one location inside the input; a validation error's locations are
// inside the input; the errors JSON parses; the encoded "next" event is
// "event: next\nid: N\ndata: JSON\n\n" where JSON parses (valid UTF-8) as
// {"data":{ROOT:{one member per plan field}}} (plus extensions for a
// delete); compiling again gives the same plan key; a publish is skipped.
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "src/graphql/encode.h"
#include "src/graphql/parser.h"
#include "src/graphql/plan.h"

namespace {

using namespace eventide;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "graphql_fuzzer: check failed: %s\n", what);
    std::abort();
  }
}

const schema::Schema& TheSchema() {
  static const schema::Schema* s = [] {
    auto* out = new schema::Schema;
    Status st = schema::ParseSchema(
        "type Message @table(database: \"d\") @export(name: \"message\", sse: true) {\n"
        "  id: ID! @primaryKey\n  title: String!\n  content: String!\n  author: String\n"
        "  tags: [String!]\n  meta: JSON\n}\n"
        "type ChatRoom @table(database: \"d\") @export(sse: true) { id: ID! name: String }\n"
        "type Secret @table(database: \"d\") @export { id: ID! }\n",
        "fuzz.graphql", out);
    Check(st.ok(), "the fixed schema parses");
    return out;
  }();
  return *s;
}

int Lines(std::string_view s) {
  int n = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' || (s[i] == '\r' && (i + 1 >= s.size() || s[i + 1] != '\n'))) ++n;
  }
  return n;
}

void CheckErrorJson(const graphql::Error& e) {
  std::string json = graphql::ErrorsJson({e});
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  Check(!d.HasParseError(), "errors JSON parses");
  Check(d.IsObject() && d.HasMember("errors") && d["errors"].IsArray(), "errors shape");
  Check(!e.message.empty(), "error without a message");
}

void CheckLocations(const graphql::Error& e, std::string_view doc) {
  int lines = Lines(doc);
  for (const auto& l : e.locations) {
    Check(l.line >= 1 && l.line <= lines, "error line outside the input");
    Check(l.column >= 1 && static_cast<size_t>(l.column) <= doc.size() + 1,
          "error column outside the input");
  }
}

void CheckNext(const graphql::Plan& plan, const event::Event& e, uint64_t position) {
  std::string out;
  bool delivered = graphql::AppendNextEvent(plan, wal::Position(position), e, &out);
  Check(delivered == plan.Delivers(e), "AppendNextEvent disagrees with Delivers");
  if (e.op == event::Op::kPublish) Check(!delivered, "a publish was delivered");
  if (!delivered) {
    Check(out.empty(), "bytes appended for a skipped event");
    return;
  }
  std::string head = "event: next\nid: " + std::to_string(position) + "\ndata: ";
  Check(out.rfind(head, 0) == 0, "next event header");
  Check(out.size() >= head.size() + 2 && out.compare(out.size() - 2, 2, "\n\n") == 0,
        "next event ends with a blank line");
  std::string_view data(out.data() + head.size(), out.size() - head.size() - 2);
  Check(data.find('\n') == std::string_view::npos && data.find('\r') == std::string_view::npos,
        "payload on one data: line");
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(data.data(), data.size());
  Check(!d.HasParseError(), "payload is valid JSON");
  Check(d.IsObject() && d.HasMember("data") && d["data"].IsObject(), "payload has data");
  const auto& root = d["data"];
  Check(root.MemberCount() == 1, "data has one root field");
  auto it = root.FindMember(plan.root_key.c_str());
  Check(it != root.MemberEnd() && it->value.IsObject(), "root key holds an object");
  Check(it->value.MemberCount() == plan.fields.size(), "one member per plan field");
  Check(d.HasMember("extensions") == (e.op == event::Op::kDelete), "extensions only on delete");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view vars_text;
  size_t cut = in.find("\n#--variables--\n");
  if (cut != std::string_view::npos) {
    vars_text = in.substr(cut + 16);
    in = in.substr(0, cut);
  }
  graphql::ParseLimits limits;
  limits.max_document_bytes = 8 * 1024;  // keeps inputs small for speed
  graphql::Document doc;
  graphql::Error err;
  if (!graphql::ParseDocument(in, limits, &doc, &err)) {
    Check(err.message.rfind("Syntax Error: ", 0) == 0, "syntax error prefix");
    Check(err.locations.size() == 1, "a syntax error has exactly one location");
    CheckLocations(err, in);
    CheckErrorJson(err);
    return 0;
  }
  Check(!doc.operations.empty() || !doc.fragments.empty(), "an empty document parsed");

  rapidjson::Document vars;
  const rapidjson::Value* variables = nullptr;
  if (!vars_text.empty()) {
    vars.Parse(vars_text.data(), vars_text.size());
    if (!vars.HasParseError()) variables = &vars;
  }
  const schema::Schema& schema = TheSchema();
  // The default (no operationName) and, when there are several, the last.
  std::string names[2] = {"", doc.operations.empty() ? "" : doc.operations.back().name};
  for (const std::string& name : names) {
    graphql::Plan plan;
    graphql::Error cerr;
    if (!graphql::Compile(doc, name, variables, schema, graphql::CompileOptions{}, &plan, &cerr)) {
      CheckLocations(cerr, in);
      CheckErrorJson(cerr);
      continue;
    }
    Check(schema.FindByName(plan.table) != nullptr, "plan names a schema table");
    Check(!plan.root_key.empty() && !plan.key.empty(), "plan has a root key and a key");
    graphql::Plan again;
    Check(graphql::Compile(doc, name, variables, schema, graphql::CompileOptions{}, &again, &cerr),
          "compiles twice");
    Check(again.key == plan.key, "same document, same key");

    event::Event e;
    e.app = "fuzz";
    e.table = plan.table;
    e.id = plan.record_id.empty() ? std::string_view("msg-1") : std::string_view(plan.record_id);
    e.op = event::Op::kCreate;
    e.data = R"({"id":"msg-1","title":"Hello \"q\"\n","content":"W\u00e9","tags":["a","b"],"meta":{"n":1.5,"x":[null,true]},"name":"room"})";
    CheckNext(plan, e, 42);
    e.op = event::Op::kDelete;
    CheckNext(plan, e, 43);
    e.op = event::Op::kPublish;
    CheckNext(plan, e, 44);
    e.op = event::Op::kUpdate;
    e.data = "[1,2";
    CheckNext(plan, e, 45);
  }
  return 0;
}
