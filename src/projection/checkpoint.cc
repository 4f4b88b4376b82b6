#include "src/projection/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace eventide::projection {
namespace {

constexpr char kMagic[8] = {'E', 'V', 'T', 'D', 'C', 'K', 'P', 'T'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 32;
constexpr size_t kTrailerBytes = 8;
constexpr size_t kKeep = 2;

void PutU16(std::string* out, uint16_t v) { out->append(reinterpret_cast<const char*>(&v), 2); }
void PutU32(std::string* out, uint32_t v) { out->append(reinterpret_cast<const char*>(&v), 4); }
void PutU64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), 8); }
static_assert(std::endian::native == std::endian::little, "checkpoints are little-endian");

std::string FileName(uint64_t position) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020" PRIu64 ".ckpt", position);
  return buf;
}

// Checkpoint files in dir, newest first, with their positions.
std::vector<std::pair<uint64_t, std::string>> List(const std::string& dir) {
  std::vector<std::pair<uint64_t, std::string>> out;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() != 25 || name.substr(20) != ".ckpt") continue;
    if (name.find_first_not_of("0123456789") != 20) continue;
    out.emplace_back(std::stoull(name.substr(0, 20)), e.path().string());
  }
  std::sort(out.rbegin(), out.rend());
  return out;
}

Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("write " + path, errno);
    }
    done += static_cast<size_t>(n);
  }
  return Status::OK();
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  return rc == 0 ? Status::OK() : Status::FromErrno("fsync " + dir, err);
}

class Cursor {
 public:
  explicit Cursor(std::string_view d) : d_(d) {}
  bool U16(uint16_t* v) { return Fixed(v, 2); }
  bool U32(uint32_t* v) { return Fixed(v, 4); }
  bool U64(uint64_t* v) { return Fixed(v, 8); }
  bool Bytes(size_t n, std::string_view* out) {
    if (d_.size() < n) return false;
    *out = d_.substr(0, n);
    d_.remove_prefix(n);
    return true;
  }
  bool empty() const { return d_.empty(); }

 private:
  template <typename T>
  bool Fixed(T* v, size_t n) {
    if (d_.size() < n) return false;
    std::memcpy(v, d_.data(), n);
    d_.remove_prefix(n);
    return true;
  }
  std::string_view d_;
};

// Parses a whole checkpoint file into *out; a reason on failure.
bool Parse(const std::string& bytes, Projection* out, uint64_t* position, std::string* why) {
  if (bytes.size() < kHeaderBytes + kTrailerBytes) {
    *why = "too short (" + std::to_string(bytes.size()) + " bytes)";
    return false;
  }
  uint64_t want;
  std::memcpy(&want, bytes.data() + bytes.size() - kTrailerBytes, 8);
  if (XXH3_64bits(bytes.data(), bytes.size() - kTrailerBytes) != want) {
    *why = "checksum mismatch";
    return false;
  }
  if (std::memcmp(bytes.data(), kMagic, 8) != 0) {
    *why = "not a checkpoint (bad magic)";
    return false;
  }
  Cursor c(std::string_view(bytes).substr(8, bytes.size() - 8 - kTrailerBytes));
  uint32_t version, reserved;
  uint64_t count;
  c.U32(&version);
  c.U32(&reserved);
  c.U64(position);
  c.U64(&count);
  if (version != kVersion) {
    *why = "unsupported version " + std::to_string(version);
    return false;
  }
  for (uint64_t i = 0; i < count; ++i) {
    uint16_t app_len, table_len;
    uint32_t id_len, json_len;
    uint64_t pos;
    std::string_view app, table, id, json;
    if (!c.U16(&app_len) || !c.Bytes(app_len, &app) || !c.U16(&table_len) ||
        !c.Bytes(table_len, &table) || !c.U32(&id_len) || !c.Bytes(id_len, &id) || !c.U64(&pos) ||
        !c.U32(&json_len) || !c.Bytes(json_len, &json)) {
      *why = "record " + std::to_string(i) + " runs past the end";
      return false;
    }
    out->Load(app, table, wal::Position(pos), id, json);
  }
  if (!c.empty()) {
    *why = "trailing bytes after the last record";
    return false;
  }
  return true;
}

}  // namespace

