// Crash test: a child process appends with fsync `always` from several
// threads and reports every acknowledged position through a pipe; the parent
// kill -9's it at a random moment, reopens the log (recovery) and checks that
// every acknowledged entry is present, intact and in order. Many rounds, each
// continuing the same log, with small segments so that crashes also land in
// the middle of segment rolls.
//
// At the end, the real `eventide-log verify` and `dump --json` run over the
// log the crashes left behind.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "src/event/event.h"
#include "tests/wal/test_util.h"
#include "wal/log.h"

namespace eventide::wal {
namespace {

constexpr int kRounds = 100;
constexpr int kThreads = 8;

// What the child tells the parent for each acknowledged append.
struct Ack {
  uint64_t position;
  uint32_t round;
  uint32_t thread;
  uint64_t k;
};
static_assert(sizeof(Ack) <= PIPE_BUF, "an Ack must be written atomically");

// The payload of the k-th append of `thread` in `round`: a real event, so
// that eventide-log can dump it, with a size that varies from entry to entry.
std::string Payload(uint32_t round, uint32_t thread, uint64_t k, std::string* id_buf,
                    std::string* data_buf) {
  *id_buf = "r" + std::to_string(round) + "t" + std::to_string(thread) + "k" + std::to_string(k);
  *data_buf = "{\"round\":" + std::to_string(round) + ",\"thread\":" + std::to_string(thread) +
              ",\"k\":" + std::to_string(k) + ",\"pad\":\"" +
              std::string((round * 131 + thread * 17 + k * 7) % 900, 'x') + "\"}";
  event::Event e;
  e.op = event::Op::kCreate;
  e.time_ms = static_cast<int64_t>(k);
  e.app = "crash";
  e.table = "Entry";
  e.id = *id_buf;
  e.data = *data_buf;
  std::string out;
  event::Encode(e, &out);
  return out;
}

LogOptions Options(const std::string& dir) {
  LogOptions o;
  o.dir = dir;
  o.segment_bytes = 64 << 10;  // small: rolls happen every few hundred entries
  return o;                    // fsync always (the default)
}

[[noreturn]] void ChildMain(const std::string& dir, uint32_t round, int ack_fd) {
  auto log = Log::Open(Options(dir));
  if (!log.ok()) {
    std::fprintf(stderr, "child: open: %s\n", log.status().ToString().c_str());
    _exit(3);
  }
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string id, data;
      for (uint64_t k = 0;; ++k) {
        auto p = (*log)->Append(Payload(round, t, k, &id, &data));
        if (!p.ok() || !(*log)->WaitDurable(*p).ok()) _exit(4);
        Ack ack{p->value(), round, t, k};
        if (::write(ack_fd, &ack, sizeof(ack)) != sizeof(ack)) _exit(5);
      }
    });
  }
  for (auto& th : threads) th.join();
  _exit(0);
}

TEST(CrashTest, EveryAcknowledgedEntrySurvivesKill9) {
  TempDir dir;
  std::mt19937_64 rng(std::random_device{}());
  std::map<uint64_t, Ack> acked;  // every acknowledged position, all rounds
  uint64_t total_cut_bytes = 0;

  for (uint32_t round = 1; round <= kRounds; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      ChildMain(dir.path(), round, fds[1]);
    }
    ::close(fds[1]);
    // Kill at a random moment: sometimes during open/recovery, mostly mid-append.
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 60000));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited on its own with " << WEXITSTATUS(status);
    Ack ack;
    ssize_t n;
    while ((n = ::read(fds[0], &ack, sizeof(ack))) == sizeof(ack)) {
      ASSERT_EQ(acked.count(ack.position), 0u) << "position acknowledged twice";
      acked[ack.position] = ack;
    }
    ASSERT_EQ(n, 0) << "partial ack record";
    ::close(fds[0]);

    // Reopen: recovery cuts what the kill tore, and must keep every ack.
    RecoveryReport report;
    auto log = Log::Open(Options(dir.path()), &report);
    ASSERT_TRUE(log.ok()) << "round " << round << ": " << log.status().ToString();
    total_cut_bytes += report.tail_bytes;
    if (!acked.empty()) {
      ASSERT_GE(report.head.value(), acked.rbegin()->first) << "round " << round;
    }
    // Read the whole log in order: gap-free from 1, and every acked entry
    // holds exactly the bytes that were acknowledged.
    auto reader = (*log)->NewReader();
    Entry e;
    uint64_t expect = 1;
    std::string id, data;
    for (;;) {
      auto r = reader->Next(&e);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      if (!*r) break;
      ASSERT_EQ(e.position.value(), expect);
      auto it = acked.find(expect);
      if (it != acked.end()) {
        ASSERT_EQ(e.payload, Payload(it->second.round, it->second.thread, it->second.k, &id, &data))
            << "position " << expect;
      }
      ++expect;
    }
    ASSERT_EQ(expect - 1, report.head.value());
  }
  EXPECT_GT(acked.size(), 1000u) << "too few acknowledged appends to mean much";
  std::printf("crash test: %d rounds, %zu acknowledged entries, %llu torn bytes cut\n", kRounds,
              acked.size(), static_cast<unsigned long long>(total_cut_bytes));

#ifdef EVENTIDE_LOG_BIN
  // The inspection tool works on a log written this way.
  std::string verify = std::string(EVENTIDE_LOG_BIN) + " --data " + dir.path() + " verify 2>&1";
  FILE* f = ::popen(verify.c_str(), "r");
  ASSERT_NE(f, nullptr);
  char line[4096];
  std::string out;
  while (std::fgets(line, sizeof(line), f)) out += line;
  int rc = ::pclose(f);
  EXPECT_EQ(WEXITSTATUS(rc), 0) << out;

  std::string dump = std::string(EVENTIDE_LOG_BIN) + " --data " + dir.path() + " dump --json";
  f = ::popen(dump.c_str(), "r");
  ASSERT_NE(f, nullptr);
  uint64_t lines = 0;
  std::vector<char> buf(1 << 16);  // entries here are under 2 KiB
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), f)) {
    std::string_view l(buf.data());
    EXPECT_TRUE(l.size() > 2 && l.front() == '{' && l.substr(l.size() - 2) == "}\n") << l;
    ++lines;
  }
  rc = ::pclose(f);
  EXPECT_EQ(WEXITSTATUS(rc), 0);
  auto log = Log::Open(Options(dir.path()));
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(lines, (*log)->durable_head().value());
#endif
}

}  // namespace
}  // namespace eventide::wal
