#include "src/common/logging.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "src/common/json_text.h"
#include "src/common/time.h"

namespace eventide {
namespace {

LogLevel InitialLevel() {
  const char* env = std::getenv("EVENTIDE_LOG_LEVEL");
  if (env == nullptr) return LogLevel::kInfo;
  if (std::strcmp(env, "debug") == 0) return LogLevel::kDebug;
  if (std::strcmp(env, "warn") == 0) return LogLevel::kWarn;
  if (std::strcmp(env, "error") == 0) return LogLevel::kError;
  return LogLevel::kInfo;
}

std::atomic<int> g_level{static_cast<int>(InitialLevel())};

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

void LogLine(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  std::string line;
  line.reserve(160);
  line.append("{\"ts\":\"");
  AppendIso8601Millis(WallMillis(), &line);
  line.append("\",\"level\":\"");
  line.append(LevelName(level));
  line.append("\",\"msg\":");
  AppendJsonString(msg, &line);
  for (const LogField& f : fields) {
    line.push_back(',');
    AppendJsonString(f.key, &line);
    line.push_back(':');
    if (const auto* s = std::get_if<std::string>(&f.value)) {
      AppendJsonString(*s, &line);
    } else {
      line.append(std::to_string(std::get<int64_t>(f.value)));
    }
  }
  line.append("}\n");
  // One write per line; a short write to stderr is not worth retrying.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace eventide
