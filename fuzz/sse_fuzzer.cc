// The SSE wire pieces (src/stream): byte 0 picks the target.
//  - even: the rest is a resume id (Last-Event-ID / lastEventId) through
//    ParseResumeId: a position is accepted exactly when the trimmed text is its
//    canonical decimal spelling;
//  - odd: the rest is event data framed by AppendSseEvent and read back by a
//    WHATWG-rules client: exactly one event, with the data intact (line endings
//    normalized to LF) and the id the client will send back.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "src/stream/resume.h"
#include "src/stream/sse.h"
#include "tests/stream/sse_client.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "sse_fuzzer: check failed: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  using eventide::stream::ResumeId;
  if (data[0] % 2 == 0) {
    ResumeId r = eventide::stream::ParseResumeId(in);
    std::string_view t = in;
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (t.empty()) {
      Check(r.kind == ResumeId::Kind::kNone, "empty id is not kNone");
    } else if (r.kind == ResumeId::Kind::kPosition) {
      Check(std::to_string(r.position.value()) == t, "accepted a non-canonical id");
    } else {
      Check(r.kind == ResumeId::Kind::kMalformed, "non-empty id is kNone");
      bool digits = t.size() <= 20 && t.find_first_not_of("0123456789") == std::string_view::npos;
      bool canonical = digits && (t.size() == 1 || t[0] != '0') &&
                       (t.size() < 20 || t <= std::string_view("18446744073709551615"));
      Check(!canonical, "refused a canonical id");
    }
    return 0;
  }
  std::string out;
  eventide::stream::AppendSseEvent("update", "12345", in, &out);
  eventide::stream::SseClient client;
  std::vector<eventide::stream::ClientEvent> got;
  client.Feed(out, &got);
  Check(got.size() == 1, "not exactly one event");
  Check(got[0].type == "update", "event type changed");
  Check(got[0].last_event_id == "12345", "id changed");
  std::string want = eventide::stream::NormalizeLineEndings(in);
  Check(got[0].data == want, "data changed");
  return 0;
}
