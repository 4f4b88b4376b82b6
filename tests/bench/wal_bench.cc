// wal_bench: what the log costs against what the disk can do, in one run.
//
// Three groups of figures, all measured in a scratch directory on the real
// disk (see ScratchRoot), so that every ratio compares numbers taken minutes
// apart on the same, shared and noisy, machine:
//
//   Raw/*       the disk without the log: one write()+fdatasync() per record
//               (the rate a log without group commit would get), and
//               sequential 1 MiB write()s without sync (page cache bandwidth).
//   Append/*    Log::Append in a closed loop with N entries outstanding: the
//               durable listener issues one new Append for every entry that
//               became durable. Latency is Append call to listener call.
//   ReaderScan  a Reader over 256 MiB of 1 KiB entries that are in the page
//               cache.
//
// After the benchmarks, the ratios against the targets in docs/PERFORMANCE.md
// are printed. Environment: EVENTIDE_BENCH_DIR (scratch root),
// EVENTIDE_BENCH_SECONDS (seconds per append/raw-sync run, default 5).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "wal/env.h"
#include "wal/format.h"
#include "wal/log.h"
#include "wal/status.h"

namespace eventide::wal {
namespace {

// Sequential raw writes and the never-mode cap use the same volume, so that
// both stay under the kernel's dirty-page thresholds (or both do not).
constexpr uint64_t kSeqBytes = 512ull << 20;
constexpr size_t kSeqWriteBytes = 1 << 20;
constexpr uint64_t kScanBytes = 256ull << 20;
constexpr size_t kScanPayloadBytes = 1024;

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// User + system CPU time of the whole process. During a closed-loop run the
// benchmark thread sleeps, so this is the writer thread's (appends included).
double ProcessCpuSeconds() {
  struct rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const struct timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

double RunSeconds() {
  const char* s = ::getenv("EVENTIDE_BENCH_SECONDS");
  double v = s ? std::atof(s) : 0;
  return v > 0 ? v : 5.0;
}

// How long each paired raw-fdatasync baseline of an append run lasts.
double ProbeSeconds() { return std::min(1.0, RunSeconds()); }

// Headline rates by benchmark name, for the ratio summary printed at the end.
std::map<std::string, double>& Results() {
  static std::map<std::string, double> results;
  return results;
}

// ---- Scratch directory ----

std::string ScratchRoot() {
  if (const char* d = ::getenv("EVENTIDE_BENCH_DIR")) return d;
  return EVENTIDE_BENCH_SCRATCH_DIR;
}

// A fresh directory under ScratchRoot(), removed with its contents on exit.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = ScratchRoot() + "/wal_bench-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror(("mkdtemp " + tmpl).c_str());
      std::abort();
    }
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string FilesystemType(const std::string& path) {
  struct statfs st;
  if (::statfs(path.c_str(), &st) != 0) return "unknown";
  switch (static_cast<unsigned long>(st.f_type)) {
    case 0xEF53:
      return "ext2/3/4";
    case 0x01021994:
      return "tmpfs (no disk: fdatasync costs nothing!)";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x794c7630:
      return "overlayfs";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "0x%lx", static_cast<unsigned long>(st.f_type));
      return buf;
    }
  }
}

// ---- Latency percentiles ----

double PercentileMicros(std::vector<int64_t>* nanos, double q) {
  if (nanos->empty()) return 0;
  size_t k = static_cast<size_t>(q * static_cast<double>(nanos->size() - 1));
  std::nth_element(nanos->begin(), nanos->begin() + static_cast<ptrdiff_t>(k), nanos->end());
  return static_cast<double>((*nanos)[k]) / 1e3;
}

// ---- An Env that counts the log's write() and fdatasync() calls ----

struct IoCounts {
  std::atomic<uint64_t> writes{0};
  std::atomic<uint64_t> syncs{0};
  std::atomic<int64_t> sync_nanos{0};
};

