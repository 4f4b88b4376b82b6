#include "src/hooks/envelope.h"

#include "src/common/json_text.h"
#include "src/common/time.h"

namespace eventide::hooks {
namespace {

void AppendOptionalString(std::optional<std::string_view> s, std::string* out) {
  if (s.has_value()) {
    AppendJsonString(*s, out);
  } else {
    out->append("null");
  }
}

}  // namespace

bool IsHookName(std::string_view name) {
  return name == kOnRealtimeConnect || name == kOnRealtimeDisconnect ||
         name == kOnRealtimeSubscribe || name == kOnRealtimeUnsubscribe ||
         name == kOnRealtimeMessage || name == kOnWrite;
}

std::string Envelope(std::string_view hook, std::string_view app, int64_t wall_ms,
                     std::string_view data_json) {
  std::string out;
  out.reserve(64 + hook.size() + app.size() + data_json.size());
  out.append("{\"hook\":");
  AppendJsonString(hook, &out);
  out.append(",\"app\":");
  AppendJsonString(app, &out);
  out.append(",\"time\":\"");
  AppendIso8601Millis(wall_ms, &out);
  out.append("\",\"data\":");
  out.append(data_json);
  out.push_back('}');
  return out;
}

std::string ConnectionData(uint64_t connection, std::string_view dialect, Subject subject,
                           std::string_view remote) {
  std::string out = "{\"connection\":" + std::to_string(connection) + ",\"dialect\":";
  AppendJsonString(dialect, &out);
  out.append(",\"subject\":");
  AppendOptionalString(subject, &out);
  out.append(",\"remote\":");
  AppendJsonString(remote, &out);
  out.push_back('}');
  return out;
}

std::string SubscriptionData(uint64_t connection, std::string_view topic, Subject subject) {
  std::string out = "{\"connection\":" + std::to_string(connection) + ",\"topic\":";
  AppendJsonString(topic, &out);
  out.append(",\"subject\":");
  AppendOptionalString(subject, &out);
  out.push_back('}');
  return out;
}

std::string MessageData(uint64_t connection, std::optional<std::string_view> topic, Subject subject,
                        std::string_view message_json) {
  std::string out = "{\"connection\":" + std::to_string(connection) + ",\"topic\":";
  AppendOptionalString(topic, &out);
  out.append(",\"subject\":");
  AppendOptionalString(subject, &out);
  out.append(",\"message\":");
  out.append(message_json);
  out.push_back('}');
  return out;
}

std::string WriteData(std::string_view op, std::string_view table,
                      std::optional<std::string_view> id, wal::Position position, Subject subject,
                      std::string_view record_json) {
  std::string out = "{\"op\":";
  AppendJsonString(op, &out);
  out.append(",\"table\":");
  AppendJsonString(table, &out);
  out.append(",\"id\":");
  AppendOptionalString(id, &out);
  out.append(",\"position\":" + position.ToString() + ",\"subject\":");
  AppendOptionalString(subject, &out);
  out.append(",\"record\":");
  out.append(record_json.empty() ? std::string_view("null") : record_json);
  out.push_back('}');
  return out;
}

}  // namespace eventide::hooks
