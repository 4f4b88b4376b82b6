// Fuzzes the segment reader and recovery with arbitrary segment bytes.
//
// Input: a mode byte, then the segment. When the mode byte is even a valid
// segment header (base 1) is put before the rest, so that most inputs get
// past the header check and exercise the entry framing; when it is odd the
// rest is the whole segment, header included.
//
// (a) SegmentReader::OpenBuffer + Next until it stops: every accepted entry is
//     valid by FORMAT.md section 6 (checked here independently of the
//     reader), lies inside the input, and the reason the reader stopped is
//     the one the rules give.
// (b) The bytes are written as segment 1 of a log directory and opened with
//     a writable wal::Log, so recovery runs (and may cut the tail). When a
//     valid entry follows the damage, recovery must refuse and cut nothing;
//     otherwise a Reader
//     must then return exactly the valid prefix found in (a), the file must
//     have been cut to it, a seek through the rebuilt index must land on an
//     entry of it, and the log must accept and return a new entry.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wal/env.h"
#include "wal/format.h"
#include "wal/log.h"
#include "wal/position.h"
#include "wal/segment_reader.h"
#include "wal/status.h"

namespace eventide::wal {
namespace {

[[noreturn]] __attribute__((format(printf, 3, 4))) void Fail(const char* file, int line,
                                                             const char* fmt, ...) {
  std::fprintf(stderr, "%s:%d: check failed: ", file, line);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
  std::abort();
}

#define CHECK(cond)                               \
  do {                                            \
    if (!(cond)) Fail(__FILE__, __LINE__, #cond); \
  } while (0)
#define CHECK_MSG(cond, ...)                            \
  do {                                                  \
    if (!(cond)) Fail(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

constexpr Position kBase(1);

struct ValidEntry {
  Position position;
  int64_t timestamp_us = 0;
  std::string_view payload;
  uint64_t offset = 0;
};

struct Scan {
  bool header_ok = false;
  std::vector<ValidEntry> entries;
  uint64_t end = 0;  // offset just past the last valid entry
  SegmentReader::Outcome stop = SegmentReader::Outcome::kEnd;
  // A complete, checksummed entry somewhere after the damage, at the expected
  // position or a later one the chain could have reached: then the damage is
  // not a torn tail and recovery must refuse (FORMAT.md section 6).
  bool valid_after_damage = false;
};

bool AllZero(std::string_view s) {
  for (char c : s) {
    if (c != 0) return false;
  }
  return true;
}

// FORMAT.md section 6, written out again: what the entry at `offset` is.
SegmentReader::Outcome Judge(std::string_view bytes, uint64_t offset, Position expect) {
  using O = SegmentReader::Outcome;
  const uint64_t size = bytes.size();
  if (offset == size) return O::kEnd;
  if (size - offset < kEntryHeaderBytes) return O::kTorn;
  std::string_view header = bytes.substr(offset, kEntryHeaderBytes);
  if (AllZero(header)) return O::kTorn;
  EntryHeader h = DecodeEntryHeader(header.data());
  if (h.flags != 0) return O::kCorrupt;
  if (h.length > kMaxPayloadBytes) return O::kCorrupt;
  if (offset + kEntryHeaderBytes + h.length > size) return O::kTorn;
  std::string_view payload = bytes.substr(offset + kEntryHeaderBytes, h.length);
  if (Checksum(header.substr(0, 24), payload) != h.checksum) return O::kCorrupt;
  if (h.position != expect) return O::kCorrupt;
  return O::kEntry;
}

const char* Name(SegmentReader::Outcome o) {
  switch (o) {
    case SegmentReader::Outcome::kEntry:
      return "entry";
    case SegmentReader::Outcome::kEnd:
      return "end";
    case SegmentReader::Outcome::kTorn:
      return "torn";
    case SegmentReader::Outcome::kCorrupt:
      return "corrupt";
    case SegmentReader::Outcome::kIOError:
      return "io-error";
  }
  return "?";
}

// (a): reads `bytes` from memory and checks every step against Judge.
Scan ScanBuffer(std::string_view bytes) {
  Scan scan;
  auto opened = SegmentReader::OpenBuffer(bytes, kBase);
  bool header_valid = CheckSegmentHeader(bytes, kBase).empty();
  if (!opened.ok()) {
    CHECK(opened.status().IsCorruption());
    CHECK(!header_valid);
    return scan;
  }
  CHECK(header_valid);
  scan.header_ok = true;
  SegmentReader& reader = **opened;
  uint64_t offset = kSegmentHeaderBytes;
  Position expect = kBase;
  for (;;) {
    CHECK(reader.offset() == offset);
    CHECK(reader.next_position() == expect);
    SegmentReader::Outcome want = Judge(bytes, offset, expect);
    Entry e;
    SegmentReader::Outcome got = reader.Next(&e);
    CHECK_MSG(got == want, "at offset %llu the reader says %s, FORMAT.md says %s",
              static_cast<unsigned long long>(offset), Name(got), Name(want));
    if (got != SegmentReader::Outcome::kEntry) {
      CHECK(!reader.problem().empty());
      CHECK(reader.offset() == offset);
      // The reader stays put: asking again gives the same answer.
      CHECK(reader.Next(&e) == got);
      CHECK(reader.offset() == offset);
      scan.end = offset;
      scan.stop = got;
      for (uint64_t at = offset; at + kEntryHeaderBytes <= bytes.size(); ++at) {
        EntryHeader h = DecodeEntryHeader(bytes.data() + at);
        uint64_t reach = expect.value() + (at - offset) / kEntryHeaderBytes + 1;
        if (h.flags != 0 || h.position < expect || h.position.value() > reach) continue;
        if (h.length > bytes.size() - at - kEntryHeaderBytes) continue;
        if (Checksum(bytes.substr(at, 24), bytes.substr(at + kEntryHeaderBytes, h.length)) ==
            h.checksum) {
          scan.valid_after_damage = true;
          break;
        }
      }
      return scan;
    }
    // A valid entry, inside the input.
    CHECK(e.position == expect);
    CHECK(e.offset == offset);
    CHECK(offset + kEntryHeaderBytes <= bytes.size());
    CHECK(e.payload.data() == bytes.data() + offset + kEntryHeaderBytes);
    CHECK(e.payload.size() <= bytes.size() - offset - kEntryHeaderBytes);
    EntryHeader h = DecodeEntryHeader(bytes.data() + offset);
    CHECK(h.length == e.payload.size());
    CHECK(h.flags == 0);
    CHECK(h.position == e.position);
    CHECK(h.timestamp_us == e.timestamp_us);
    CHECK(Checksum(bytes.substr(offset, 24), e.payload) == h.checksum);
    scan.entries.push_back({e.position, e.timestamp_us, e.payload, e.offset});
    offset += kEntryHeaderBytes + e.payload.size();
    CHECK(offset <= bytes.size());
    expect = expect.Next();
  }
}

// A directory of this process's own under $TMPDIR (default /tmp), reused
// between iterations and removed at exit.
const std::string& Dir() {
  static const std::string* dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string parent = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    auto* d = new std::string(parent + "/eventide_segment_fuzzer." + std::to_string(::getpid()));
    if (::mkdir(d->c_str(), 0700) != 0 && errno != EEXIST) {
      Fail(__FILE__, __LINE__, "mkdir %s: %s", d->c_str(), std::strerror(errno));
    }
    return d;
  }();
  return *dir;
}

void ClearDir() {
  DIR* d = ::opendir(Dir().c_str());
  CHECK_MSG(d != nullptr, "opendir %s: %s", Dir().c_str(), std::strerror(errno));
  std::vector<std::string> names;
  while (struct dirent* de = ::readdir(d)) {
    std::string name = de->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  for (const auto& name : names) ::unlink((Dir() + "/" + name).c_str());
}

void RemoveDir() {
  ClearDir();
  ::rmdir(Dir().c_str());
}

void WriteFile(const std::string& path, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  CHECK_MSG(fd >= 0, "open %s: %s", path.c_str(), std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    CHECK_MSG(n > 0, "write %s: %s", path.c_str(), std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  CHECK_MSG(::stat(path.c_str(), &st) == 0, "stat %s: %s", path.c_str(), std::strerror(errno));
  return static_cast<uint64_t>(st.st_size);
}

// The default Env with every fsync and fdatasync left out. Recovery's
// decisions do not depend on durability, and an iteration would otherwise
// sync up to four times, so the fuzzer's speed (and whether the smoke run
// finds anything in 10 s) would depend on the disk. Everything else
// (appends, removes, truncation) is the real POSIX call.
class NoSyncFile final : public WritableFile {
 public:
  explicit NoSyncFile(std::unique_ptr<WritableFile> base) : base_(std::move(base)) {}
  Status Append(std::string_view data) override { return base_->Append(data); }
  Status Sync() override { return Status::OK(); }
  Status Close() override { return base_->Close(); }

 private:
  std::unique_ptr<WritableFile> base_;
};

class NoSyncMark final : public MarkFile {
 public:
  explicit NoSyncMark(std::unique_ptr<MarkFile> base) : base_(std::move(base)) {}
  Status Write(std::string_view data) override { return base_->Write(data); }
  Status Sync() override { return Status::OK(); }

 private:
  std::unique_ptr<MarkFile> base_;
};

class NoSyncEnv final : public Env {
 public:
  Result<std::unique_ptr<MarkFile>> OpenMarkFile(const std::string& path, bool* created) override {
    auto file = Env::Default()->OpenMarkFile(path, created);
    if (!file.ok()) return file.status();
    return std::unique_ptr<MarkFile>(new NoSyncMark(std::move(file).value()));
  }
  Result<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path,
                                                      bool create) override {
    auto file = Env::Default()->OpenForAppend(path, create);
    if (!file.ok()) return file.status();
    return std::unique_ptr<WritableFile>(new NoSyncFile(std::move(file).value()));
  }
  Status SyncDir(const std::string& dir) override { return Status::OK(); }
  Status RemoveFile(const std::string& path) override { return Env::Default()->RemoveFile(path); }
  Status TruncateFile(const std::string& path, uint64_t bytes) override {
    if (::truncate(path.c_str(), static_cast<off_t>(bytes)) != 0) {
      return Status::FromErrno("truncate " + path, errno);
    }
    return Status::OK();
  }
};

// (b): recovery over the same bytes keeps exactly scan.entries.
void Recover(std::string_view bytes, const Scan& scan) {
  ClearDir();
  const std::string path = Dir() + "/" + SegmentFileName(kBase);
  WriteFile(path, bytes);

  static NoSyncEnv env;
  LogOptions options;
  options.dir = Dir();
  options.env = &env;
  RecoveryReport report;
  auto opened = Log::Open(options, &report);
  if (!opened.ok()) {
    const Status& s = opened.status();
    CHECK_MSG(s.IsCorruption() || s.IsIOError(), "Log::Open: %s", s.ToString().c_str());
    if (s.IsIOError()) return;  // the machine's trouble, not the input's
    if (scan.valid_after_damage) {
      // Refused, and nothing was cut.
      CHECK(FileSize(path) == bytes.size());
      return;
    }
    // Only a segment whose header is neither valid nor torn is refused.
    CHECK_MSG(!scan.header_ok, "Log::Open refused a segment with a valid header: %s",
              s.ToString().c_str());
    CHECK(bytes.size() >= kSegmentHeaderBytes);
    CHECK(!AllZero(bytes.substr(0, kSegmentHeaderBytes)));
    return;
  }
  Log& log = **opened;
  CHECK_MSG(!scan.valid_after_damage, "recovery cut damage that a valid entry follows");
  const Position head(scan.entries.size());
  CHECK_MSG(log.durable_head() == head, "durable head %llu, valid prefix %zu entries",
            static_cast<unsigned long long>(log.durable_head().value()), scan.entries.size());
  CHECK(report.head == head);
  if (scan.header_ok) {
    CHECK(report.tail_bytes == bytes.size() - scan.end);
    CHECK(FileSize(path) == scan.end);  // recovery cut the tail, nothing more
  } else {
    // A torn header: the segment was created again, empty.
    CHECK(bytes.size() < kSegmentHeaderBytes || AllZero(bytes.substr(0, kSegmentHeaderBytes)));
    CHECK(FileSize(path) == kSegmentHeaderBytes);
  }

  std::unique_ptr<Reader> reader = log.NewReader();
  Entry e;
  for (const ValidEntry& want : scan.entries) {
    Result<bool> got = reader->Next(&e);
    CHECK_MSG(got.ok(), "Reader::Next: %s", got.status().ToString().c_str());
    CHECK_MSG(*got, "the reader stopped before position %llu",
              static_cast<unsigned long long>(want.position.value()));
    CHECK(e.position == want.position);
    CHECK(e.timestamp_us == want.timestamp_us);
    CHECK(e.offset == want.offset);
    CHECK(e.payload == want.payload);
  }
  Result<bool> more = reader->Next(&e);
  CHECK_MSG(more.ok(), "Reader::Next at the head: %s", more.status().ToString().c_str());
  CHECK_MSG(!*more, "the reader returned position %llu past the valid prefix",
            static_cast<unsigned long long>(e.position.value()));

  // Seeking goes through the sparse index recovery rebuilt (one point per
  // 4 KiB): one entry picked from the input's size, to keep an iteration
  // cheap (each seek opens a reader), lands exactly on that entry.
  if (!scan.entries.empty()) {
    const ValidEntry& want = scan.entries[(bytes.size() * 2654435761u) % scan.entries.size()];
    Status s = reader->Seek(want.position);
    CHECK_MSG(s.ok(), "Seek(%llu): %s", static_cast<unsigned long long>(want.position.value()),
              s.ToString().c_str());
    Result<bool> got = reader->Next(&e);
    CHECK_MSG(got.ok() && *got, "Next after Seek(%llu): %s",
              static_cast<unsigned long long>(want.position.value()),
              got.ok() ? "nothing" : got.status().ToString().c_str());
    CHECK(e.position == want.position);
    CHECK(e.offset == want.offset);
    CHECK(e.payload == want.payload);
  }
  CHECK(reader->Seek(head.Next().Next()).IsInvalidArgument());
  Status at_head = reader->Seek(head.Next());
  CHECK_MSG(at_head.ok(), "Seek(head + 1): %s", at_head.ToString().c_str());
  more = reader->Next(&e);
  CHECK(more.ok() && !*more);

  // The recovered log takes the next entry right after the valid prefix.
  constexpr std::string_view kProbe = "probe";
  Result<Position> appended = log.Append(kProbe);
  CHECK_MSG(appended.ok(), "Append: %s", appended.status().ToString().c_str());
  CHECK(*appended == head.Next());
  Status s = log.WaitDurable(*appended);
  if (s.IsIOError()) return;
  CHECK_MSG(s.ok(), "WaitDurable: %s", s.ToString().c_str());
  more = reader->Next(&e);
  CHECK_MSG(more.ok() && *more, "reading the appended entry: %s",
            more.ok() ? "nothing" : more.status().ToString().c_str());
  CHECK(e.position == head.Next());
  CHECK(e.payload == kProbe);
}

}  // namespace
}  // namespace eventide::wal

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  (void)eventide::wal::Dir();
  std::atexit(eventide::wal::RemoveDir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eventide::wal;
  if (size == 0) return 0;
  std::string bytes;
  if (data[0] % 2 == 0) {
    char header[kSegmentHeaderBytes];
    EncodeSegmentHeader(Position(1), header);
    bytes.assign(header, sizeof(header));
  }
  bytes.append(reinterpret_cast<const char*>(data + 1), size - 1);
  Scan scan = ScanBuffer(bytes);
  Recover(bytes, scan);
  return 0;
}
