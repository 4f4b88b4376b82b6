// Structured one-line logs on stderr (SPEC section 10): each line one JSON
// object, e.g.
//   {"ts":"2026-11-23T04:00:00.000Z","level":"info","msg":"listening","addr":"127.0.0.1:9996"}
// Values are strings or integers. Nothing secret may be passed here: tokens
// never appear in a log line (callers log request paths without the query).
#ifndef EVENTIDE_SRC_COMMON_LOGGING_H_
#define EVENTIDE_SRC_COMMON_LOGGING_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace eventide {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(std::string(v)) {}
  LogField(std::string_view k, const char* v) : key(k), value(std::string(v)) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(std::string_view k, int64_t v) : key(k), value(v) {}
  LogField(std::string_view k, uint64_t v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(std::string_view k, int v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(std::string_view k, double v) : key(k), value(static_cast<int64_t>(v)) {}
  std::string_view key;
  std::variant<std::string, int64_t> value;
};

// Lines below this level are dropped. Default info; EVENTIDE_LOG_LEVEL=debug
// in the environment lowers it.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// Writes one line (a single write(2), so lines from threads never interleave).
void LogLine(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});

}  // namespace eventide

#endif  // EVENTIDE_SRC_COMMON_LOGGING_H_
