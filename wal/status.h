// Status and Result: how every Eventide function reports failure.
//
// No exceptions cross project code: every entry point is a callback from C
// (libuv, llhttp, wslay, OpenSSL). A Status is OK (cheap: no allocation) or
// one of the few error kinds that call sites must treat differently:
//   - Corruption:      bytes on disk are not what we wrote (cut a torn tail,
//                      or refuse to start);
//   - IOError:         the OS failed a write, sync or read (stop taking
//                      writes: a failed fsync is sticky);
//   - InvalidArgument: the caller asked for something malformed;
//   - NotFound:        the thing asked for does not exist (or no longer).
//   - Unavailable:     not now (closed, shutting down).
#ifndef EVENTIDE_WAL_STATUS_H_
#define EVENTIDE_WAL_STATUS_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace eventide {

class [[nodiscard]] Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kNotFound,
    kCorruption,
    kInvalidArgument,
    kIOError,
    kUnavailable,
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg) { return Status(Code::kNotFound, msg); }
  static Status Corruption(std::string_view msg) { return Status(Code::kCorruption, msg); }
  static Status InvalidArgument(std::string_view msg) {
    return Status(Code::kInvalidArgument, msg);
  }
  static Status IOError(std::string_view msg) { return Status(Code::kIOError, msg); }
  // An I/O error carrying errno's text: "context: strerror(err)".
  static Status FromErrno(std::string_view context, int err);
  static Status Unavailable(std::string_view msg) { return Status(Code::kUnavailable, msg); }

  bool ok() const { return code_ == Code::kOk; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsIOError() const { return code_ == Code::kIOError; }
  bool IsUnavailable() const { return code_ == Code::kUnavailable; }
  Code code() const { return code_; }

  // The message without the kind prefix; empty for OK.
  const std::string& message() const;
  // "Corruption: segment ... offset ...: checksum mismatch"; "OK" for OK.
  std::string ToString() const;

 private:
  Status(Code code, std::string_view msg)
      : code_(code), msg_(std::make_shared<const std::string>(msg)) {}

  Code code_ = Code::kOk;
  // Shared so that copying a Status (one per failed append) costs no allocation.
  std::shared_ptr<const std::string> msg_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  // REQUIRES: !status.ok() for the Status constructor.

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace eventide

#endif  // EVENTIDE_WAL_STATUS_H_
