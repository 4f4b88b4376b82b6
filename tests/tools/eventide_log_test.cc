// Runs the real eventide-log binary against logs written with wal::Log and
// event::Encode, and checks its output and exit codes (SPEC section 11).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "rapidjson/document.h"
#include "src/event/event.h"
#include "tests/wal/test_util.h"
#include "wal/format.h"
#include "wal/log.h"
#include "wal/segment_reader.h"

namespace eventide::tools {
namespace {

using wal::Log;
using wal::LogOptions;
using wal::Position;
using wal::TempDir;

constexpr int64_t kTimeMs = 1736937000000;  // 2025-01-15T10:30:00.000Z

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Runs eventide-log with `args`, stdout and stderr captured in files.
RunResult RunTool(const std::vector<std::string>& args) {
  TempDir io;
  std::string out_path = io.Sub("out");
  std::string err_path = io.Sub("err");
  pid_t pid = ::fork();
  if (pid == 0) {
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<char*> argv;
    std::string bin = EVENTIDE_LOG_BIN;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  RunResult r;
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = wal::ReadFile(out_path);
  r.err = wal::ReadFile(err_path);
  return r;
}

rapidjson::Document ParseJson(const std::string& line) {
  rapidjson::Document doc;
  doc.Parse(line.data(), line.size());
  EXPECT_FALSE(doc.HasParseError()) << line;
  return doc;
}

struct TestEvent {
  event::Op op;
  std::string app, table, id, tenant, subject, data;
};

std::string Encoded(const TestEvent& t) {
  event::Event e;
  e.op = t.op;
  e.time_ms = kTimeMs;
  e.app = t.app;
  e.table = t.table;
  e.id = t.id;
  e.tenant = t.tenant;
  e.subject = t.subject;
  e.data = t.data;
  std::string out;
  event::Encode(e, &out);
  return out;
}

class EventideLogTest : public ::testing::Test {
 protected:
  // Small segments: the log below spans several of them.
  static constexpr uint64_t kSegmentBytes = 400;

  LogOptions Options() const {
    LogOptions o;
    o.dir = dir_.path();
    o.segment_bytes = kSegmentBytes;
    return o;
  }

  // Rewrites SYNCED so that only `bytes` of the last segment count as synced
  // (the state a crash mid-append of an unsynced batch leaves).
  void SyncedUpTo(uint64_t bytes) {
    std::string last = SegmentPaths().back();
    auto base = wal::ParseSegmentFileName(std::filesystem::path(last).filename().string());
    char mark[wal::kSyncedMarkBytes];
    wal::EncodeSyncedMark({*base, bytes}, mark);
    wal::WriteFile(dir_.Sub("SYNCED"), std::string(mark, sizeof(mark)));
  }

  // Appends `payloads` and waits until they are durable.
  void Append(const std::vector<std::string>& payloads) {
    auto log = Log::Open(Options());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    AppendTo(log->get(), payloads);
  }

  static void AppendTo(Log* log, const std::vector<std::string>& payloads) {
    Position last;
    for (const auto& p : payloads) {
      auto pos = log->Append(p);
      ASSERT_TRUE(pos.ok()) << pos.status().ToString();
      last = *pos;
    }
    ASSERT_TRUE(log->WaitDurable(last).ok());
  }

  // 20 entries: 1..19 events on two tables, 20 a payload that is no event.
  //   odd positions:  create Message/mN, tenant t1, subject u1, JSON object
  //   even positions: update User/uN, no tenant or subject, JSON object
  //   position 5 is a delete; position 6 is a publish of text that is not JSON;
  //   position 8 holds pretty-printed (multi-line) JSON.
  void WriteStandardLog() {
    std::vector<std::string> payloads;
    for (int i = 1; i <= 19; ++i) {
      TestEvent t;
      if (i % 2 == 1) {
        t = {event::Op::kCreate,
             "app1",
             "Message",
             "m" + std::to_string(i),
             "t1",
             "u1",
             "{\"id\":\"m" + std::to_string(i) + "\",\"n\":" + std::to_string(i) + "}"};
      } else {
        t = {event::Op::kUpdate,
             "app1",
             "User",
             "u" + std::to_string(i),
             "",
             "",
             "{\"id\":\"u" + std::to_string(i) + "\"}"};
      }
      if (i == 5) t.op = event::Op::kDelete;
      if (i == 6) {
        t.op = event::Op::kPublish;
        t.id = "";
        t.data = "hello \"world\"\n";
      }
      if (i == 8) t.data = "{\n  \"id\": \"u8\",\n  \"list\": [1, 2]\n}\n";
      payloads.push_back(Encoded(t));
    }
    payloads.push_back("not an event");
    Append(payloads);
  }

  std::vector<std::string> SegmentPaths() const {
    std::vector<std::string> paths;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
      if (wal::ParseSegmentFileName(e.path().filename().string())) {
        paths.push_back(e.path().string());
      }
    }
    std::sort(paths.begin(), paths.end());
    return paths;
  }

  // File offset of the entry header of the first entry in `path`.
  static uint64_t FirstEntryOffset(const std::string& path) {
    auto base = wal::ParseSegmentFileName(std::filesystem::path(path).filename().string());
    auto r = wal::SegmentReader::Open(path, *base);
    EXPECT_TRUE(r.ok());
    wal::Entry e;
    EXPECT_EQ((*r)->Next(&e), wal::SegmentReader::Outcome::kEntry);
    return e.offset;
  }

  // File offset of the entry header of the last entry in `path`.
  static uint64_t LastEntryOffset(const std::string& path) {
    auto base = wal::ParseSegmentFileName(std::filesystem::path(path).filename().string());
    auto r = wal::SegmentReader::Open(path, *base);
    EXPECT_TRUE(r.ok());
    wal::Entry e;
    uint64_t offset = 0;
    while ((*r)->Next(&e) == wal::SegmentReader::Outcome::kEntry) offset = e.offset;
    return offset;
  }

  RunResult Tool(std::vector<std::string> args) {
    args.insert(args.begin(), {"--data", dir_.path()});
    return RunTool(args);
  }

  TempDir dir_;
};

TEST_F(EventideLogTest, SegmentsListsEveryFileWithItsRange) {
  WriteStandardLog();
  std::vector<std::string> paths = SegmentPaths();
  ASSERT_GE(paths.size(), 3u);
  RunResult r = Tool({"segments"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), paths.size() + 1) << r.out;  // a header line first
  EXPECT_NE(lines[1].find("00000000000000000001.log"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find(" ok"), std::string::npos) << lines[1];

  r = Tool({"segments", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  lines = Lines(r.out);
  ASSERT_EQ(lines.size(), paths.size());
  uint64_t entries = 0;
  uint64_t next = 1;
  for (size_t i = 0; i < lines.size(); ++i) {
    rapidjson::Document d = ParseJson(lines[i]);
    EXPECT_EQ(d["file"].GetString(), std::filesystem::path(paths[i]).filename().string());
    EXPECT_EQ(d["first"].GetUint64(), next);
    EXPECT_EQ(d["bytes"].GetUint64(), std::filesystem::file_size(paths[i]));
    EXPECT_STREQ(d["state"].GetString(), "ok");
    uint64_t n = d["entries"].GetUint64();
    EXPECT_EQ(d["last"].GetUint64(), next + n - 1);
    entries += n;
    next += n;
  }
  EXPECT_EQ(entries, 20u);
}

TEST_F(EventideLogTest, DumpPrintsOneLinePerEntry) {
  WriteStandardLog();
  RunResult r = Tool({"dump"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 20u) << r.out;
  EXPECT_TRUE(std::regex_search(
      lines[0], std::regex(R"(^1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z create app1/Message )"
                           R"(id=m1 tenant=t1 subject=u1 time=2025-01-15T10:30:00\.000Z )"
                           R"(\{"id":"m1","n":1\}$)")))
      << lines[0];
  EXPECT_NE(lines[5].find("publish app1/User time="), std::string::npos) << lines[5];
  EXPECT_NE(lines[5].find(R"(hello "world"\n)"), std::string::npos) << lines[5];
  EXPECT_NE(lines[19].find("not an event"), std::string::npos) << lines[19];
  EXPECT_NE(lines[19].find("(12 bytes)"), std::string::npos) << lines[19];
}

TEST_F(EventideLogTest, DumpJsonLinesParseWithTheirFields) {
  WriteStandardLog();
  RunResult r = Tool({"dump", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 20u) << r.out;
  std::regex iso_us(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$)");
  for (size_t i = 0; i < lines.size(); ++i) {
    rapidjson::Document d = ParseJson(lines[i]);
    ASSERT_TRUE(d.IsObject());
    EXPECT_EQ(d["position"].GetUint64(), i + 1);
    EXPECT_TRUE(std::regex_match(d["timestamp"].GetString(), iso_us)) << lines[i];
  }
  rapidjson::Document first = ParseJson(lines[0]);
  EXPECT_STREQ(first["op"].GetString(), "create");
  EXPECT_STREQ(first["app"].GetString(), "app1");
  EXPECT_STREQ(first["table"].GetString(), "Message");
  EXPECT_STREQ(first["id"].GetString(), "m1");
  EXPECT_STREQ(first["tenant"].GetString(), "t1");
  EXPECT_STREQ(first["subject"].GetString(), "u1");
  EXPECT_STREQ(first["time"].GetString(), "2025-01-15T10:30:00.000Z");
  ASSERT_TRUE(first["data"].IsObject()) << lines[0];  // embedded, not a string
  EXPECT_STREQ(first["data"]["id"].GetString(), "m1");
  EXPECT_EQ(first["data"]["n"].GetInt(), 1);

  rapidjson::Document second = ParseJson(lines[1]);
  EXPECT_STREQ(second["op"].GetString(), "update");
  EXPECT_FALSE(second.HasMember("tenant")) << lines[1];
  EXPECT_FALSE(second.HasMember("subject")) << lines[1];

  EXPECT_STREQ(ParseJson(lines[4])["op"].GetString(), "delete");

  rapidjson::Document publish = ParseJson(lines[5]);
  EXPECT_STREQ(publish["op"].GetString(), "publish");
  EXPECT_STREQ(publish["id"].GetString(), "");
  ASSERT_TRUE(publish["data"].IsString());  // not JSON: carried as a string
  EXPECT_STREQ(publish["data"].GetString(), "hello \"world\"\n");

  rapidjson::Document pretty = ParseJson(lines[7]);
  ASSERT_TRUE(pretty["data"].IsObject()) << lines[7];
  EXPECT_EQ(pretty["data"]["list"].Size(), 2u);

  rapidjson::Document bad = ParseJson(lines[19]);
  EXPECT_FALSE(bad.HasMember("op"));
  EXPECT_NE(std::string(bad["error"].GetString()).find("not an event"), std::string::npos);
  EXPECT_EQ(bad["payload_bytes"].GetUint64(), 12u);
}

TEST_F(EventideLogTest, DumpTableFilterKeepsOnlyThatTable) {
  WriteStandardLog();
  RunResult r = Tool({"dump", "--json", "--table", "Message"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 10u) << r.out;
  for (const auto& line : lines) {
    rapidjson::Document d = ParseJson(line);
    EXPECT_STREQ(d["table"].GetString(), "Message");
    EXPECT_EQ(d["position"].GetUint64() % 2, 1u);
  }
  r = Tool({"dump", "--table", "app1/User"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), 9u) << r.out;
  r = Tool({"dump", "--table", "Nope"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(EventideLogTest, DumpFromToSelectsARange) {
  WriteStandardLog();
  RunResult r = Tool({"dump", "--json", "--from", "4", "--to", "11"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 8u) << r.out;
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(ParseJson(lines[i])["position"].GetUint64(), 4 + i);
  }
  r = Tool({"dump", "--from", "18"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), 3u);
  r = Tool({"dump", "--to", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), 2u);
  r = Tool({"dump", "--from", "100"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  r = Tool({"dump", "--from", "9", "--to", "3"});
  EXPECT_EQ(r.exit_code, 2);
  r = Tool({"dump", "--from", "-3"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("eventide-log: ", 0), 0u) << r.err;
}

TEST_F(EventideLogTest, GetPrintsOneEntry) {
  WriteStandardLog();
  RunResult r = Tool({"get", "7", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Lines(r.out).size(), 1u) << r.out;
  rapidjson::Document d = ParseJson(Lines(r.out)[0]);
  EXPECT_EQ(d["position"].GetUint64(), 7u);
  EXPECT_STREQ(d["id"].GetString(), "m7");

  r = Tool({"get", "7"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("7 ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("id=m7"), std::string::npos) << r.out;
}

TEST_F(EventideLogTest, GetOfAMissingPositionSaysWhatIsRetained) {
  WriteStandardLog();
  for (const char* p : {"21", "0", "999999"}) {
    RunResult r = Tool({"get", p});
    EXPECT_EQ(r.exit_code, 1) << p;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind("eventide-log: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("retains positions 1..20"), std::string::npos) << r.err;
    EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  }
  RunResult r = Tool({"get", "seven"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST_F(EventideLogTest, TailPrintsTheLastEntries) {
  WriteStandardLog();
  RunResult r = Tool({"tail"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[0].rfind("11 ", 0), 0u) << lines[0];
  EXPECT_EQ(lines[9].rfind("20 ", 0), 0u) << lines[9];

  r = Tool({"tail", "-n", "3", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(ParseJson(lines[0])["position"].GetUint64(), 18u);

  r = Tool({"tail", "-n", "500"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), 20u);
}

// Reads lines from `fd` until `want` lines have arrived or `timeout` passes.
std::vector<std::string> ReadLines(int fd, size_t want, std::chrono::milliseconds timeout,
                                   std::string* buffer) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::vector<std::string> lines = Lines(*buffer);
    if (lines.size() >= want) return lines;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return lines;
    struct pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char chunk[4096];
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n <= 0) return Lines(*buffer);
    buffer->append(chunk, static_cast<size_t>(n));
  }
}

TEST_F(EventideLogTest, TailFollowPicksUpEntriesAppendedLater) {
  WriteStandardLog();
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  std::string bin = EVENTIDE_LOG_BIN;
  std::string data = dir_.path();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], 1);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    ::execl(bin.c_str(), bin.c_str(), "--data", data.c_str(), "tail", "-n", "2", "-f", "--json",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string buffer;
  std::vector<std::string> lines = ReadLines(pipe_fds[0], 2, std::chrono::seconds(10), &buffer);
  ASSERT_EQ(lines.size(), 2u) << buffer;
  EXPECT_EQ(ParseJson(lines[1])["position"].GetUint64(), 20u);

  // Enough to roll into new segments, so the follower must find them.
  {
    auto log = Log::Open(Options());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    std::vector<std::string> more;
    for (int i = 0; i < 8; ++i) {
      more.push_back(Encoded(
          {event::Op::kPublish, "app1", "Chat", "", "", "", "{\"n\":" + std::to_string(i) + "}"}));
    }
    AppendTo(log->get(), more);
  }
  lines = ReadLines(pipe_fds[0], 10, std::chrono::seconds(10), &buffer);
  ASSERT_EQ(lines.size(), 10u) << buffer;
  for (size_t i = 2; i < 10; ++i) {
    rapidjson::Document d = ParseJson(lines[i]);
    EXPECT_EQ(d["position"].GetUint64(), 19 + i);
    EXPECT_STREQ(d["table"].GetString(), "Chat");
  }

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ::close(pipe_fds[0]);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// A follower that starts while the writer is creating a segment (the file is
// there, its header not yet written) still sees the entries that go into it.
TEST_F(EventideLogTest, TailFollowCarriesOnPastASegmentBeingCreated) {
  WriteStandardLog();
  std::string next = dir_.Sub(wal::SegmentFileName(Position(21)));
  wal::WriteFile(next, "");
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  std::string bin = EVENTIDE_LOG_BIN;
  std::string data = dir_.path();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], 1);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    ::execl(bin.c_str(), bin.c_str(), "--data", data.c_str(), "tail", "-n", "1", "-f", "--json",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string buffer;
  std::vector<std::string> lines = ReadLines(pipe_fds[0], 1, std::chrono::seconds(10), &buffer);
  ASSERT_EQ(lines.size(), 1u) << buffer;
  {
    // Recovery removes the headerless segment and creates it again.
    auto log = Log::Open(Options());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    AppendTo(log->get(), {Encoded({event::Op::kPublish, "app1", "Chat", "", "", "", "1"})});
  }
  lines = ReadLines(pipe_fds[0], 2, std::chrono::seconds(10), &buffer);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(pipe_fds[0]);
  ASSERT_EQ(lines.size(), 2u) << buffer;
  EXPECT_EQ(ParseJson(lines[1])["position"].GetUint64(), 21u);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// A follower that polls while the writer is rolling (the next segment file
// is there, its header not yet written) neither stops nor misses the entries
// that go into that segment. The window is microseconds in a real roll; the
// test holds it open across several polls.
TEST_F(EventideLogTest, TailFollowWaitsOutASegmentWithoutItsHeaderYet) {
  WriteStandardLog();
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  std::string bin = EVENTIDE_LOG_BIN;
  std::string data = dir_.path();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], 1);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    ::execl(bin.c_str(), bin.c_str(), "--data", data.c_str(), "tail", "-n", "1", "-f", "--json",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string buffer;
  std::vector<std::string> lines = ReadLines(pipe_fds[0], 1, std::chrono::seconds(10), &buffer);
  ASSERT_EQ(lines.size(), 1u) << buffer;
  wal::WriteFile(dir_.Sub(wal::SegmentFileName(Position(21))), "");
  ::usleep(700 * 1000);  // three or four polls
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), 0) << "tail -f stopped";
  {
    // Recovery removes the headerless segment and creates it again.
    auto log = Log::Open(Options());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    AppendTo(log->get(), {Encoded({event::Op::kPublish, "app1", "Chat", "", "", "", "1"})});
  }
  lines = ReadLines(pipe_fds[0], 2, std::chrono::seconds(10), &buffer);
  ::kill(pid, SIGTERM);
  ::waitpid(pid, &status, 0);
  ::close(pipe_fds[0]);
  ASSERT_EQ(lines.size(), 2u) << buffer;
  EXPECT_EQ(ParseJson(lines[1])["position"].GetUint64(), 21u);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(EventideLogTest, StatsCountsTablesAndOperations) {
  WriteStandardLog();
  RunResult r = Tool({"stats", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document d = ParseJson(r.out);
  EXPECT_EQ(d["entries"].GetUint64(), 20u);
  EXPECT_EQ(d["first_position"].GetUint64(), 1u);
  EXPECT_EQ(d["last_position"].GetUint64(), 20u);
  EXPECT_EQ(d["tables"]["app1/Message"]["entries"].GetUint64(), 10u);
  EXPECT_EQ(d["tables"]["app1/User"]["entries"].GetUint64(), 9u);
  EXPECT_EQ(d["operations"]["create"]["entries"].GetUint64(), 9u);
  EXPECT_EQ(d["operations"]["update"]["entries"].GetUint64(), 8u);
  EXPECT_EQ(d["operations"]["delete"]["entries"].GetUint64(), 1u);
  EXPECT_EQ(d["operations"]["publish"]["entries"].GetUint64(), 1u);
  EXPECT_EQ(d["undecodable"].GetUint64(), 1u);
  EXPECT_STREQ(d["first_time"].GetString(), "2025-01-15T10:30:00.000Z");
  uint64_t log_bytes = 0;
  for (const auto& p : SegmentPaths()) log_bytes += std::filesystem::file_size(p);
  EXPECT_EQ(d["log_bytes"].GetUint64(), log_bytes);

  r = Tool({"stats"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("entries        20"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("positions      1..20"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("app1/Message  10 entries"), std::string::npos) << r.out;
}

TEST_F(EventideLogTest, VerifyCleanLogExitsZero) {
  WriteStandardLog();
  RunResult r = Tool({"verify"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("20 entries (positions 1..20)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("clean"), std::string::npos) << r.out;
  r = Tool({"verify", "--strict"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(EventideLogTest, VerifyFindsAFlippedByteInAnEarlierSegment) {
  WriteStandardLog();
  std::vector<std::string> paths = SegmentPaths();
  ASSERT_GE(paths.size(), 3u);
  uint64_t offset = LastEntryOffset(paths[1]);
  wal::IncrementByte(paths[1], offset + wal::kEntryHeaderBytes + 3);  // in the payload
  RunResult r = Tool({"verify"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.err.rfind("eventide-log: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(paths[1]), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("offset " + std::to_string(offset) + ":"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("checksum"), std::string::npos) << r.err;

  // The commands that open the log refuse it and point at verify.
  r = Tool({"dump"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("verify"), std::string::npos) << r.err;
  // segments still describes every file.
  r = Tool({"segments"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("corrupt at offset " + std::to_string(offset)), std::string::npos) << r.out;
}

TEST_F(EventideLogTest, VerifyFindsAMissingSegment) {
  WriteStandardLog();
  std::vector<std::string> paths = SegmentPaths();
  ASSERT_GE(paths.size(), 3u);
  std::filesystem::remove(paths[1]);
  RunResult r = Tool({"verify"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find(paths[2] + " offset 0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("missing"), std::string::npos) << r.err;
}

TEST_F(EventideLogTest, VerifyTornLastSegmentIsANoteUnlessStrict) {
  WriteStandardLog();
  std::string last = SegmentPaths().back();
  uint64_t size = std::filesystem::file_size(last);
  uint64_t offset = LastEntryOffset(last);
  wal::ShrinkTo(last, size - 3);  // the last entry loses its end: a crash mid-append
  SyncedUpTo(offset);             // ... of an entry that was never synced
  RunResult r = Tool({"verify"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("note: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(last + " offset " + std::to_string(offset)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("recovery cuts " + std::to_string(size - 3 - offset) + " bytes"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("19 entries"), std::string::npos) << r.out;

  r = Tool({"verify", "--strict"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.err.rfind("eventide-log: ", 0), 0u) << r.err;

  // The read-only commands read around a torn tail.
  r = Tool({"dump"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), 19u);
}

TEST_F(EventideLogTest, VerifyTornHeaderOfLastSegmentIsANote) {
  WriteStandardLog();
  std::string next = dir_.Sub(wal::SegmentFileName(Position(21)));
  wal::WriteFile(next, std::string(10, '\0'));
  RunResult r = Tool({"verify"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("note: " + next + " offset 0"), std::string::npos) << r.out;
  r = Tool({"verify", "--strict"});
  EXPECT_EQ(r.exit_code, 1);
}

TEST_F(EventideLogTest, VerifyCorruptEntryInLastSegmentIsDamage) {
  WriteStandardLog();
  std::string last = SegmentPaths().back();
  uint64_t offset = FirstEntryOffset(last);
  wal::IncrementByte(last, offset + wal::kEntryHeaderBytes);
  RunResult r = Tool({"verify"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find(last + " offset " + std::to_string(offset)), std::string::npos) << r.err;
}

// Issue 13: a flipped byte in the middle of the last segment, with valid
// entries after it. Start-up refuses the log; verify shows what is there and
// what repair would drop; dump shows the entries before the damage; repair
// cuts there, and the log carries on from the position after the cut.
TEST_F(EventideLogTest, DamageInsideTheLastSegmentIsShownAndRepairedOnlyOnRequest) {
  WriteStandardLog();
  std::string last = SegmentPaths().back();
  auto base = wal::ParseSegmentFileName(std::filesystem::path(last).filename().string());
  ASSERT_TRUE(base.has_value());
  const std::string pristine = wal::ReadFile(last);
  std::vector<uint64_t> offsets = wal::EntryOffsets(pristine);
  ASSERT_GE(offsets.size(), 3u);
  const uint64_t damaged = base->value() + 1;  // the second entry of the segment
  wal::IncrementByte(last, offsets[1] + wal::kEntryHeaderBytes + 1);

  auto log = Log::Open(Options());
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(log.status().IsCorruption()) << log.status().ToString();
  EXPECT_EQ(wal::ReadFile(last).size(), pristine.size()) << "start-up cut the log";

  RunResult r = Tool({"verify"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("damage: " + last + " offset " + std::to_string(offsets[1])),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("after it: " + std::to_string(offsets.size() - 2) +
                       " valid entries, positions " + std::to_string(damaged + 1) + "..20"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("repair --truncate-after " + std::to_string(damaged - 1) + "` would drop " +
                       std::to_string(pristine.size() - offsets[1]) + " bytes"),
            std::string::npos)
      << r.out;

  r = Tool({"dump", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), damaged - 1);
  EXPECT_NE(r.err.find("warning: " + last + " offset " + std::to_string(offsets[1])),
            std::string::npos)
      << r.err;

  r = Tool({"repair", "--truncate-after", std::to_string(damaged - 1)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("lowered SYNCED"), std::string::npos) << r.out;
  r = Tool({"verify", "--strict"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  log = Log::Open(Options());
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ((*log)->durable_head(), Position(damaged - 1));
  auto next = (*log)->Append("after repair");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, Position(damaged));
}

TEST_F(EventideLogTest, RepairTruncateAfterCutsTheLog) {
  WriteStandardLog();
  size_t segments_before = SegmentPaths().size();
  RunResult r = Tool({"repair", "--truncate-after", "7"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("removed "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ends at position 7"), std::string::npos) << r.out;
  EXPECT_LT(SegmentPaths().size(), segments_before);

  r = Tool({"verify", "--strict"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = Tool({"dump", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 7u) << r.out;
  EXPECT_EQ(ParseJson(lines.back())["position"].GetUint64(), 7u);
  r = Tool({"get", "8"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("1..7"), std::string::npos) << r.err;

  // The log carries on from 8.
  {
    auto log = Log::Open(Options());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    EXPECT_EQ((*log)->durable_head(), Position(7));
  }
  // Past the end there is nothing to keep.
  r = Tool({"repair", "--truncate-after", "50"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  r = Tool({"repair"});
  EXPECT_EQ(r.exit_code, 2);
}

// The operator's path after start-up refuses a damaged log: verify names the
// damage, repair cuts just before it, and the log is whole again.
TEST_F(EventideLogTest, RepairCutsBeforeDamageInAnEarlierSegment) {
  WriteStandardLog();
  std::vector<std::string> paths = SegmentPaths();
  ASSERT_GE(paths.size(), 3u);
  auto base = wal::ParseSegmentFileName(std::filesystem::path(paths[1]).filename().string());
  ASSERT_TRUE(base.has_value());
  uint64_t offset = LastEntryOffset(paths[1]);
  // The damaged entry's position, read before the damage.
  uint64_t damaged = 0;
  {
    auto r = wal::SegmentReader::Open(paths[1], *base);
    ASSERT_TRUE(r.ok());
    wal::Entry e;
    while ((*r)->Next(&e) == wal::SegmentReader::Outcome::kEntry) damaged = e.position.value();
  }
  ASSERT_GT(damaged, base->value());
  wal::IncrementByte(paths[1], offset + wal::kEntryHeaderBytes);
  RunResult r = Tool({"verify"});
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find(paths[1] + " offset " + std::to_string(offset)), std::string::npos) << r.err;

  // Keeping the damaged entry, or anything after it, is refused before a
  // byte is cut, and the refusal says where to cut instead.
  uint64_t keep = damaged - 1;
  for (uint64_t n : {damaged, damaged + 3}) {
    size_t segments_before = SegmentPaths().size();
    r = Tool({"repair", "--truncate-after", std::to_string(n)});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_EQ(r.err.rfind("eventide-log: repair refused: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(paths[1] + " offset " + std::to_string(offset)), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("--truncate-after " + std::to_string(keep)), std::string::npos) << r.err;
    EXPECT_EQ(SegmentPaths().size(), segments_before);
  }

  r = Tool({"repair", "--truncate-after", std::to_string(keep)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("cut " + paths[1] + " at offset " + std::to_string(offset)),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("removed " + paths[2]), std::string::npos) << r.out;

  r = Tool({"verify", "--strict"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = Tool({"tail", "-n", "1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Lines(r.out).size(), 1u) << r.out;
  EXPECT_EQ(ParseJson(Lines(r.out)[0])["position"].GetUint64(), keep);
}

TEST_F(EventideLogTest, RepairRefusesWhileTheLogIsOpen) {
  WriteStandardLog();
  auto log = Log::Open(Options());
  ASSERT_TRUE(log.ok());
  RunResult r = Tool({"repair", "--truncate-after", "3"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find("in use"), std::string::npos) << r.err;
}

TEST_F(EventideLogTest, DataDirectoryWithAWalSubdirectoryWorks) {
  TempDir data;
  std::filesystem::create_directory(data.Sub("wal"));
  {
    LogOptions o;
    o.dir = data.Sub("wal");
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok());
    AppendTo(log->get(), {Encoded({event::Op::kCreate, "a", "T", "1", "", "", "{}"})});
  }
  RunResult r = RunTool({"--data", data.path(), "dump", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), 1u);
  // --data may also follow the command.
  r = RunTool({"get", "1", "--data", data.path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(EventideLogTest, MissingDirectoryIsAnEnvironmentError) {
  std::string missing = dir_.Sub("nope");
  for (const char* cmd : {"segments", "dump", "verify", "stats"}) {
    RunResult r = RunTool({"--data", missing, cmd});
    EXPECT_EQ(r.exit_code, 2) << cmd;
    EXPECT_EQ(r.err, "eventide-log: no such directory: " + missing + "\n");
  }
}

TEST_F(EventideLogTest, ForeignDirectoryIsAnEnvironmentError) {
  wal::WriteFile(dir_.Sub("notes.txt"), "hello");
  wal::WriteFile(dir_.Sub("app.log"), "not a segment");
  RunResult r = Tool({"verify"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("eventide-log: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("not an Eventide data or log directory"), std::string::npos) << r.err;
  EXPECT_EQ(Lines(r.err).size(), 1u);

  std::filesystem::create_directory(dir_.Sub("wal"));
  r = Tool({"dump"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no log segments in"), std::string::npos) << r.err;
}

TEST_F(EventideLogTest, UsageErrorsExitTwo) {
  WriteStandardLog();
  for (std::vector<std::string> args : {std::vector<std::string>{},
                                        {"frobnicate"},
                                        {"dump", "--bogus"},
                                        {"get"},
                                        {"tail", "-n", "x"}}) {
    RunResult r = Tool(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.err.rfind("eventide-log: ", 0), 0u) << r.err;
  }
  RunResult r = RunTool({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("verify"), std::string::npos);
}

}  // namespace
}  // namespace eventide::tools
