// Two small helpers shared by the request side (service.cc) and the write
// pipeline (write_pipeline.cc) of rest::Service. Internal to src/rest/.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace eventide::rest {

inline int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The key of one record in the overlay of in-flight writes and the redo
// queues: app, table and id, NUL-separated (none of them holds a NUL).
inline std::string OverlayKey(std::string_view app, std::string_view table, std::string_view id) {
  std::string k;
  k.reserve(app.size() + table.size() + id.size() + 2);
  k.append(app).push_back('\0');
  k.append(table).push_back('\0');
  k.append(id);
  return k;
}

}  // namespace eventide::rest
