#include "wal/env.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace eventide::wal {
namespace {

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(std::string_view data) override {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("write " + path_, errno);
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    return Status::OK();
  }

  Status Sync() override {
    if (::fdatasync(fd_) != 0) return Status::FromErrno("fdatasync " + path_, errno);
    return Status::OK();
  }

  Status Close() override {
    int fd = fd_;
    fd_ = -1;
    if (fd >= 0 && ::close(fd) != 0) return Status::FromErrno("close " + path_, errno);
    return Status::OK();
  }

 private:
  int fd_;
  std::string path_;
};

class PosixMarkFile final : public MarkFile {
 public:
  PosixMarkFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixMarkFile() override { ::close(fd_); }

  Status Write(std::string_view data) override {
    // The mark is 32 bytes: one pwrite, which a regular file never shortens
    // short of an error.
    ssize_t n;
    do {
      n = ::pwrite(fd_, data.data(), data.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return Status::FromErrno("pwrite " + path_, errno);
    if (static_cast<size_t>(n) != data.size()) return Status::IOError("short pwrite " + path_);
    return Status::OK();
  }

  Status Sync() override {
    if (::fsync(fd_) != 0) return Status::FromErrno("fsync " + path_, errno);
    return Status::OK();
  }

 private:
  int fd_;
  std::string path_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<MarkFile>> OpenMarkFile(const std::string& path, bool* created) override {
    *created = false;
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
      fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      *created = fd >= 0;
    }
    if (fd < 0) return Status::FromErrno("open " + path, errno);
    return std::unique_ptr<MarkFile>(new PosixMarkFile(fd, path));
  }

  Result<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path,
                                                      bool create) override {
    int flags = O_WRONLY | O_APPEND | O_CLOEXEC;
    if (create) flags |= O_CREAT | O_EXCL;
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return Status::FromErrno("open " + path, errno);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(fd, path));
  }

  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open directory " + dir, errno);
    Status s;
    if (::fsync(fd) != 0) s = Status::FromErrno("fsync directory " + dir, errno);
    ::close(fd);
    return s;
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Status::FromErrno("unlink " + path, errno);
    return Status::OK();
  }

  Status TruncateFile(const std::string& path, uint64_t bytes) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open " + path, errno);
    Status s;
    if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
      s = Status::FromErrno("ftruncate " + path, errno);
    } else if (::fsync(fd) != 0) {  // fsync, not fdatasync: the size is metadata
      s = Status::FromErrno("fsync " + path, errno);
    }
    ::close(fd);
    return s;
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();
  return env;
}

}  // namespace eventide::wal
