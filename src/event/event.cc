#include "src/event/event.h"

#include <array>

namespace eventide::event {
namespace {

constexpr std::array<std::string_view, 5> kOpNames = {"", "create", "update", "delete", "publish"};

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutString(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

// Reads a LEB128 varint of at most 5 bytes (lengths are below 2^32).
bool GetVarint(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 28; shift += 7) {
    if (in->empty()) return false;
    uint8_t byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    result |= uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) {
      // A final zero byte after the first is a non-shortest encoding; refusing
      // it keeps one event to exactly one byte string (Encode(Decode(b)) == b).
      if (byte == 0 && shift > 0) return false;
      *v = result;
      return true;
    }
  }
  return false;
}

bool GetString(std::string_view* in, std::string_view* s) {
  uint64_t n;
  if (!GetVarint(in, &n) || n > in->size()) return false;
  *s = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

}  // namespace

std::string_view OpName(Op op) {
  auto i = static_cast<size_t>(op);
  return i < kOpNames.size() ? kOpNames[i] : "?";
}

std::optional<Op> ParseOp(std::string_view name) {
  for (size_t i = 1; i < kOpNames.size(); ++i) {
    if (kOpNames[i] == name) return static_cast<Op>(i);
  }
  return std::nullopt;
}

size_t EncodedSize(const Event& e) {
  size_t n = 2 + 8;
  for (std::string_view s : {e.app, e.table, e.id, e.tenant, e.subject, e.data}) {
    n += VarintSize(s.size()) + s.size();
  }
  if (!e.prev.empty()) n += VarintSize(e.prev.size()) + e.prev.size();
  return n;
}

void Encode(const Event& e, std::string* out) {
  out->clear();
  out->reserve(EncodedSize(e));
  out->push_back(static_cast<char>(e.prev.empty() ? kEventVersion : kEventVersionWithPrev));
  out->push_back(static_cast<char>(e.op));
  auto t = static_cast<uint64_t>(e.time_ms);
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(t >> (8 * i)));
  PutString(out, e.app);
  PutString(out, e.table);
  PutString(out, e.id);
  PutString(out, e.tenant);
  PutString(out, e.subject);
  PutString(out, e.data);
  if (!e.prev.empty()) PutString(out, e.prev);
}

Status Decode(std::string_view payload, Event* out) {
  if (payload.size() < 10) return Status::Corruption("event payload is too short");
  auto version = static_cast<uint8_t>(payload[0]);
  if (version != kEventVersion && version != kEventVersionWithPrev) {
    return Status::Corruption("unknown event version " + std::to_string(version));
  }
  auto op = static_cast<uint8_t>(payload[1]);
  if (op < 1 || op > 4) return Status::Corruption("unknown event operation " + std::to_string(op));
  out->op = static_cast<Op>(op);
  uint64_t t = 0;
  for (int i = 7; i >= 0; --i) t = (t << 8) | static_cast<uint8_t>(payload[2 + i]);
  out->time_ms = static_cast<int64_t>(t);
  std::string_view in = payload.substr(10);
  if (!GetString(&in, &out->app) || !GetString(&in, &out->table) || !GetString(&in, &out->id) ||
      !GetString(&in, &out->tenant) || !GetString(&in, &out->subject) ||
      !GetString(&in, &out->data)) {
    return Status::Corruption("event field runs past the end of the payload");
  }
  out->prev = {};
  out->reason = {};
  if (version == kEventVersionWithPrev) {
    if (!GetString(&in, &out->prev)) {
      return Status::Corruption("event field runs past the end of the payload");
    }
    if (out->prev.empty()) return Status::Corruption("a version 2 event with an empty prev");
  }
  if (!in.empty()) {
    return Status::Corruption(std::to_string(in.size()) + " unexpected bytes after the event");
  }
  if (out->app.empty() || out->table.empty()) {
    return Status::Corruption("event without an app or table");
  }
  return Status::OK();
}

}  // namespace eventide::event
