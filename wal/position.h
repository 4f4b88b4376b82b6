// Position: the global, gap-free, strictly increasing sequence number of a log
// entry. The first entry of a new log is position 1; position 0 (Position())
// means "before the first entry" and is never assigned.
#ifndef EVENTIDE_WAL_POSITION_H_
#define EVENTIDE_WAL_POSITION_H_

#include <compare>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace eventide::wal {

class Position {
 public:
  constexpr Position() = default;
  constexpr explicit Position(uint64_t value) : value_(value) {}

  constexpr uint64_t value() const { return value_; }
  constexpr bool IsNone() const { return value_ == 0; }
  constexpr Position Next() const { return Position(value_ + 1); }
  constexpr Position Prev() const { return Position(value_ == 0 ? 0 : value_ - 1); }

  constexpr auto operator<=>(const Position&) const = default;

  std::string ToString() const { return std::to_string(value_); }

  // Parses a decimal position ("42"). Rejects signs, spaces, empty input,
  // leading '+', and values above 2^63-1 (positions never get there; a
  // larger number is taken as malformed input, not as a position).
  static std::optional<Position> Parse(std::string_view text) {
    if (text.empty() || text.size() > 19) return std::nullopt;
    uint64_t v = 0;
    for (char c : text) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return Position(v);
  }

 private:
  uint64_t value_ = 0;
};

}  // namespace eventide::wal

#endif  // EVENTIDE_WAL_POSITION_H_
