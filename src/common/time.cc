#include "src/common/time.h"

#include <time.h>

#include <algorithm>
#include <cstdio>

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
  time_t t = static_cast<time_t>(secs);
  struct tm tm;
  ::gmtime_r(&t, &tm);
  int n = std::snprintf(buf, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                        static_cast<int>(millis));
  return n > 0 ? static_cast<size_t>(std::min(n, 31)) : 0;
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
