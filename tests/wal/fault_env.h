// FaultEnv: an Env that wraps Env::Default() and can fail on purpose, in the
// spirit of LevelDB's db/fault_injection_test.cc. It can
//   - fail the Nth write (optionally after writing a prefix of it, as a full
//     disk does) with an errno of the test's choosing;
//   - fail every fdatasync (EIO), or every directory fsync;
//   - hold syncs until the test lets them go (to make group commit and
//     "written but not yet durable" states deterministic);
//   - count writes, syncs and directory syncs;
//   - simulate a power loss: stop all file activity, then drop every byte
//     that was not synced and every file whose creation was not made durable
//     by a directory sync.
#ifndef EVENTIDE_TESTS_WAL_FAULT_ENV_H_
#define EVENTIDE_TESTS_WAL_FAULT_ENV_H_

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "wal/env.h"
#include "wal/status.h"

namespace eventide::wal {

class FaultEnv final : public Env {
 public:
  FaultEnv() : base_(Env::Default()) {}

  // ---- Env ----

  Result<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path,
                                                      bool create) override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (!active_) return Status::IOError("open " + path + ": file system inactive");
    }
    auto file = base_->OpenForAppend(path, create);
    if (!file.ok()) return file.status();
    std::lock_guard<std::mutex> lk(mu_);
    FileState& st = files_[path];
    if (create) {
      st = FileState();
      unsynced_names_.insert(path);
    } else {
      struct stat sb;
      uint64_t size = ::stat(path.c_str(), &sb) == 0 ? static_cast<uint64_t>(sb.st_size) : 0;
      // What is there when a file is opened again counts as durable.
      st.size = size;
      st.synced = size;
    }
    return std::unique_ptr<WritableFile>(new File(this, path, std::move(file).value()));
  }

  Result<std::unique_ptr<MarkFile>> OpenMarkFile(const std::string& path, bool* created) override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (!active_) return Status::IOError("open " + path + ": file system inactive");
    }
    std::string before = ReadWhole(path);
    auto file = base_->OpenMarkFile(path, created);
    if (!file.ok()) return file.status();
    std::lock_guard<std::mutex> lk(mu_);
    // What is there when the file is opened counts as durable.
    marks_[path] = before;
    if (*created) unsynced_names_.insert(path);
    return std::unique_ptr<MarkFile>(new Mark(this, path, std::move(file).value()));
  }

  Status SyncDir(const std::string& dir) override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      ++sync_dirs_;
      if (!active_) return Status::IOError("fsync directory " + dir + ": file system inactive");
      if (fail_sync_dir_) return Status::FromErrno("fsync directory " + dir, EIO);
    }
    Status s = base_->SyncDir(dir);
    if (s.ok()) {
      std::lock_guard<std::mutex> lk(mu_);
      unsynced_names_.clear();
    }
    return s;
  }

  Status RemoveFile(const std::string& path) override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (!active_) return Status::IOError("unlink " + path + ": file system inactive");
      if (++removes_ == fail_remove_at_) return Status::FromErrno("unlink " + path, EIO);
      files_.erase(path);
      unsynced_names_.erase(path);
    }
    return base_->RemoveFile(path);
  }

  Status TruncateFile(const std::string& path, uint64_t bytes) override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (!active_) return Status::IOError("ftruncate " + path + ": file system inactive");
      auto it = files_.find(path);
      if (it != files_.end()) it->second.size = it->second.synced = bytes;
    }
    return base_->TruncateFile(path, bytes);
  }

  // ---- Faults ----

  // The `nth` write from now (1: the next one) fails with `err` after
  // writing the first `prefix_bytes` bytes of its data.
  void FailWrite(uint64_t nth, size_t prefix_bytes = 0, int err = ENOSPC) {
    std::lock_guard<std::mutex> lk(mu_);
    fail_write_at_ = writes_ + nth;
    fail_prefix_ = prefix_bytes;
    fail_errno_ = err;
  }
  // The `nth` file removal from now (1: the next one) fails with EIO.
  void FailRemove(uint64_t nth) {
    std::lock_guard<std::mutex> lk(mu_);
    fail_remove_at_ = removes_ + nth;
  }
  // Every fdatasync from now on fails with EIO (without syncing) while `on`.
  void FailSyncs(bool on = true) {
    std::lock_guard<std::mutex> lk(mu_);
    fail_syncs_ = on;
  }
  void FailSyncDirs(bool on = true) {
    std::lock_guard<std::mutex> lk(mu_);
    fail_sync_dir_ = on;
  }

  // Syncs wait (before doing anything) until UnblockSyncs.
  void BlockSyncs() {
    std::lock_guard<std::mutex> lk(mu_);
    block_syncs_ = true;
  }
  void UnblockSyncs() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      block_syncs_ = false;
    }
    cv_.notify_all();
  }
  // Returns once a sync is waiting in BlockSyncs.
  void WaitForBlockedSync() {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return blocked_syncs_ > 0; });
  }

  // A power loss, first half: from now on every file operation fails and
  // changes nothing, so that whatever the log does while it is destroyed
  // does not reach the disk.
  void Deactivate() {
    std::lock_guard<std::mutex> lk(mu_);
    active_ = false;
  }
  // Second half: cuts every file to its synced size and removes files whose
  // creation no directory sync made durable. Then reactivates.
  void DropUnsyncedData() {
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& [path, st] : files_) {
      std::error_code ec;
      if (unsynced_names_.count(path)) {
        std::filesystem::remove(path, ec);
      } else if (std::filesystem::exists(path, ec) &&
                 std::filesystem::file_size(path, ec) > st.synced) {
        std::filesystem::resize_file(path, st.synced, ec);
      }
    }
    // A mark loses whatever was written since its last fsync: it reads as
    // the content it was last synced with (the log never syncs it on the
    // write path, so this is the stalest mark a power loss can leave).
    for (const auto& [path, synced] : marks_) {
      std::error_code ec;
      if (unsynced_names_.count(path)) {
        std::filesystem::remove(path, ec);
      } else if (std::filesystem::exists(path, ec)) {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(synced.data(), static_cast<std::streamsize>(synced.size()));
      }
    }
    files_.clear();
    marks_.clear();
    unsynced_names_.clear();
    active_ = true;
  }

  // ---- Counters ----
  uint64_t writes() const {
    std::lock_guard<std::mutex> lk(mu_);
    return writes_;
  }
  uint64_t syncs() const {
    std::lock_guard<std::mutex> lk(mu_);
    return syncs_;
  }
  uint64_t sync_dirs() const {
    std::lock_guard<std::mutex> lk(mu_);
    return sync_dirs_;
  }
  // Bytes written through this env and not yet covered by a sync.
  uint64_t unsynced_bytes() const {
    std::lock_guard<std::mutex> lk(mu_);
    uint64_t n = 0;
    for (const auto& [path, st] : files_) n += st.size - st.synced;
    return n;
  }

 private:
  struct FileState {
    uint64_t size = 0;    // bytes written
    uint64_t synced = 0;  // bytes known durable
  };

  class File final : public WritableFile {
   public:
    File(FaultEnv* env, std::string path, std::unique_ptr<WritableFile> base)
        : env_(env), path_(std::move(path)), base_(std::move(base)) {}

    Status Append(std::string_view data) override {
      size_t prefix = data.size();
      int err = 0;
      {
        std::lock_guard<std::mutex> lk(env_->mu_);
        if (!env_->active_) return Status::IOError("write " + path_ + ": file system inactive");
        if (++env_->writes_ == env_->fail_write_at_) {
          prefix = std::min(prefix, env_->fail_prefix_);
          err = env_->fail_errno_;
        }
      }
      Status s;
      if (prefix > 0) s = base_->Append(data.substr(0, prefix));
      if (s.ok()) {
        std::lock_guard<std::mutex> lk(env_->mu_);
        env_->files_[path_].size += prefix;
      }
      if (s.ok() && err != 0) s = Status::FromErrno("write " + path_, err);
      return s;
    }

    Status Sync() override {
      uint64_t size;
      {
        std::unique_lock<std::mutex> lk(env_->mu_);
        ++env_->syncs_;
        ++env_->blocked_syncs_;
        env_->cv_.notify_all();
        env_->cv_.wait(lk, [&] { return !env_->block_syncs_; });
        --env_->blocked_syncs_;
        if (!env_->active_) return Status::IOError("fdatasync " + path_ + ": file system inactive");
        if (env_->fail_syncs_) return Status::FromErrno("fdatasync " + path_, EIO);
        size = env_->files_[path_].size;
      }
      Status s = base_->Sync();
      if (s.ok()) {
        std::lock_guard<std::mutex> lk(env_->mu_);
        FileState& st = env_->files_[path_];
        st.synced = std::max(st.synced, size);
      }
      return s;
    }

    Status Close() override { return base_->Close(); }

   private:
    FaultEnv* env_;
    std::string path_;
    std::unique_ptr<WritableFile> base_;
  };

  class Mark final : public MarkFile {
   public:
    Mark(FaultEnv* env, std::string path, std::unique_ptr<MarkFile> base)
        : env_(env), path_(std::move(path)), base_(std::move(base)) {}

    Status Write(std::string_view data) override {
      {
        std::lock_guard<std::mutex> lk(env_->mu_);
        if (!env_->active_) return Status::IOError("pwrite " + path_ + ": file system inactive");
      }
      current_ = std::string(data);
      return base_->Write(data);
    }

    Status Sync() override {
      {
        std::lock_guard<std::mutex> lk(env_->mu_);
        if (!env_->active_) return Status::IOError("fsync " + path_ + ": file system inactive");
        if (env_->fail_syncs_) return Status::FromErrno("fsync " + path_, EIO);
      }
      Status s = base_->Sync();
      if (s.ok()) {
        std::lock_guard<std::mutex> lk(env_->mu_);
        env_->marks_[path_] = current_;
      }
      return s;
    }

   private:
    FaultEnv* env_;
    std::string path_;
    std::unique_ptr<MarkFile> base_;
    std::string current_;
  };

  static std::string ReadWhole(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  Env* const base_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> marks_;  // each mark file's content as last synced
  std::condition_variable cv_;
  std::map<std::string, FileState> files_;
  std::set<std::string> unsynced_names_;  // created since the last directory sync
  bool active_ = true;
  uint64_t writes_ = 0;
  uint64_t syncs_ = 0;
  uint64_t sync_dirs_ = 0;
  uint64_t removes_ = 0;
  uint64_t fail_remove_at_ = 0;
  uint64_t fail_write_at_ = 0;  // 0: none (writes_ counts from 1)
  size_t fail_prefix_ = 0;
  int fail_errno_ = 0;
  bool fail_syncs_ = false;
  bool fail_sync_dir_ = false;
  bool block_syncs_ = false;
  int blocked_syncs_ = 0;
};

}  // namespace eventide::wal

#endif  // EVENTIDE_TESTS_WAL_FAULT_ENV_H_
