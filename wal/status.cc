#include "wal/status.h"

#include <cstring>

namespace eventide {

Status Status::FromErrno(std::string_view context, int err) {
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(err);
  return Status(Code::kIOError, msg);
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return msg_ ? *msg_ : kEmpty;
}

std::string Status::ToString() const {
  const char* kind = "OK";
  switch (code_) {
    case Code::kOk:
      return "OK";
    case Code::kNotFound:
      kind = "NotFound";
      break;
    case Code::kCorruption:
      kind = "Corruption";
      break;
    case Code::kInvalidArgument:
      kind = "InvalidArgument";
      break;
    case Code::kIOError:
      kind = "IOError";
      break;
    case Code::kUnavailable:
      kind = "Unavailable";
      break;
  }
  std::string out(kind);
  out += ": ";
  out += message();
  return out;
}

}  // namespace eventide
