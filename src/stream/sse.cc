#include "src/stream/sse.h"

namespace eventide::stream {

void AppendSseEvent(std::string_view event, std::string_view id, std::string_view data,
                    std::string* out) {
  out->reserve(out->size() + event.size() + id.size() + data.size() + 32);
  if (!event.empty()) {
    out->append("event: ");
    out->append(event);
    out->push_back('\n');
  }
  if (!id.empty()) {
    out->append("id: ");
    out->append(id);
    out->push_back('\n');
  }
  // Split data at CRLF, CR or LF: a client ends a line at any of them, so an
  // embedded one must start a new data: field, or the event would be cut.
  size_t start = 0;
  for (size_t i = 0; i <= data.size(); ++i) {
    if (i < data.size() && data[i] != '\n' && data[i] != '\r') continue;
    out->append("data: ");
    out->append(data.substr(start, i - start));
    out->push_back('\n');
    if (i + 1 < data.size() && data[i] == '\r' && data[i + 1] == '\n') ++i;
    start = i + 1;
  }
  out->push_back('\n');
}

void AppendSseRetry(uint64_t retry_ms, std::string* out) {
  out->append("retry: ");
  out->append(std::to_string(retry_ms));
  out->append("\n\n");
}

}  // namespace eventide::stream
