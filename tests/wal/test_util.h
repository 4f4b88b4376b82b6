// Helpers shared by the log tests: temporary directories and damage helpers
// in the manner of LevelDB's db/log_test.cc.
#ifndef EVENTIDE_TESTS_WAL_TEST_UTIL_H_
#define EVENTIDE_TESTS_WAL_TEST_UTIL_H_

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace eventide::wal {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "eventide-test-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    if (p == nullptr) std::abort();
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Adds `delta` to the byte at `offset` of `path` (LevelDB's IncrementByte).
inline void IncrementByte(const std::string& path, uint64_t offset, int delta = 1) {
  std::string bytes = ReadFile(path);
  bytes[offset] = static_cast<char>(bytes[offset] + delta);
  WriteFile(path, bytes);
}

// Cuts `path` to its first `bytes` bytes (LevelDB's ShrinkSize).
inline void ShrinkTo(const std::string& path, uint64_t bytes) {
  std::filesystem::resize_file(path, bytes);
}

}  // namespace eventide::wal

#endif  // EVENTIDE_TESTS_WAL_TEST_UTIL_H_