class CountingFile : public WritableFile {
 public:
  CountingFile(std::unique_ptr<WritableFile> base, IoCounts* counts)
      : base_(std::move(base)), counts_(counts) {}
  Status Append(std::string_view data) override {
    counts_->writes.fetch_add(1, std::memory_order_relaxed);
    return base_->Append(data);
  }
  Status Sync() override {
    int64_t start = NowNanos();
    Status s = base_->Sync();
    counts_->sync_nanos.fetch_add(NowNanos() - start, std::memory_order_relaxed);
    counts_->syncs.fetch_add(1, std::memory_order_relaxed);
    return s;
  }
  Status Close() override { return base_->Close(); }

 private:
  std::unique_ptr<WritableFile> base_;
  IoCounts* counts_;
};

class CountingEnv : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path,
                                                      bool create) override {
    auto f = Env::Default()->OpenForAppend(path, create);
    if (!f.ok()) return f.status();
    return std::unique_ptr<WritableFile>(new CountingFile(std::move(f).value(), &counts));
  }
  Result<std::unique_ptr<MarkFile>> OpenMarkFile(const std::string& path, bool* created) override {
    return Env::Default()->OpenMarkFile(path, created);
  }
  Status SyncDir(const std::string& dir) override { return Env::Default()->SyncDir(dir); }
  Status RemoveFile(const std::string& path) override { return Env::Default()->RemoveFile(path); }
  Status TruncateFile(const std::string& path, uint64_t bytes) override {
    return Env::Default()->TruncateFile(path, bytes);
  }

  IoCounts counts;
};

// ---- Raw disk ----

// One record appended to a plain file and fdatasync'ed, again and again, for
// `seconds`: what one durable append costs without group commit. Appends each
// latency (ns) to *latencies; returns records per second, or -1 on failure.
double RawFdatasyncRate(const std::string& dir, size_t record_bytes, double seconds,
                        std::vector<int64_t>* latencies) {
  const std::string path = dir + "/raw";
  const std::string record(record_bytes, 'r');
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  const int64_t run_nanos = static_cast<int64_t>(seconds * 1e9);
  const int64_t start = NowNanos();
  int64_t now = start;
  uint64_t records = 0;
  while (now - start < run_nanos) {
    const int64_t t = now;
    if (::write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size()) ||
        ::fdatasync(fd) != 0) {
      ::close(fd);
      return -1;
    }
    now = NowNanos();
    if (latencies) latencies->push_back(now - t);
    ++records;
  }
  ::close(fd);
  ::unlink(path.c_str());
  return static_cast<double>(records) / (static_cast<double>(now - start) / 1e9);
}

// kSeqBytes in 1 MiB write()s without any sync: page-cache (and, past the
// dirty thresholds, disk) bandwidth. The file is deleted afterwards, which
// also drops its dirty pages before the next measurement. Returns bytes per
// second, or -1 on failure; *bytes_per_cpu_second (optional) is the same
// bytes over the CPU time spent, which does not depend on how much of a core
// the other tenants of the machine left us.
double RawSequentialRate(const std::string& dir, double* bytes_per_cpu_second = nullptr) {
  const std::string path = dir + "/seq";
  const std::string chunk(kSeqWriteBytes, 's');
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  const double cpu_start = ProcessCpuSeconds();
  const int64_t start = NowNanos();
  for (uint64_t done = 0; done < kSeqBytes; done += chunk.size()) {
    if (::write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) {
      ::close(fd);
      return -1;
    }
  }
  const double secs = static_cast<double>(NowNanos() - start) / 1e9;
  const double cpu_secs = ProcessCpuSeconds() - cpu_start;
  ::close(fd);
  ::unlink(path.c_str());
  if (bytes_per_cpu_second) *bytes_per_cpu_second = static_cast<double>(kSeqBytes) / cpu_secs;
  return static_cast<double>(kSeqBytes) / secs;
}

