// The wire formats of an event (SPEC section 6). The hub encodes each durable
// entry at most once per format and sends the same bytes to every subscriber
// of that format.
//
//   SSE   event: update|delete|publish \n id: POSITION \n data: JSON \n\n
//   WS    one unmasked text frame (RFC 6455: server frames are not masked, so
//         the whole frame is the same for every connection):
//         {"message_type":"Update","data":{...},"id":"msg-1","seq":42,
//          "timestamp":"2025-01-15T10:30:00.000Z"}
#ifndef EVENTIDE_SRC_STREAM_FORMATS_H_
#define EVENTIDE_SRC_STREAM_FORMATS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/event/event.h"
#include "src/stream/hub.h"
#include "wal/position.h"

namespace eventide::stream {

// Indexes into the hub's encoders.
enum Format : size_t { kSseFormat = 0, kWsFormat = 1 };

// The encoders in Format order, for the Hub.
std::vector<Encoder> AllFormats();

std::string EncodeSseEvent(wal::Position p, const event::Event& e);
std::string EncodeWsEvent(wal::Position p, const event::Event& e);

// WebSocket opcodes (RFC 6455 section 5.2).
inline constexpr uint8_t kWsText = 0x1;
inline constexpr uint8_t kWsBinary = 0x2;
inline constexpr uint8_t kWsClose = 0x8;
inline constexpr uint8_t kWsPing = 0x9;
inline constexpr uint8_t kWsPong = 0xA;

// Appends one unfragmented, unmasked frame (a server's frame) to *out.
void AppendWsFrame(uint8_t opcode, std::string_view payload, std::string* out);

}  // namespace eventide::stream

#endif  // EVENTIDE_SRC_STREAM_FORMATS_H_