Status WriteCheckpoint(const std::string& dir, const Snapshot& snap, uint64_t* bytes_written) {
  std::string buf;
  buf.reserve(kHeaderBytes + snap.record_count * 300);
  buf.append(kMagic, 8);
  PutU32(&buf, kVersion);
  PutU32(&buf, 0);
  PutU64(&buf, snap.position.value());
  PutU64(&buf, snap.record_count);
  for (const Snapshot::TableCopy& t : snap.tables) {
    for (const RecordPtr& r : t.records) {
      PutU16(&buf, static_cast<uint16_t>(t.app.size()));
      buf.append(t.app);
      PutU16(&buf, static_cast<uint16_t>(t.table.size()));
      buf.append(t.table);
      PutU32(&buf, static_cast<uint32_t>(r->id().size()));
      buf.append(r->id());
      PutU64(&buf, r->position().value());
      PutU32(&buf, static_cast<uint32_t>(r->json().size()));
      buf.append(r->json());
    }
  }
  PutU64(&buf, XXH3_64bits(buf.data(), buf.size()));

  const std::string path = dir + "/" + FileName(snap.position.value());
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open " + tmp, errno);
  Status s = WriteAll(fd, buf, tmp);
  if (s.ok() && ::fdatasync(fd) != 0) s = Status::FromErrno("fdatasync " + tmp, errno);
  ::close(fd);
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    s = Status::FromErrno("rename " + tmp, errno);
  }
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  s = SyncDir(dir);
  if (!s.ok()) return s;
  *bytes_written = buf.size();
  auto files = List(dir);
  for (size_t i = kKeep; i < files.size(); ++i) ::unlink(files[i].second.c_str());
  return Status::OK();
}

Status Recover(const std::string& dir, wal::Log* log, Projection* out, RecoveryReport* report) {
  *report = RecoveryReport();
  std::error_code ec;
  // Leftovers of a checkpoint that was being written when the process died.
  for (auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".tmp") std::filesystem::remove(e.path(), ec);
  }
  for (auto& [pos, path] : List(dir)) {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Projection p;
    uint64_t at = 0;
    std::string why;
    if (!Parse(bytes, &p, &at, &why) || at != pos) {
      if (why.empty()) why = "position in the file does not match its name";
      report->skipped.push_back(path + ": " + why);
      continue;
    }
    if (at > log->durable_head().value()) {
      // A checkpoint ahead of the log: the log lost its tail (it cannot
      // happen when checkpoints only cover durable entries, unless the log
      // was repaired). Using it would serve state the log does not have.
      report->skipped.push_back(path + ": ahead of the log's head " +
                                std::to_string(log->durable_head().value()));
      continue;
    }
    p.SetApplied(wal::Position(at));
    *out = std::move(p);
    report->checkpoint = wal::Position(at);
    break;
  }
  const uint64_t from = report->checkpoint.value() + 1;
  const uint64_t head = log->durable_head().value();
  if (from > head) return Status::OK();
  if (log->first_position().value() > from) {
    return Status::Corruption(
        "the log starts at position " + std::to_string(log->first_position().value()) +
        " but the projection needs it from " + std::to_string(from) +
        (report->checkpoint.value() ? " (after the checkpoint)" : " (no usable checkpoint)"));
  }
  auto reader = log->NewReader();
  Status s = reader->Seek(wal::Position(from));
  if (!s.ok()) return s;
  wal::Entry entry;
  for (;;) {
    auto more = reader->Next(&entry);
    if (!more.ok()) return more.status();
    if (!more.value()) break;
    event::Event e;
    s = event::Decode(entry.payload, &e);
    if (!s.ok()) {
      return Status::Corruption("log entry " + std::to_string(entry.position.value()) +
                                " is not an event: " + s.message());
    }
    out->Apply(entry.position, e);
    ++report->entries_replayed;
  }
  return Status::OK();
}

}  // namespace eventide::projection
