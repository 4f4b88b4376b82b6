// Rules through policy::Policy::Parse (src/policy/policy.h), with every
// lower-case name a column. Checks: no crash; an accepted rule prints to a
// canonical form that parses to the same form; binding and evaluating it
// against a fixed record and token never crashes.
#include <rapidjson/document.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "src/policy/policy.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "policy_fuzzer: check failed: %s\n", what);
    std::abort();
  }
}

bool IsField(std::string_view n) { return !n.empty() && n[0] >= 'a' && n[0] <= 'z'; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using eventide::policy::Policy;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = Policy::Parse(text, IsField);
  if (!p.ok()) {
    Check(p.status().message().rfind("at character ", 0) == 0, "error names a place");
    return 0;
  }
  const std::string printed = (*p)->ToString();
  auto again = Policy::Parse(printed, IsField);
  Check(again.ok(), "the printed form parses");
  Check((*again)->ToString() == printed, "printing is canonical");
  static rapidjson::Document record = [] {
    rapidjson::Document d;
    d.Parse(R"({"a":"x","b":1,"c":true,"d":null,"e":[1],"f":{"g":1}})");
    return d;
  }();
  eventide::policy::Row row;
  (*p)->Extract(record, &row);
  Check(row.size() == (*p)->fields().size(), "one value per field");
  const bool anonymous = (*p)->Bind("").Allows(row);
  const bool with_token = (*p)->Bind(R"({"sub":"x","a":1,"b":true})").Allows(row);
  (void)anonymous;
  (void)with_token;
  return 0;
}