void BM_RawWriteFdatasync(benchmark::State& state) {
  const size_t record_bytes = static_cast<size_t>(state.range(0));
  ScratchDir dir;
  std::vector<int64_t> latencies;
  latencies.reserve(1 << 16);
  double rate = 0;
  for (auto _ : state) {
    rate = RawFdatasyncRate(dir.path(), record_bytes, RunSeconds(), &latencies);
    if (rate < 0) {
      state.SkipWithError("write/fdatasync failed");
      return;
    }
    state.SetIterationTime(static_cast<double>(latencies.size()) / rate);
  }
  const int64_t records = static_cast<int64_t>(latencies.size());
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(records * static_cast<int64_t>(record_bytes));
  state.counters["p50_us"] = PercentileMicros(&latencies, 0.50);
  state.counters["p99_us"] = PercentileMicros(&latencies, 0.99);
  state.counters["syncs/s"] = rate;
  Results()["raw_fdatasync/" + std::to_string(record_bytes)] = rate;
}

void BM_RawSequentialWrite(benchmark::State& state) {
  ScratchDir dir;
  double seconds = 0;
  for (auto _ : state) {
    const double rate = RawSequentialRate(dir.path());
    if (rate < 0) {
      state.SkipWithError("write failed");
      return;
    }
    const double secs = static_cast<double>(kSeqBytes) / rate;
    state.SetIterationTime(secs);
    seconds += secs;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kSeqBytes));
  Results()["raw_seq"] = static_cast<double>(state.iterations() * kSeqBytes) / seconds;
}

// ---- Closed-loop appends ----

// N appends outstanding at all times: the listener (writer thread) issues one
// new Append per entry that became durable. The ring `started_` holds the
// Append time of each outstanding position at slot position % N; the N
// outstanding positions are consecutive, so their slots never collide.
class ClosedLoop {
 public:
  ClosedLoop(size_t outstanding, size_t payload_bytes, int64_t run_nanos, uint64_t max_entries)
      : n_(outstanding),
        payload_(payload_bytes, 'p'),
        run_nanos_(run_nanos),
        max_entries_(max_entries),
        started_(outstanding) {
    latencies_.reserve(1 << 22);
  }

  // Runs until the time or entry budget is spent. REQUIRES: `log` is fresh
  // and this loop's listener is installed.
  Status Run(Log* log) {
    log_ = log;
    {
      // Held while the first N are issued, so that the listener cannot
      // interleave its own appends before their start times are stored.
      std::lock_guard<std::mutex> lk(mu_);
      start_nanos_ = NowNanos();
      for (size_t i = 0; i < n_; ++i) {
        Status s = AppendOne();
        if (!s.ok()) return s;
      }
    }
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return finished_; });
    return error_;
  }

  void OnDurable(Position durable, const Status& status) {
    std::lock_guard<std::mutex> lk(mu_);
    const int64_t now = NowNanos();
    if (finished_) return;  // draining the last N after the run
    if (!status.ok()) return Finish(now, status);
    for (uint64_t p = last_durable_ + 1; p <= durable.value(); ++p) {
      latencies_.push_back(now - started_[p % n_]);
    }
    const uint64_t fresh = durable.value() - last_durable_;
    completed_ += fresh;
    ++calls_;
    last_durable_ = durable.value();
    if (now - start_nanos_ >= run_nanos_ || completed_ >= max_entries_) {
      return Finish(now, Status::OK());
    }
    for (uint64_t i = 0; i < fresh; ++i) {
      Status s = AppendOne();
      if (!s.ok()) return Finish(now, s);
    }
  }

  // Valid after Run.
  uint64_t completed() const { return completed_; }
  uint64_t calls() const { return calls_; }
  double seconds() const { return static_cast<double>(end_nanos_ - start_nanos_) / 1e9; }
  std::vector<int64_t>* latencies() { return &latencies_; }

 private:
  // REQUIRES: mu_ held.
  Status AppendOne() {
    int64_t t = NowNanos();
    auto p = log_->Append(payload_);
    if (!p.ok()) return p.status();
    started_[p.value().value() % n_] = t;
    return Status::OK();
  }
  // REQUIRES: mu_ held.
  void Finish(int64_t now, const Status& s) {
    finished_ = true;
    end_nanos_ = now;
    error_ = s;
    done_cv_.notify_all();
  }

  const size_t n_;
  const std::string payload_;
  const int64_t run_nanos_;
  const uint64_t max_entries_;
  Log* log_ = nullptr;

  std::mutex mu_;  // uncontended except while Run issues the first N
  std::condition_variable done_cv_;
  bool finished_ = false;
  Status error_;
  std::vector<int64_t> started_;
  std::vector<int64_t> latencies_;
  int64_t start_nanos_ = 0;
  int64_t end_nanos_ = 0;
  uint64_t last_durable_ = 0;
  uint64_t completed_ = 0;
  uint64_t calls_ = 0;
};

