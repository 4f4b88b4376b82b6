// Pieces shared by the modes of eventide-load: the clock, URLs, durations,
// a fixed-size latency histogram and process set-up (CPU pinning, the
// descriptor limit). Header-only; everything runs on the one loop thread.
#ifndef EVENTIDE_TOOLS_LOAD_COMMON_H_
#define EVENTIDE_TOOLS_LOAD_COMMON_H_

#include <sched.h>
#include <sys/resource.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace eventide::load {

// Starts reading `tcp`: every connection's reads land in one slab, each
// parsed (or its tail copied to its connection) by `on_read` before the
// loop reads again, so no connection holds a read buffer of its own.
inline void StartReading(uv_tcp_t* tcp, uv_read_cb on_read) {
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(tcp),
      [](uv_handle_t*, size_t, uv_buf_t* buf) {
        static char slab[65536];
        *buf = uv_buf_init(slab, sizeof(slab));
      },
      on_read);
}

// Monotonic microseconds (steady_clock). Send and receive times are both
// taken in this process, so latencies need no wall clock.
inline int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Url {
  bool tls = false;
  std::string host;
  int port = 80;
  std::string path = "/";
};

inline bool ParseUrl(const std::string& s, Url* u) {
  std::string rest;
  if (s.rfind("https://", 0) == 0) {
    u->tls = true;
    u->port = 443;
    rest = s.substr(8);
  } else if (s.rfind("http://", 0) == 0) {
    rest = s.substr(7);
  } else {
    return false;
  }
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) u->path = rest.substr(slash);
  size_t colon = hostport.rfind(':');
  if (colon != std::string::npos && hostport.find(']') == std::string::npos) {
    u->host = hostport.substr(0, colon);
    u->port = std::atoi(hostport.c_str() + colon + 1);
  } else {
    u->host = hostport;
  }
  return !u->host.empty() && u->port > 0 && u->port < 65536;
}

// "500ms", "10s", "2m", or bare seconds; -1 when malformed.
inline int64_t ParseDurationUs(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || v < 0) return -1;
  std::string unit = end;
  if (unit == "ms") return static_cast<int64_t>(v * 1e3);
  if (unit == "s" || unit.empty()) return static_cast<int64_t>(v * 1e6);
  if (unit == "m") return static_cast<int64_t>(v * 60e6);
  return -1;
}

// Latency histogram in microseconds with log-linear buckets: exact below
// 1024 µs, then 512 buckets per power of two (at most 0.2% error), up to
// 2^40 µs. Fixed size (~140 KiB), so recording never allocates: a fan-out
// run records one sample per delivery, which at 10,000 subscribers is far
// too many to keep one by one.
class Histogram {
 public:
  Histogram() : counts_(kBuckets, 0) {}

  void Record(int64_t us) {
    if (us < 0) us = 0;
    if (us > kMaxUs) us = kMaxUs;
    ++counts_[Index(static_cast<uint64_t>(us))];
    ++count_;
    max_us_ = std::max(max_us_, us);
  }
  uint64_t count() const { return count_; }
  double MaxMs() const { return static_cast<double>(max_us_) / 1000.0; }
  // The q-quantile (0 < q ≤ 1) in milliseconds, 0 when empty: the middle of
  // the bucket holding the sample of rank ceil(q * count).
  double PercentileMs(double q) const {
    if (count_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count_) + 0.999999);
    rank = std::clamp<uint64_t>(rank, 1, count_);
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        double mid = static_cast<double>(Low(i)) + static_cast<double>(Width(i) - 1) / 2.0;
        return std::min(mid, static_cast<double>(max_us_)) / 1000.0;
      }
    }
    return MaxMs();
  }
  // {"p50":…,"p90":…,"p99":…,"p999":…,"max":…}
  std::string Json() const {
    char buf[256];
    std::snprintf(
        buf, sizeof(buf), "{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f}",
        PercentileMs(0.5), PercentileMs(0.9), PercentileMs(0.99), PercentileMs(0.999), MaxMs());
    return buf;
  }
  std::string Text() const {
    char buf[256];
    std::snprintf(buf, sizeof(buf), "p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f",
                  PercentileMs(0.5), PercentileMs(0.9), PercentileMs(0.99), PercentileMs(0.999),
                  MaxMs());
    return buf;
  }

 private:
  static constexpr int kSubBits = 9;  // 512 buckets per power of two
  static constexpr int kMaxExp = 40;
  static constexpr int64_t kMaxUs = (int64_t{1} << kMaxExp) - 1;
  static constexpr size_t kLinear = size_t{1} << (kSubBits + 1);  // 1024 exact buckets
  static constexpr size_t kBuckets = kLinear + (kMaxExp - kSubBits - 1) * (size_t{1} << kSubBits);

  static size_t Index(uint64_t v) {
    if (v < kLinear) return v;
    int e = 63 - __builtin_clzll(v);  // ≥ 10
    int shift = e - kSubBits;
    uint64_t m = v >> shift;  // in [512, 1024)
    return kLinear + static_cast<size_t>(e - kSubBits - 1) * (size_t{1} << kSubBits) +
           (m - (uint64_t{1} << kSubBits));
  }
  static uint64_t Low(size_t i) {
    if (i < kLinear) return i;
    size_t j = i - kLinear;
    int e = static_cast<int>(j >> kSubBits) + kSubBits + 1;
    uint64_t m = (j & ((size_t{1} << kSubBits) - 1)) + (uint64_t{1} << kSubBits);
    return m << (e - kSubBits);
  }
  static uint64_t Width(size_t i) {
    if (i < kLinear) return 1;
    int e = static_cast<int>((i - kLinear) >> kSubBits) + kSubBits + 1;
    return uint64_t{1} << (e - kSubBits);
  }

  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  int64_t max_us_ = 0;
};

// Pins the process to one core; false (with a message) when refused.
inline bool PinToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    std::perror("eventide-load: --cpu");
    return false;
  }
  return true;
}

// Raises the soft descriptor limit to the hard one: 10,000 subscribers need
// 10,000 sockets, and the usual soft limit is 1024.
inline void RaiseFileLimit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace eventide::load

#endif  // EVENTIDE_TOOLS_LOAD_COMMON_H_
