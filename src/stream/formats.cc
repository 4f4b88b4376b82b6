#include "src/stream/formats.h"

#include <charconv>

#include "src/common/json_text.h"
#include "src/common/time.h"
#include "src/stream/sse.h"

namespace eventide::stream {
namespace {

std::string_view SseEventName(event::Op op) {
  switch (op) {
    case event::Op::kCreate:
    case event::Op::kUpdate:
      return "update";
    case event::Op::kDelete:
      return "delete";
    case event::Op::kPublish:
      return "publish";
  }
  return "update";
}

std::string_view WsMessageType(event::Op op) {
  switch (op) {
    case event::Op::kCreate:
    case event::Op::kUpdate:
      return "Update";
    case event::Op::kDelete:
      return "Delete";
    case event::Op::kPublish:
      return "Publish";
  }
  return "Update";
}

// What an event's data is on the wire: the record after a create or update,
// {"id":…} for a delete ({"id":…,"reason":"left_view"} for a record that
// left a subscriber's view), the message for a publish.
void AppendData(const event::Event& e, std::string* out) {
  if (e.op == event::Op::kDelete) {
    out->append("{\"id\":");
    AppendJsonString(e.id, out);
    if (!e.reason.empty()) {
      // The record left the subscriber's view (SPEC section 8).
      out->append(",\"reason\":");
      AppendJsonString(e.reason, out);
    }
    out->push_back('}');
  } else if (e.data.empty()) {
    out->append("null");
  } else {
    out->append(e.data);
  }
}

}  // namespace

std::vector<Encoder> AllFormats() { return {EncodeSseEvent, EncodeWsEvent}; }

std::string EncodeSseEvent(wal::Position p, const event::Event& e) {
  char id[24];
  auto r = std::to_chars(id, id + sizeof(id), p.value());
  std::string data;
  data.reserve(e.data.size() + 16);
  AppendData(e, &data);
  std::string out;
  AppendSseEvent(SseEventName(e.op), std::string_view(id, static_cast<size_t>(r.ptr - id)), data,
                 &out);
  return out;
}

std::string EncodeWsEvent(wal::Position p, const event::Event& e) {
  std::string json;
  json.reserve(e.data.size() + e.id.size() + 96);
  json.append("{\"message_type\":\"");
  json.append(WsMessageType(e.op));
  json.append("\",\"data\":");
  AppendData(e, &json);
  if (!e.id.empty()) {
    json.append(",\"id\":");
    AppendJsonString(e.id, &json);
  }
  json.append(",\"seq\":");
  json.append(std::to_string(p.value()));
  json.append(",\"timestamp\":\"");
  AppendIso8601Millis(e.time_ms, &json);
  json.append("\"}");
  std::string frame;
  AppendWsFrame(kWsText, json, &frame);
  return frame;
}

void AppendWsFrame(uint8_t opcode, std::string_view payload, std::string* out) {
  out->reserve(out->size() + payload.size() + 10);
  out->push_back(static_cast<char>(0x80 | opcode));  // FIN
  const uint64_t n = payload.size();
  if (n < 126) {
    out->push_back(static_cast<char>(n));
  } else if (n <= 0xFFFF) {
    out->push_back(126);
    out->push_back(static_cast<char>(n >> 8));
    out->push_back(static_cast<char>(n & 0xFF));
  } else {
    out->push_back(127);
    for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(n >> shift));
  }
  out->append(payload);
}

}  // namespace eventide::stream