std::string AppendKey(size_t payload_bytes, const std::string& policy, size_t outstanding) {
  return "append/" + std::to_string(payload_bytes) + "/" + policy + "/" +
         std::to_string(outstanding);
}

// Args: payload bytes, sync mode (0 always, 1 batch:2, 2 never), outstanding.
void BM_Append(benchmark::State& state) {
  const size_t payload_bytes = static_cast<size_t>(state.range(0));
  const auto mode = static_cast<int>(state.range(1));
  const size_t outstanding = static_cast<size_t>(state.range(2));
  const char* policies[] = {"always", "batch:2", "never"};
  state.SetLabel(policies[mode]);

  const uint64_t entry_bytes = kEntryHeaderBytes + payload_bytes;
  ClosedLoop loop(outstanding, payload_bytes, static_cast<int64_t>(RunSeconds() * 1e9),
                  kSeqBytes / entry_bytes);
  CountingEnv env;
  const bool always = mode == 0;
  // The raw figure this run is judged against, measured right before and
  // right after it: the disk's fdatasync latency on this shared machine
  // changes by 20x from one minute to the next, so a baseline from the start
  // of the program does not describe the conditions of a run at its end.
  double baseline_before = 0;
  double baseline_after = 0;
  double seq_per_cpu_before = 0;
  double seq_per_cpu_after = 0;
  double cpu_seconds = 0;
  for (auto _ : state) {
    ScratchDir dir;
    auto baseline = [&](double* per_cpu) {
      return always ? RawFdatasyncRate(dir.path(), payload_bytes, ProbeSeconds(), nullptr)
                    : RawSequentialRate(dir.path(), per_cpu);
    };
    baseline_before = baseline(&seq_per_cpu_before);
    LogOptions options;
    options.dir = dir.path() + "/log";
    options.sync = SyncPolicy::Parse(policies[mode]).value();
    options.env = &env;
    auto opened = Log::Open(options);
    if (!opened.ok()) {
      state.SkipWithError(("open: " + opened.status().ToString()).c_str());
      return;
    }
    std::unique_ptr<Log> log = std::move(opened).value();
    log->SetDurableListener([&loop](Position p, const Status& s) { loop.OnDurable(p, s); });
    const uint64_t syncs_before = env.counts.syncs.load();  // the new segment's own sync
    const int64_t sync_nanos_before = env.counts.sync_nanos.load();
    const uint64_t writes_before = env.counts.writes.load();
    const double cpu_start = ProcessCpuSeconds();
    Status s = loop.Run(log.get());
    cpu_seconds = ProcessCpuSeconds() - cpu_start;
    const uint64_t syncs = env.counts.syncs.load() - syncs_before;
    const int64_t sync_nanos = env.counts.sync_nanos.load() - sync_nanos_before;
    const uint64_t writes = env.counts.writes.load() - writes_before;
    log.reset();  // waits for the last N; the loop issues no more
    if (!s.ok()) {
      state.SkipWithError(("append: " + s.ToString()).c_str());
      return;
    }
    baseline_after = baseline(&seq_per_cpu_after);
    state.SetIterationTime(loop.seconds());
    const double secs = loop.seconds();
    // Counted up to the end of the run, approximately: the writer may be in
    // one more write/fdatasync when the loop stops.
    state.counters["syncs/s"] = static_cast<double>(syncs) / secs;
    state.counters["writes/s"] = static_cast<double>(writes) / secs;
    state.counters["sync_ms"] =
        syncs ? static_cast<double>(sync_nanos) / 1e6 / static_cast<double>(syncs) : 0;
    state.counters["sync_busy"] = static_cast<double>(sync_nanos) / 1e9 / secs;
  }
  const auto entries = static_cast<int64_t>(loop.completed());
  state.SetItemsProcessed(entries);
  state.SetBytesProcessed(entries * static_cast<int64_t>(payload_bytes));
  state.counters["group"] =
      loop.calls() ? static_cast<double>(loop.completed()) / static_cast<double>(loop.calls()) : 0;
  state.counters["p50_us"] = PercentileMicros(loop.latencies(), 0.50);
  state.counters["p99_us"] = PercentileMicros(loop.latencies(), 0.99);
  // On-disk bytes (entry headers included) per second, for the comparison
  // with raw sequential writes.
  state.counters["disk_B/s"] = benchmark::Counter(
      static_cast<double>(entries) * static_cast<double>(entry_bytes), benchmark::Counter::kIsRate);
  const std::string key = AppendKey(payload_bytes, policies[mode], outstanding);
  const double rate = static_cast<double>(entries) / loop.seconds();
  const double disk_rate = rate * static_cast<double>(entry_bytes);
  const double paired = (baseline_before + baseline_after) / 2;
  Results()[key] = rate;
  Results()[key + "/disk_B/s"] = disk_rate;
  if (always) {
    state.counters["raw_syncs/s"] = paired;
    state.counters["x_raw"] = rate / paired;
    Results()[key + "/paired"] = rate / paired;
    Results()[key + "/baseline"] = paired;
  } else {
    state.counters["raw_seq_B/s"] = paired;
    state.counters["pct_raw_seq"] = 100 * disk_rate / paired;
    // The same comparison per CPU-second instead of per wall-second.
    const double seq_per_cpu = (seq_per_cpu_before + seq_per_cpu_after) / 2;
    const double disk_per_cpu = static_cast<double>(entries * entry_bytes) / cpu_seconds;
    state.counters["pct_raw_seq_cpu"] = 100 * disk_per_cpu / seq_per_cpu;
    Results()[key + "/paired_cpu"] = 100 * disk_per_cpu / seq_per_cpu;
    Results()[key + "/paired"] = 100 * disk_rate / paired;
    Results()[key + "/baseline"] = paired;
  }
  // How much of a core the run had (the rest went to the machine's other tenants
  // or to waiting for the disk).
  state.counters["cpu_util"] = cpu_seconds / loop.seconds();
  // How much the disk changed under the run (1: not at all).
  state.counters["raw_drift"] = std::max(baseline_before, baseline_after) /
                                std::max(1e-9, std::min(baseline_before, baseline_after));
}

