// SSE framing (src/stream/sse.h), checked against a WHATWG-rules client, and
// resume id parsing (src/stream/resume.h).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "src/stream/resume.h"
#include "src/stream/sse.h"
#include "tests/stream/sse_client.h"

namespace eventide::stream {
namespace {

TEST(SseTest, TheSpecsExampleBytes) {
  std::string out;
  AppendSseEvent("message", "", R"({"type":"connected","status":"ok","position":41})", &out);
  AppendSseEvent("update", "42", R"({"id":"msg-1","title":"Hello","content":"World"})", &out);
  AppendSseEvent("delete", "43", R"({"id":"msg-1"})", &out);
  EXPECT_EQ(out,
            "event: message\ndata: {\"type\":\"connected\",\"status\":\"ok\",\"position\":41}\n\n"
            "event: update\nid: 42\ndata: {\"id\":\"msg-1\",\"title\":\"Hello\",\"content\":"
            "\"World\"}\n\n"
            "event: delete\nid: 43\ndata: {\"id\":\"msg-1\"}\n\n");
}

TEST(SseTest, AClientReadsBackEventsIdsAndRetry) {
  std::string out;
  AppendSseRetry(3000, &out);
  AppendSseEvent("update", "7", "{}", &out);
  AppendSseEvent("ping", "", "{}", &out);
  AppendSseEvent("", "8", "plain", &out);
  SseClient client;
  std::vector<ClientEvent> got;
  // Byte by byte: framing must not depend on how the stream is cut.
  for (char c : out) client.Feed(std::string_view(&c, 1), &got);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(client.retry_ms(), 3000u);
  EXPECT_EQ(got[0].type, "update");
  EXPECT_EQ(got[0].last_event_id, "7");
  EXPECT_EQ(got[1].type, "ping");
  EXPECT_EQ(got[1].last_event_id, "7") << "a ping does not move the cursor";
  EXPECT_EQ(got[2].type, "message");
  EXPECT_EQ(got[2].data, "plain");
  EXPECT_EQ(got[2].last_event_id, "8");
}

TEST(SseTest, LineBreaksInsideDataBecomeDataLines) {
  for (std::string data : {"a\nb", "a\r\nb", "a\rb", "a\n\nb", "\n", "a\r", "\r\n\r\n", ""}) {
    std::string out;
    AppendSseEvent("update", "1", data, &out);
    SseClient client;
    std::vector<ClientEvent> got;
    client.Feed(out, &got);
    ASSERT_EQ(got.size(), 1u) << "one event, whatever the data holds";
    std::string want = NormalizeLineEndings(data);
    EXPECT_EQ(got[0].data, want);
  }
}

TEST(ResumeIdTest, CanonicalPositions) {
  EXPECT_EQ(ParseResumeId("42").kind, ResumeId::Kind::kPosition);
  EXPECT_EQ(ParseResumeId("42").position, wal::Position(42));
  EXPECT_EQ(ParseResumeId(" 42\t").position, wal::Position(42));
  EXPECT_EQ(ParseResumeId("0").position, wal::Position(0));
  EXPECT_EQ(ParseResumeId("18446744073709551615").position, wal::Position(18446744073709551615ull));
}

TEST(ResumeIdTest, AbsentOrEmptyIsAFreshStart) {
  EXPECT_EQ(ParseResumeId("").kind, ResumeId::Kind::kNone);
  EXPECT_EQ(ParseResumeId("  ").kind, ResumeId::Kind::kNone);
}

TEST(ResumeIdTest, AnythingElseIsMalformed) {
  const std::string_view bads[] = {"msg-1",
                                   "-1",
                                   "+1",
                                   "1.0",
                                   "1e3",
                                   "007",
                                   "0x10",
                                   "42 43",
                                   "18446744073709551616",
                                   "99999999999999999999999",
                                   "4\n2",
                                   std::string_view("4\0", 2)};
  for (std::string_view bad : bads) {
    EXPECT_EQ(ParseResumeId(bad).kind, ResumeId::Kind::kMalformed) << bad;
  }
}

}  // namespace
}  // namespace eventide::stream
