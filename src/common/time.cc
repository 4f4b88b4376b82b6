#include "src/common/time.h"

#include <time.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace eventide {

int64_t WallMillis() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

size_t FormatIso8601Millis(int64_t ms, char buf[32]) {
  int64_t secs = ms / 1000;
  int64_t millis = ms % 1000;
  if (millis < 0) {  // before 1970: floor, not truncate
    millis += 1000;
    secs -= 1;
  }
  // "YYYY-MM-DDTHH:MM:SS" changes once a second: format it then, and only
  // the milliseconds per call (every write stamps two of these).
  thread_local int64_t cached_secs = INT64_MIN;
  thread_local char cached[64];  // 19 used for years 0..9999
  if (secs != cached_secs) {
    time_t t = static_cast<time_t>(secs);
    struct tm tm;
    ::gmtime_r(&t, &tm);
    std::snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_secs = secs;
  }
  std::memcpy(buf, cached, 19);
  buf[19] = '.';
  buf[20] = static_cast<char>('0' + millis / 100);
  buf[21] = static_cast<char>('0' + millis / 10 % 10);
  buf[22] = static_cast<char>('0' + millis % 10);
  buf[23] = 'Z';
  return 24;
}

void AppendIso8601Millis(int64_t ms, std::string* out) {
  char buf[32];
  out->append(buf, FormatIso8601Millis(ms, buf));
}

std::string Iso8601Millis(int64_t ms) {
  std::string s;
  AppendIso8601Millis(ms, &s);
  return s;
}

}  // namespace eventide