// ---- Open-loop appends (never) ----

// One producer thread appends kSeqBytes of entries as fast as Append accepts
// them (when the write queue is full it waits for the writer to catch up),
// and the run ends when the last one is written. This is what `never` is for:
// how fast the log absorbs appends when nobody waits for a sync. The closed
// loop above instead caps each write at N entries, so with `never` it
// measures the listener round trip rather than the log.
void BM_AppendStream(benchmark::State& state) {
  const size_t payload_bytes = static_cast<size_t>(state.range(0));
  const uint64_t entry_bytes = kEntryHeaderBytes + payload_bytes;
  const uint64_t count = kSeqBytes / entry_bytes;
  const std::string payload(payload_bytes, 'p');
  double baseline_before = 0, baseline_after = 0, per_cpu_before = 0, per_cpu_after = 0;
  double secs = 0, cpu_seconds = 0;
  for (auto _ : state) {
    ScratchDir dir;
    baseline_before = RawSequentialRate(dir.path(), &per_cpu_before);
    LogOptions options;
    options.dir = dir.path() + "/log";
    options.sync.mode = SyncPolicy::Mode::kNever;
    if (const char* sb = ::getenv("EVENTIDE_BENCH_SEGMENT_BYTES"))
      options.segment_bytes = std::strtoull(sb, nullptr, 10);
    auto opened = Log::Open(options);
    if (!opened.ok()) {
      state.SkipWithError(("open: " + opened.status().ToString()).c_str());
      return;
    }
    std::unique_ptr<Log> log = std::move(opened).value();
    const double cpu_start = ProcessCpuSeconds();
    const int64_t start = NowNanos();
    Position last;
    for (uint64_t i = 0; i < count;) {
      auto p = log->Append(payload);
      if (p.ok()) {
        last = p.value();
        ++i;
      } else if (p.status().IsUnavailable()) {
        // The queue is full: wait for the writer's current write to finish,
        // after which it takes the whole queue.
        (void)log->WaitDurable(log->durable_head().Next());
      } else {
        state.SkipWithError(("append: " + p.status().ToString()).c_str());
        return;
      }
    }
    if (Status s = log->WaitDurable(last); !s.ok()) {
      state.SkipWithError(("wait: " + s.ToString()).c_str());
      return;
    }
    secs = static_cast<double>(NowNanos() - start) / 1e9;
    cpu_seconds = ProcessCpuSeconds() - cpu_start;
    log.reset();
    baseline_after = RawSequentialRate(dir.path(), &per_cpu_after);
    state.SetIterationTime(secs);
  }
  const double rate = static_cast<double>(count) / secs;
  const double disk_rate = rate * static_cast<double>(entry_bytes);
  const double paired = (baseline_before + baseline_after) / 2;
  state.SetItemsProcessed(static_cast<int64_t>(count));
  state.SetBytesProcessed(static_cast<int64_t>(count * payload_bytes));
  state.counters["disk_B/s"] = disk_rate;
  state.counters["raw_seq_B/s"] = paired;
  state.counters["pct_raw_seq"] = 100 * disk_rate / paired;
  // Both sides use two threads' worth of work at most; per CPU-second removes
  // the share of the machine other tenants took during each.
  const double per_cpu = (per_cpu_before + per_cpu_after) / 2;
  const double disk_per_cpu = static_cast<double>(count * entry_bytes) / cpu_seconds;
  state.counters["pct_raw_seq_cpu"] = 100 * disk_per_cpu / per_cpu;
  state.counters["cpu_util"] = cpu_seconds / secs;
  const std::string key = "stream/" + std::to_string(payload_bytes) + "/never";
  Results()[key] = rate;
  Results()[key + "/disk_B/s"] = disk_rate;
  Results()[key + "/paired"] = 100 * disk_rate / paired;
  Results()[key + "/paired_cpu"] = 100 * disk_per_cpu / per_cpu;
}

// ---- Reader ----

// 256 MiB of 1 KiB entries written with `never` (so still in the page cache),
// then read start to end by a Reader, once per iteration.
void BM_ReaderScan(benchmark::State& state) {
  ScratchDir dir;
  LogOptions options;
  options.dir = dir.path() + "/log";
  options.sync.mode = SyncPolicy::Mode::kNever;
  auto opened = Log::Open(options);
  if (!opened.ok()) {
    state.SkipWithError(("open: " + opened.status().ToString()).c_str());
    return;
  }
  std::unique_ptr<Log> log = std::move(opened).value();
  const std::string payload(kScanPayloadBytes, 'x');
  const uint64_t count = kScanBytes / (kEntryHeaderBytes + kScanPayloadBytes);
  Position last;
  for (uint64_t i = 0; i < count;) {
    auto p = log->Append(payload);
    if (p.ok()) {
      last = p.value();
      ++i;
    } else if (p.status().IsUnavailable()) {
      // The write queue is full: let the writer catch up.
      (void)log->WaitDurable(last);
    } else {
      state.SkipWithError(("append: " + p.status().ToString()).c_str());
      return;
    }
  }
  if (Status s = log->WaitDurable(last); !s.ok()) {
    state.SkipWithError(("wait: " + s.ToString()).c_str());
    return;
  }

  uint64_t payload_read = 0;
  const int64_t start = NowNanos();
  for (auto _ : state) {
    auto reader = log->NewReader();
    Entry e;
    uint64_t n = 0;
    for (;;) {
      auto more = reader->Next(&e);
      if (!more.ok()) {
        state.SkipWithError(("read: " + more.status().ToString()).c_str());
        return;
      }
      if (!more.value()) break;
      payload_read += e.payload.size();
      ++n;
    }
    if (n != count) {
      state.SkipWithError("reader did not return every entry");
      return;
    }
  }
  Results()["reader_scan"] =
      static_cast<double>(payload_read) / (static_cast<double>(NowNanos() - start) / 1e9);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * count));
  state.SetBytesProcessed(static_cast<int64_t>(payload_read));
  state.counters["disk_B/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * count * (kEntryHeaderBytes + kScanPayloadBytes)),
      benchmark::Counter::kIsRate);
}

// ---- Integrity checks (issue 13) ----

// The SYNCED mark the writer rewrites after each fdatasync: one 32-byte
// pwrite to a page-cached file. Judged against BM_RawWriteFdatasync, the
// cost of the sync it follows, measured in the same run.
void BM_SyncedMarkWrite(benchmark::State& state) {
  ScratchDir dir;
  bool created = false;
  auto file = Env::Default()->OpenMarkFile(dir.path() + "/SYNCED", &created);
  if (!file.ok()) {
    state.SkipWithError(file.status().ToString().c_str());
    return;
  }
  char mark[kSyncedMarkBytes];
  uint64_t bytes = kSegmentHeaderBytes;
  const int64_t start = NowNanos();
  for (auto _ : state) {
    EncodeSyncedMark({Position(1), bytes += 100}, mark);
    if (!(*file)->Write(std::string_view(mark, sizeof(mark))).ok()) {
      state.SkipWithError("pwrite failed");
      return;
    }
  }
  Results()["mark_write_ns"] = static_cast<double>(NowNanos() - start) /
                               static_cast<double>(std::max<int64_t>(1, state.iterations()));
}

// What recovery pays to look past damage for a valid entry (FindValidEntry):
// arg 0 scans zero bytes (a file extended and never written), arg 1 random
// bytes (the worst case: every offset is a candidate header), over 16 MiB.
void BM_FindValidEntry(benchmark::State& state) {
  constexpr size_t kBytes = 16 << 20;
  std::string bytes(kBytes, '\0');
  if (state.range(0) == 1) {
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (char& c : bytes) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      c = static_cast<char>(x);
    }
  }
  for (auto _ : state) {
    auto found = FindValidEntry(bytes, Position(1000));
    benchmark::DoNotOptimize(found);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBytes));
}

// One target: the ratio against the raw figure measured around the run
// (paired) and against the one measured at the start of the program.
void PrintRatio(const std::string& what, const std::string& key, double start_baseline,
                double target, bool percent) {
  auto& r = Results();
  if (!r.count(key)) {
    std::printf("  %-36s (not measured)\n", what.c_str());
    return;
  }
  const double paired = r[key + "/paired"];
  const double scale = percent ? 100 : 1;
  const double vs_start =
      start_baseline > 0 ? scale * r[key + (percent ? "/disk_B/s" : "")] / start_baseline : 0;
  const char* unit = percent ? "%" : "x";
  std::printf("  %-36s paired %8.1f%s  vs start-of-run baseline %8.1f%s", what.c_str(), paired,
              unit, vs_start, unit);
  if (r.count(key + "/paired_cpu"))
    std::printf("  per CPU-second %6.1f%s", r[key + "/paired_cpu"], unit);
  std::printf("  (target >= %g%s): %s\n", target, unit, paired >= target ? "MET" : "MISSED");
}

void PrintSummary() {
  auto& r = Results();
  auto get = [&](const std::string& k) { return r.count(k) ? r[k] : 0.0; };
  std::printf("\nRatios against the targets (docs/PERFORMANCE.md):\n");
  for (size_t size : {100, 1024}) {
    const std::string s = std::to_string(size);
    PrintRatio("always x256, " + s + " B, over fdatasync/s", AppendKey(size, "always", 256),
               get("raw_fdatasync/" + s), 50, false);
  }
  for (size_t size : {100, 1024}) {
    PrintRatio("never stream, " + std::to_string(size) + " B, over seq B/s",
               "stream/" + std::to_string(size) + "/never", get("raw_seq"), 70, true);
  }
  std::printf("  closed loop with never (latency-bound, for reference):\n");
  for (size_t size : {100, 1024}) {
    for (size_t n : {1, 256}) {
      PrintRatio("never x" + std::to_string(n) + ", " + std::to_string(size) + " B, over seq B/s",
                 AppendKey(size, "never", n), get("raw_seq"), 70, true);
    }
  }
  if (r.count("mark_write_ns") && r.count("raw_fdatasync/100")) {
    const double sync_ns = 1e9 / r["raw_fdatasync/100"];
    std::printf("  %-36s %8.0f ns, %.4f of one fdatasync (%.0f ns) in this run\n",
                "SYNCED mark pwrite per batch", r["mark_write_ns"], r["mark_write_ns"] / sync_ns,
                sync_ns);
  }
  const double scan = get("reader_scan");
  std::printf("  %-36s %8.2f GB/s (target >= 1 GB/s): %s\n", "reader scan, payload bytes",
              scan / 1e9, scan >= 1e9 ? "MET" : "MISSED");
}

// Raw baselines first, then the log, then the reader.
BENCHMARK(BM_RawWriteFdatasync)->Arg(100)->Arg(1024)->Iterations(1)->UseManualTime();
BENCHMARK(BM_RawSequentialWrite)->Iterations(3)->UseManualTime();
BENCHMARK(BM_Append)
    ->ArgNames({"payload", "sync", "outstanding"})
    ->ArgsProduct({{100, 1024}, {0}, {1, 16, 256}})
    ->ArgsProduct({{100, 1024}, {1, 2}, {1, 256}})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AppendStream)
    ->ArgName("payload")
    ->Arg(100)
    ->Arg(1024)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReaderScan)->Iterations(5)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SyncedMarkWrite);
BENCHMARK(BM_FindValidEntry)->ArgName("random")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace eventide::wal

int main(int argc, char** argv) {
  using eventide::wal::FilesystemType;
  using eventide::wal::ScratchRoot;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::error_code ec;
  std::filesystem::create_directories(ScratchRoot(), ec);
  benchmark::AddCustomContext("scratch_dir", ScratchRoot());
  benchmark::AddCustomContext("scratch_fs", FilesystemType(ScratchRoot()));
  benchmark::AddCustomContext("seconds_per_run", std::to_string(eventide::wal::RunSeconds()));
  // EVENTIDE_BENCH_PAYLOAD=N adds `always` runs at 1/16/256 appenders with
  // N-byte payloads (scripts/bench_rest.py uses the size of a REST create's
  // log entry, to compare the server with the log it stands on).
  if (const char* extra = ::getenv("EVENTIDE_BENCH_PAYLOAD")) {
    const int64_t n = std::atoll(extra);
    if (n > 0) {
      benchmark::RegisterBenchmark("BM_Append", eventide::wal::BM_Append)
          ->ArgNames({"payload", "sync", "outstanding"})
          ->ArgsProduct({{n}, {0}, {1, 16, 256}})
          ->Iterations(1)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  eventide::wal::PrintSummary();
  benchmark::Shutdown();
  return 0;
}
