// eventide-log: inspects an Eventide log, and repairs it only when asked
// (SPEC section 11). The bytes it reads are described in wal/FORMAT.md.
//
// Every command but `repair` is read-only: `dump`, `get`, `tail` and `stats`
// open the log with LogOptions::read_only (nothing is cut, created or locked,
// so they are safe against the log of a running server), and `segments` and
// `verify` do not open a Log at all but read each segment file with
// wal::SegmentReader, so that they can describe damage the Log would refuse to
// open on.
//
// Exit codes: 0 ok, 1 not found or damaged, 2 usage or environment error.
// Errors are one line on stderr starting with "eventide-log: ".
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rapidjson/reader.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "src/event/event.h"
#include "tools/text.h"
#include "wal/format.h"
#include "wal/log.h"
#include "wal/position.h"
#include "wal/repair.h"
#include "wal/segment_reader.h"
#include "wal/status.h"
#include "wal/tail.h"

namespace eventide::tools {
namespace {

using wal::Position;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;  // not found, or the log is damaged
constexpr int kExitUsage = 2;   // bad arguments, or the environment (no such directory, I/O)

// `tail -f` polls this often: new entries show up within a fifth of a second,
// and an idle follower costs a stat-and-read five times a second.
constexpr auto kFollowInterval = std::chrono::milliseconds(200);
// A segment header is written microseconds after its file is created, so a
// Refresh that still finds it short after this many polls (5 s) has met real
// damage, not a writer in the middle of rolling.
constexpr int kRefreshRetries = 25;
// `verify` reports progress at most this often, and only on runs this long.
constexpr auto kProgressInterval = std::chrono::seconds(1);
// Output is written in chunks of about this size.
constexpr size_t kFlushBytes = 64 << 10;

int Error(int code, std::string_view message) {
  std::string line = OneLine(message);
  std::fprintf(stderr, "eventide-log: %s\n", line.c_str());
  return code;
}

// Exit code for a failed library call: damage and "no such thing" are 1,
// the environment (I/O, a held lock, bad arguments) is 2.
int ExitCodeFor(const Status& s) {
  if (s.IsCorruption() || s.IsNotFound()) return kExitFailed;
  return kExitUsage;
}

void Write(std::string* out, bool force = false) {
  if (out->empty() || (!force && out->size() < kFlushBytes)) return;
  std::fwrite(out->data(), 1, out->size(), stdout);
  out->clear();
  if (force) std::fflush(stdout);
}

// ---- The log directory ----

// Segment bases in `dir`, oldest first.
Status ListSegments(const std::string& dir, std::vector<Position>* bases) {
  bases->clear();
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno("opendir " + dir, errno);
  while (struct dirent* de = ::readdir(d)) {
    if (auto base = wal::ParseSegmentFileName(de->d_name)) bases->push_back(*base);
  }
  ::closedir(d);
  std::sort(bases->begin(), bases->end());
  return Status::OK();
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// `--data` names a server data directory (the log is in DATA/wal) or a log
// directory itself. Sets *log_dir, or returns the exit code of the error it
// printed.
std::optional<int> ResolveLogDir(const std::string& data, std::string* log_dir) {
  struct stat st;
  if (::stat(data.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) return Error(kExitUsage, "no such directory: " + data);
    return Error(kExitUsage, "cannot use " + data + ": " + std::strerror(err));
  }
  if (!S_ISDIR(st.st_mode)) return Error(kExitUsage, data + " is not a directory");
  std::vector<Position> bases;
  Status s = ListSegments(data, &bases);
  if (!s.ok()) return Error(kExitUsage, s.message());
  if (!bases.empty()) {
    *log_dir = data;
    return std::nullopt;
  }
  std::string wal_dir = data + "/wal";
  if (IsDirectory(wal_dir)) {
    s = ListSegments(wal_dir, &bases);
    if (!s.ok()) return Error(kExitUsage, s.message());
    if (bases.empty()) return Error(kExitUsage, "no log segments in " + wal_dir);
    *log_dir = wal_dir;
    return std::nullopt;
  }
  return Error(kExitUsage, data +
                               " is not an Eventide data or log directory (no wal/ subdirectory "
                               "and no NNNNNNNNNNNNNNNNNNNN.log segment files)");
}

std::string FileName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// ---- Parsing arguments ----

std::optional<Position> ParsePositionArg(const std::string& what, const std::string& text,
                                         int* exit_code) {
  auto p = Position::Parse(text);
  if (!p) *exit_code = Error(kExitUsage, what + ": '" + text + "' is not a position");
  return p;
}

std::optional<uint64_t> ParseCount(const std::string& what, const std::string& text,
                                   int* exit_code) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    *exit_code = Error(kExitUsage, what + ": '" + text + "' is not a count");
    return std::nullopt;
  }
  return v;
}

// ---- Rendering entries ----

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void JsonString(JsonWriter* w, std::string_view s) {
  std::string valid;
  if (!IsValidUtf8(s)) {
    valid = ToValidUtf8(s);
    s = valid;
  }
  w->String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void JsonKey(JsonWriter* w, std::string_view key) {
  w->Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}

// True when `data` is exactly one JSON value (strict RFC 8259, UTF-8), so
// that it can be embedded in our output as it is. The parse is iterative: a
// deeply nested value in a record cannot overflow our stack.
bool IsJson(std::string_view data, rapidjson::Type* type) {
  // A NUL byte would end rapidjson's input early; JSON never contains one.
  if (data.empty() || std::memchr(data.data(), '\0', data.size()) != nullptr) return false;
  rapidjson::MemoryStream ms(data.data(), data.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
  rapidjson::BaseReaderHandler<rapidjson::UTF8<>> handler;
  rapidjson::Reader reader;
  constexpr unsigned kFlags =
      rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;
  if (reader.Parse<kFlags>(is, handler).IsError()) return false;
  size_t i = data.find_first_not_of(" \t\r\n");
  switch (data[i]) {
    case '{':
      *type = rapidjson::kObjectType;
      break;
    case '[':
      *type = rapidjson::kArrayType;
      break;
    case '"':
      *type = rapidjson::kStringType;
      break;
    case 't':
      *type = rapidjson::kTrueType;
      break;
    case 'f':
      *type = rapidjson::kFalseType;
      break;
    case 'n':
      *type = rapidjson::kNullType;
      break;
    default:
      *type = rapidjson::kNumberType;
      break;
  }
  return true;
}

// Appends one entry as a JSON object and a newline.
void AppendJsonEntry(const wal::Entry& e, std::string* out) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  JsonKey(&w, "position");
  w.Uint64(e.position.value());
  JsonKey(&w, "timestamp");
  JsonString(&w, FormatUtc(e.timestamp_us, 1000000, 6));
  event::Event ev;
  Status s = event::Decode(e.payload, &ev);
  if (!s.ok()) {
    JsonKey(&w, "error");
    JsonString(&w, "payload is not an event: " + s.message());
    JsonKey(&w, "payload_bytes");
    w.Uint64(e.payload.size());
  } else {
    JsonKey(&w, "op");
    JsonString(&w, event::OpName(ev.op));
    JsonKey(&w, "app");
    JsonString(&w, ev.app);
    JsonKey(&w, "table");
    JsonString(&w, ev.table);
    JsonKey(&w, "id");
    JsonString(&w, ev.id);
    if (!ev.tenant.empty()) {
      JsonKey(&w, "tenant");
      JsonString(&w, ev.tenant);
    }
    if (!ev.subject.empty()) {
      JsonKey(&w, "subject");
      JsonString(&w, ev.subject);
    }
    JsonKey(&w, "time");
    JsonString(&w, FormatUtc(ev.time_ms, 1000, 3));
    JsonKey(&w, "data");
    rapidjson::Type type;
    if (IsJson(ev.data, &type)) {
      // Valid JSON holds raw CR and LF only as whitespace between tokens
      // (never inside a string), so blanking them keeps the value and keeps
      // our output one object per line.
      std::string raw(ev.data);
      std::replace(raw.begin(), raw.end(), '\n', ' ');
      std::replace(raw.begin(), raw.end(), '\r', ' ');
      w.RawValue(raw.data(), raw.size(), type);
    } else {
      JsonString(&w, ev.data);
    }
    if (!ev.prev.empty()) {  // a version 2 entry: the record before the update
      JsonKey(&w, "prev");
      if (IsJson(ev.prev, &type)) {
        std::string raw(ev.prev);
        std::replace(raw.begin(), raw.end(), '\n', ' ');
        std::replace(raw.begin(), raw.end(), '\r', ' ');
        w.RawValue(raw.data(), raw.size(), type);
      } else {
        JsonString(&w, ev.prev);
      }
    }
  }
  w.EndObject();
  out->append(sb.GetString(), sb.GetSize());
  out->push_back('\n');
}

// Appends one entry as a human-readable line:
//   42 2026-11-23T00:38:25.862445Z create realtime-demo/Message id=msg-1
//      time=2025-01-15T10:30:00.000Z {"id":"msg-1","title":"Hello"}
// (on one line).
void AppendTextEntry(const wal::Entry& e, std::string* out) {
  out->append(e.position.ToString());
  out->push_back(' ');
  out->append(FormatUtc(e.timestamp_us, 1000000, 6));
  event::Event ev;
  Status s = event::Decode(e.payload, &ev);
  if (!s.ok()) {
    out->append(" <payload is not an event: ");
    AppendPrintable(s.message(), out);
    out->append("> (" + std::to_string(e.payload.size()) + " bytes)\n");
    return;
  }
  out->push_back(' ');
  out->append(event::OpName(ev.op));
  out->push_back(' ');
  AppendPrintable(ev.app, out);
  out->push_back('/');
  AppendPrintable(ev.table, out);
  if (!ev.id.empty()) {
    out->append(" id=");
    AppendPrintable(ev.id, out);
  }
  if (!ev.tenant.empty()) {
    out->append(" tenant=");
    AppendPrintable(ev.tenant, out);
  }
  if (!ev.subject.empty()) {
    out->append(" subject=");
    AppendPrintable(ev.subject, out);
  }
  out->append(" time=");
  out->append(FormatUtc(ev.time_ms, 1000, 3));
  out->push_back(' ');
  AppendPrintable(ev.data, out);
  if (!ev.prev.empty()) {
    out->append(" prev=");
    AppendPrintable(ev.prev, out);
  }
  out->push_back('\n');
}

void AppendEntry(const wal::Entry& e, bool json, std::string* out) {
  if (json) {
    AppendJsonEntry(e, out);
  } else {
    AppendTextEntry(e, out);
  }
}

// ---- Reading through the Log (dump, get, tail, stats) ----

std::optional<int> OpenReadOnly(const std::string& log_dir, std::unique_ptr<wal::Log>* log) {
  wal::LogOptions options;
  options.dir = log_dir;
  options.read_only = true;
  wal::RecoveryReport report;
  auto opened = wal::Log::Open(options, &report);
  if (opened.ok() && report.tail_corrupt) {
    // Start-up refuses such a log; the read-only commands show what is there
    // before the damage, and say so.
    std::fprintf(stderr,
                 "eventide-log: warning: %s offset %llu: %s; %s. Showing entries up to "
                 "position %s (see `eventide-log verify`)\n",
                 report.tail_segment.c_str(), static_cast<unsigned long long>(report.tail_offset),
                 report.tail_reason.c_str(), report.tail_verdict.c_str(),
                 report.head.ToString().c_str());
  }
  if (!opened.ok()) {
    const Status& s = opened.status();
    if (s.IsCorruption()) {
      return Error(kExitFailed,
                   "the log is damaged: " + s.message() + " (see `eventide-log verify`)");
    }
    return Error(ExitCodeFor(s), s.message());
  }
  *log = std::move(opened).value();
  return std::nullopt;
}

std::string RetainedRange(const wal::Log& log) {
  Position first = log.first_position();
  Position head = log.durable_head();
  if (head < first) return "the log is empty (its next position is " + first.ToString() + ")";
  return "the log retains positions " + first.ToString() + ".." + head.ToString();
}

// Calls fn for every entry from `from` to `to` (both clamped to what the log
// holds). Returns an exit code.
int ForEachEntry(wal::Log* log, Position from, Position to,
                 const std::function<void(const wal::Entry&)>& fn) {
  from = std::max(from, log->first_position());
  to = std::min(to, log->durable_head());
  if (from > to) return kExitOk;
  std::unique_ptr<wal::Reader> reader = log->NewReader();
  Status s = reader->Seek(from);
  if (!s.ok()) return Error(ExitCodeFor(s), s.message());
  wal::Entry e;
  for (;;) {
    auto more = reader->Next(&e);
    if (!more.ok()) return Error(ExitCodeFor(more.status()), more.status().message());
    if (!*more || e.position > to) return kExitOk;
    fn(e);
  }
}

struct DumpArgs {
  std::string from;
  std::string to;
  std::string table;  // "T" or "app/T"
  bool json = false;
};

bool MatchesTable(const wal::Entry& e, const std::string& table) {
  event::Event ev;
  if (!event::Decode(e.payload, &ev).ok()) return false;
  if (table.find('/') != std::string::npos) {
    return table.size() == ev.app.size() + 1 + ev.table.size() &&
           table.compare(0, ev.app.size(), ev.app) == 0 &&
           table.compare(ev.app.size() + 1, std::string::npos, ev.table) == 0;
  }
  return ev.table == table;
}

int Dump(const std::string& log_dir, const DumpArgs& args) {
  int rc = kExitOk;
  Position from(1);
  Position to(UINT64_MAX);
  if (!args.from.empty()) {
    auto p = ParsePositionArg("--from", args.from, &rc);
    if (!p) return rc;
    from = *p;
  }
  if (!args.to.empty()) {
    auto p = ParsePositionArg("--to", args.to, &rc);
    if (!p) return rc;
    to = *p;
  }
  if (from > to) {
    return Error(kExitUsage, "--from " + from.ToString() + " is after --to " + to.ToString());
  }
  std::unique_ptr<wal::Log> log;
  if (auto err = OpenReadOnly(log_dir, &log)) return *err;
  std::string out;
  rc = ForEachEntry(log.get(), from, to, [&](const wal::Entry& e) {
    if (!args.table.empty() && !MatchesTable(e, args.table)) return;
    AppendEntry(e, args.json, &out);
    Write(&out);
  });
  Write(&out, /*force=*/true);
  return rc;
}

int Get(const std::string& log_dir, const std::string& position, bool json) {
  int rc = kExitOk;
  auto p = ParsePositionArg("get", position, &rc);
  if (!p) return rc;
  std::unique_ptr<wal::Log> log;
  if (auto err = OpenReadOnly(log_dir, &log)) return *err;
  if (*p < log->first_position() || *p > log->durable_head()) {
    return Error(kExitFailed, "position " + p->ToString() + " not found: " + RetainedRange(*log));
  }
  std::string out;
  bool found = false;
  rc = ForEachEntry(log.get(), *p, *p, [&](const wal::Entry& e) {
    AppendEntry(e, json, &out);
    found = true;
  });
  Write(&out, /*force=*/true);
  if (rc == kExitOk && !found) {
    return Error(kExitFailed, "position " + p->ToString() + " not found: " + RetainedRange(*log));
  }
  return rc;
}

volatile std::sig_atomic_t g_stop = 0;

extern "C" void OnStopSignal(int) { g_stop = 1; }

void InstallStopHandlers() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the poll's sleep ends at once
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

int Tail(const std::string& log_dir, const std::string& lines, bool follow, bool json) {
  int rc = kExitOk;
  auto count = ParseCount("-n", lines, &rc);
  if (!count) return rc;
  if (follow) InstallStopHandlers();
  std::unique_ptr<wal::Log> log;
  if (auto err = OpenReadOnly(log_dir, &log)) return *err;
  Position first = log->first_position();
  Position head = log->durable_head();
  Position from = head.Next();
  if (*count > 0) from = head.value() >= *count ? Position(head.value() - *count + 1) : first;
  from = std::max(from, first);

  std::unique_ptr<wal::Reader> reader = log->NewReader();
  Status s = reader->Seek(from);
  if (!s.ok()) return Error(ExitCodeFor(s), s.message());
  std::string out;
  wal::Entry e;
  int refresh_failures = 0;
  for (;;) {
    for (;;) {
      auto more = reader->Next(&e);
      if (!more.ok()) {
        Write(&out, /*force=*/true);
        return Error(ExitCodeFor(more.status()), more.status().message());
      }
      if (!*more) break;
      AppendEntry(e, json, &out);
      Write(&out);
    }
    Write(&out, /*force=*/true);
    if (!follow || g_stop) return kExitOk;
    struct timespec ts = {0, std::chrono::nanoseconds(kFollowInterval).count()};
    ::nanosleep(&ts, nullptr);
    if (g_stop) return kExitOk;
    s = log->Refresh();
    if (!s.ok()) {
      // Log::Refresh fails with Corruption ("segment header is short") when
      // it runs between the writer's creating the next segment file and its
      // writing that file's header (a library bug, reported with a
      // reproduction); the next poll finds the header there. Only a failure
      // that outlasts kRefreshRetries polls is taken as real.
      if (s.IsCorruption() && ++refresh_failures < kRefreshRetries) continue;
      return Error(ExitCodeFor(s), s.message());
    }
    refresh_failures = 0;
    // A read-only Log that opened while the writer was creating a segment
    // (file there, header not yet written) never looks at that segment
    // again in Refresh. Reopen once its header is on disk, and carry on
    // where we were.
    wal::SegmentInfo newest = log->Segments().back();
    struct stat st;
    if (newest.bytes < wal::kSegmentHeaderBytes && ::stat(newest.path.c_str(), &st) == 0 &&
        static_cast<uint64_t>(st.st_size) >= wal::kSegmentHeaderBytes) {
      Position next = reader->next_position();
      reader.reset();  // a Reader must not outlive its Log
      log.reset();
      if (auto err = OpenReadOnly(log_dir, &log)) return *err;
      reader = log->NewReader();
      s = reader->Seek(next);
      if (!s.ok()) return Error(ExitCodeFor(s), s.message());
    }
  }
}

struct Counter {
  uint64_t entries = 0;
  uint64_t payload_bytes = 0;
  void Add(const wal::Entry& e) {
    ++entries;
    payload_bytes += e.payload.size();
  }
};

int Stats(const std::string& log_dir, bool json) {
  std::unique_ptr<wal::Log> log;
  if (auto err = OpenReadOnly(log_dir, &log)) return *err;
  Counter total;
  std::map<std::string, Counter> by_op;
  std::map<std::string, Counter> by_table;  // "app/table"
  Counter undecodable;
  Position first, last;
  int64_t first_us = 0, last_us = 0;
  std::optional<int64_t> min_ms, max_ms;
  int rc = ForEachEntry(log.get(), Position(1), Position(UINT64_MAX), [&](const wal::Entry& e) {
    if (total.entries == 0) {
      first = e.position;
      first_us = e.timestamp_us;
    }
    last = e.position;
    last_us = e.timestamp_us;
    total.Add(e);
    event::Event ev;
    if (!event::Decode(e.payload, &ev).ok()) {
      undecodable.Add(e);
      return;
    }
    by_op[std::string(event::OpName(ev.op))].Add(e);
    by_table[std::string(ev.app) + "/" + std::string(ev.table)].Add(e);
    if (!min_ms || ev.time_ms < *min_ms) min_ms = ev.time_ms;
    if (!max_ms || ev.time_ms > *max_ms) max_ms = ev.time_ms;
  });
  if (rc != kExitOk) return rc;
  std::vector<wal::SegmentInfo> segments = log->Segments();
  uint64_t log_bytes = 0;
  for (const auto& seg : segments) log_bytes += seg.bytes;

  std::string out;
  if (json) {
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    JsonKey(&w, "entries");
    w.Uint64(total.entries);
    JsonKey(&w, "payload_bytes");
    w.Uint64(total.payload_bytes);
    JsonKey(&w, "log_bytes");
    w.Uint64(log_bytes);
    JsonKey(&w, "segments");
    w.Uint64(segments.size());
    if (total.entries > 0) {
      JsonKey(&w, "first_position");
      w.Uint64(first.value());
      JsonKey(&w, "last_position");
      w.Uint64(last.value());
      JsonKey(&w, "first_timestamp");
      JsonString(&w, FormatUtc(first_us, 1000000, 6));
      JsonKey(&w, "last_timestamp");
      JsonString(&w, FormatUtc(last_us, 1000000, 6));
    }
    if (min_ms) {
      JsonKey(&w, "first_time");
      JsonString(&w, FormatUtc(*min_ms, 1000, 3));
      JsonKey(&w, "last_time");
      JsonString(&w, FormatUtc(*max_ms, 1000, 3));
    }
    auto counters = [&](std::string_view key, const std::map<std::string, Counter>& m) {
      JsonKey(&w, key);
      w.StartObject();
      for (const auto& [name, c] : m) {
        JsonKey(&w, name);
        w.StartObject();
        JsonKey(&w, "entries");
        w.Uint64(c.entries);
        JsonKey(&w, "payload_bytes");
        w.Uint64(c.payload_bytes);
        w.EndObject();
      }
      w.EndObject();
    };
    counters("operations", by_op);
    counters("tables", by_table);
    JsonKey(&w, "undecodable");
    w.Uint64(undecodable.entries);
    w.EndObject();
    out.append(sb.GetString(), sb.GetSize());
    out.push_back('\n');
  } else {
    char line[256];
    std::snprintf(line, sizeof(line), "entries        %llu\n",
                  static_cast<unsigned long long>(total.entries));
    out += line;
    if (total.entries > 0) {
      out += "positions      " + first.ToString() + ".." + last.ToString() + "\n";
      out += "log time       " + FormatUtc(first_us, 1000000, 6) + " .. " +
             FormatUtc(last_us, 1000000, 6) + "\n";
    } else {
      out += "positions      none (" + RetainedRange(*log) + ")\n";
    }
    if (min_ms) {
      out += "event time     " + FormatUtc(*min_ms, 1000, 3) + " .. " +
             FormatUtc(*max_ms, 1000, 3) + "\n";
    }
    out += "payload bytes  " + std::to_string(total.payload_bytes) + "\n";
    out += "log bytes      " + std::to_string(log_bytes) + " in " +
           std::to_string(segments.size()) + " segment(s)\n";
    auto counters = [&](const char* title, const std::map<std::string, Counter>& m) {
      out += title;
      out += ":\n";
      for (const auto& [name, c] : m) {
        out += "  ";
        AppendPrintable(name, &out);
        out += "  " + std::to_string(c.entries) + " entries, " + std::to_string(c.payload_bytes) +
               " payload bytes\n";
      }
    };
    counters("by operation", by_op);
    counters("by table", by_table);
    if (undecodable.entries > 0) {
      out += "not events     " + std::to_string(undecodable.entries) + " entries, " +
             std::to_string(undecodable.payload_bytes) + " payload bytes\n";
    }
  }
  Write(&out, /*force=*/true);
  return kExitOk;
}

// ---- Reading segment files directly (segments, verify) ----

struct SegmentScan {
  enum class State {
    kClean,       // every byte is a valid entry
    kTornHeader,  // the header is short or zero: creation was interrupted
    kBadHeader,   // the header is present but wrong
    kTorn,        // ends in an incomplete entry (SegmentReader kTorn)
    kCorrupt,     // holds a complete entry that is wrong (SegmentReader kCorrupt)
    kIOError,
  };
  std::string path;
  Position base;
  Position last;  // None when the segment holds no valid entry
  uint64_t entries = 0;
  uint64_t file_bytes = 0;
  uint64_t valid_bytes = 0;  // header plus valid entries
  State state = State::kClean;
  uint64_t problem_offset = 0;
  std::string problem;
};

// Called now and then with the bytes read so far of the segment being scanned.
using ScanProgress = std::function<void(uint64_t bytes)>;

SegmentScan ScanSegmentFile(const std::string& dir, Position base, const ScanProgress& progress) {
  SegmentScan scan;
  scan.path = dir + "/" + wal::SegmentFileName(base);
  scan.base = base;
  struct stat st;
  if (::stat(scan.path.c_str(), &st) == 0) scan.file_bytes = static_cast<uint64_t>(st.st_size);
  auto opened = wal::SegmentReader::Open(scan.path, base);
  if (!opened.ok()) {
    scan.problem_offset = 0;
    if (!opened.status().IsCorruption()) {
      scan.state = SegmentScan::State::kIOError;
      scan.problem = opened.status().message();
      return scan;
    }
    // Tell an interrupted creation (short or all-zero header, FORMAT.md
    // section 6) from a header that is there but wrong.
    std::string head(wal::kSegmentHeaderBytes, '\0');
    int fd = ::open(scan.path.c_str(), O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? ::pread(fd, head.data(), head.size(), 0) : -1;
    if (fd >= 0) ::close(fd);
    if (n < 0) {
      scan.state = SegmentScan::State::kIOError;
      scan.problem = std::string("cannot read the segment header: ") + std::strerror(errno);
    } else if (static_cast<size_t>(n) < head.size() ||
               head == std::string(wal::kSegmentHeaderBytes, '\0')) {
      scan.state = SegmentScan::State::kTornHeader;
      scan.problem = "segment header incomplete (segment creation was interrupted)";
    } else {
      scan.state = SegmentScan::State::kBadHeader;
      scan.problem = wal::CheckSegmentHeader(head, base);
    }
    return scan;
  }
  wal::SegmentReader& reader = **opened;
  wal::Entry e;
  wal::SegmentReader::Outcome o;
  while ((o = reader.Next(&e)) == wal::SegmentReader::Outcome::kEntry) {
    scan.last = e.position;
    // Progress every 1024 entries: a clock read per entry would be measurable
    // against XXH3 on small entries.
    if ((++scan.entries & 1023) == 0 && progress) progress(reader.offset());
  }
  scan.file_bytes = reader.file_bytes();
  scan.valid_bytes = reader.offset();
  scan.problem_offset = reader.problem_offset();
  switch (o) {
    case wal::SegmentReader::Outcome::kEnd:
      scan.state = SegmentScan::State::kClean;
      break;
    case wal::SegmentReader::Outcome::kTorn:
      scan.state = SegmentScan::State::kTorn;
      scan.problem = reader.problem();
      break;
    case wal::SegmentReader::Outcome::kCorrupt:
      scan.state = SegmentScan::State::kCorrupt;
      scan.problem = reader.problem();
      break;
    default:
      scan.state = SegmentScan::State::kIOError;
      scan.problem = reader.problem();
      break;
  }
  return scan;
}

std::string StateText(const SegmentScan& s) {
  switch (s.state) {
    case SegmentScan::State::kClean:
      return "ok";
    case SegmentScan::State::kTornHeader:
      return "torn header";
    case SegmentScan::State::kBadHeader:
      return "bad header: " + s.problem;
    case SegmentScan::State::kTorn:
      return "torn at offset " + std::to_string(s.problem_offset) + ": " + s.problem;
    case SegmentScan::State::kCorrupt:
      return "corrupt at offset " + std::to_string(s.problem_offset) + ": " + s.problem;
    case SegmentScan::State::kIOError:
      return "I/O error: " + s.problem;
  }
  return "?";
}

int Segments(const std::string& log_dir, bool json) {
  std::vector<Position> bases;
  Status st = ListSegments(log_dir, &bases);
  if (!st.ok()) return Error(kExitUsage, st.message());
  std::string out;
  if (!json) {
    char line[256];
    std::snprintf(line, sizeof(line), "%-24s  %20s  %20s  %12s  %10s  %s\n", "file", "first",
                  "last", "bytes", "entries", "state");
    out += line;
  }
  Position prev_last;
  for (size_t i = 0; i < bases.size(); ++i) {
    SegmentScan s = ScanSegmentFile(log_dir, bases[i], nullptr);
    std::string state = StateText(s);
    if (i > 0 && s.base != prev_last.Next()) {
      state +=
          "; base does not follow position " + prev_last.ToString() + " of the previous segment";
    }
    prev_last = s.last.IsNone() ? s.base.Prev() : s.last;
    std::string file = FileName(s.path);
    if (json) {
      rapidjson::StringBuffer sb;
      JsonWriter w(sb);
      w.StartObject();
      JsonKey(&w, "file");
      JsonString(&w, file);
      JsonKey(&w, "first");
      w.Uint64(s.base.value());
      JsonKey(&w, "last");
      if (s.last.IsNone()) {
        w.Null();
      } else {
        w.Uint64(s.last.value());
      }
      JsonKey(&w, "bytes");
      w.Uint64(s.file_bytes);
      JsonKey(&w, "entries");
      w.Uint64(s.entries);
      JsonKey(&w, "state");
      JsonString(&w, state);
      w.EndObject();
      out.append(sb.GetString(), sb.GetSize());
      out.push_back('\n');
    } else {
      char line[256];
      std::snprintf(line, sizeof(line), "%-24s  %20llu  %20s  %12llu  %10llu  ", file.c_str(),
                    static_cast<unsigned long long>(s.base.value()),
                    s.last.IsNone() ? "-" : s.last.ToString().c_str(),
                    static_cast<unsigned long long>(s.file_bytes),
                    static_cast<unsigned long long>(s.entries));
      out += line;
      AppendPrintable(state, &out);
      out.push_back('\n');
    }
  }
  Write(&out, /*force=*/true);
  return kExitOk;
}

// Reports verify's progress on stderr, at most once per kProgressInterval,
// and only once the run has lasted that long (short runs stay quiet).
class Progress {
 public:
  explicit Progress(uint64_t total_bytes)
      : total_bytes_(total_bytes), last_(std::chrono::steady_clock::now()) {}

  void Report(size_t segment, size_t segments, uint64_t done_bytes) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < kProgressInterval) return;
    last_ = now;
    double pct = total_bytes_ == 0
                     ? 100.0
                     : 100.0 * static_cast<double>(done_bytes) / static_cast<double>(total_bytes_);
    std::fprintf(stderr, "verify: %.0f%% (%s of %s), segment %zu of %zu\n", pct,
                 HumanBytes(done_bytes).c_str(), HumanBytes(total_bytes_).c_str(), segment,
                 segments);
  }

 private:
  uint64_t total_bytes_;
  std::chrono::steady_clock::time_point last_;
};

int Verify(const std::string& log_dir, bool strict) {
  std::vector<Position> bases;
  Status st = ListSegments(log_dir, &bases);
  if (!st.ok()) return Error(kExitUsage, st.message());
  uint64_t total_bytes = 0;
  for (Position base : bases) {
    struct stat sb;
    std::string path = log_dir + "/" + wal::SegmentFileName(base);
    if (::stat(path.c_str(), &sb) == 0) total_bytes += static_cast<uint64_t>(sb.st_size);
  }
  std::string mark_problem;
  auto mark = wal::ReadSyncedMark(log_dir, &mark_problem);
  if (!mark.ok()) return Error(kExitUsage, mark.status().message());
  Progress progress(total_bytes);
  uint64_t done_bytes = 0;
  uint64_t entries = 0;
  uint64_t valid_bytes = 0;
  Position first, last;
  std::string note;
  uint64_t cut_bytes = 0;

  auto damaged = [](const std::string& path, uint64_t offset, const std::string& reason) {
    return Error(kExitFailed,
                 "damaged: " + path + " offset " + std::to_string(offset) + ": " + reason);
  };
  for (size_t i = 0; i < bases.size(); ++i) {
    bool is_last = i + 1 == bases.size();
    std::string path = log_dir + "/" + wal::SegmentFileName(bases[i]);
    // Each base must follow the previous segment's last entry: a missing
    // segment breaks the chain even when every file is whole.
    if (i > 0 && bases[i] != last.Next()) {
      return damaged(path, 0,
                     "base position " + bases[i].ToString() + " does not follow position " +
                         last.ToString() +
                         " that ends the previous segment (a segment is missing?)");
    }
    SegmentScan s = ScanSegmentFile(log_dir, bases[i], [&](uint64_t bytes) {
      progress.Report(i + 1, bases.size(), done_bytes + bytes);
    });
    done_bytes += s.file_bytes;
    progress.Report(i + 1, bases.size(), done_bytes);
    const uint64_t synced = is_last ? wal::SyncedBytesFor(*mark, s.base) : 0;
    if (is_last && s.state == SegmentScan::State::kTornHeader && synced > 0) {
      return damaged(
          path, 0,
          s.problem + ", but SYNCED records " + std::to_string(synced) + " bytes of it as synced");
    }
    if (is_last &&
        (s.state == SegmentScan::State::kTorn || s.state == SegmentScan::State::kCorrupt ||
         (s.state == SegmentScan::State::kClean && s.file_bytes < synced))) {
      // Judged as recovery judges it (wal/tail.h): only a torn tail after the
      // synced length, with nothing valid after it, is a crash's doing.
      Position next = s.last.IsNone() ? s.base : s.last.Next();
      auto verdict = wal::JudgeTail(path, s.valid_bytes, s.file_bytes, next, synced);
      if (!verdict.ok()) return Error(kExitUsage, verdict.status().message());
      if (!verdict->torn) {
        std::string out = "damage: " + path + " offset " + std::to_string(s.problem_offset) + ": " +
                          (s.problem.empty() ? "end of segment" : s.problem) + "\n";
        out += "  not a torn tail: " + verdict->why_not + "\n";
        out += "  before it: positions " +
               (s.last.IsNone() ? std::string("none in this segment")
                                : s.base.ToString() + ".." + s.last.ToString()) +
               ", valid\n";
        if (verdict->later) {
          out += "  after it: " + std::to_string(verdict->later_entries) +
                 " valid entries, positions " + verdict->later->position.ToString() + ".." +
                 verdict->later_last.ToString() + ", from offset " +
                 std::to_string(verdict->later->offset) + "\n";
        }
        out += "  `eventide-log repair --truncate-after " + next.Prev().ToString() +
               "` would drop " + std::to_string(s.file_bytes - s.valid_bytes) +
               " bytes from offset " + std::to_string(s.valid_bytes) +
               (verdict->later ? ", including those " + std::to_string(verdict->later_entries) +
                                     " valid entries"
                               : std::string()) +
               "; start-up refuses the log until then\n";
        Write(&out, /*force=*/true);
        return damaged(
            path, s.problem_offset,
            (s.problem.empty() ? "end of segment" : s.problem) + "; " + verdict->why_not);
      }
    }
    switch (s.state) {
      case SegmentScan::State::kClean:
        break;
      case SegmentScan::State::kTornHeader:
        if (!is_last) return damaged(path, 0, s.problem);
        cut_bytes = s.file_bytes;
        note = path + " offset 0: " + s.problem + "; recovery removes the segment (" +
               std::to_string(cut_bytes) + " bytes)";
        break;
      case SegmentScan::State::kTorn:
        if (!is_last) {
          return damaged(path, s.problem_offset, s.problem + " (in a sealed segment)");
        }
        cut_bytes = s.file_bytes - s.valid_bytes;
        note = path + " offset " + std::to_string(s.problem_offset) + ": torn tail, " + s.problem +
               "; recovery cuts " + std::to_string(cut_bytes) + " bytes";
        break;
      case SegmentScan::State::kBadHeader:
      case SegmentScan::State::kCorrupt:
        return damaged(path, s.problem_offset, s.problem);
      case SegmentScan::State::kIOError:
        return Error(kExitUsage,
                     path + " offset " + std::to_string(s.problem_offset) + ": " + s.problem);
    }
    if (!is_last && s.last.IsNone()) {
      return damaged(path, wal::kSegmentHeaderBytes, "a sealed segment holds no entry");
    }
    if (first.IsNone() && !s.last.IsNone()) first = s.base;
    last = s.last.IsNone() ? s.base.Prev() : s.last;
    entries += s.entries;
    valid_bytes += s.valid_bytes;
  }
  std::string out;
  if (!note.empty()) out += "note: " + OneLine(note) + "\n";
  if (!mark_problem.empty()) {
    out += "note: " + OneLine(mark_problem) +
           "; recovery judges the last segment by its entries alone\n";
  }
  out += "verified " + std::to_string(bases.size()) + " segment(s), " + std::to_string(entries) +
         " entries";
  if (!first.IsNone()) out += " (positions " + first.ToString() + ".." + last.ToString() + ")";
  out += ", " + std::to_string(valid_bytes) + " bytes: ";
  out += note.empty() ? "clean\n" : "clean apart from the torn tail\n";
  Write(&out, /*force=*/true);
  if (!note.empty() && strict) {
    return Error(kExitFailed, "torn tail in the last segment (--strict)");
  }
  return kExitOk;
}

// Damage at or before position `last`: what TruncateAfter(last) would leave
// in place. TruncateAfter checks only the segment it cuts (wal/repair.h), so
// without this an earlier damaged segment would survive a "successful" repair
// that had deleted every later segment. Returns an empty string when entries
// up to `last` (or up to the end of the log, when it ends sooner) are whole;
// otherwise the problem, and *keep is the newest position before it.
std::string DamageUpTo(const std::string& log_dir, const std::vector<Position>& bases,
                       Position last, Position* keep) {
  *keep = Position();
  for (size_t i = 0; i < bases.size() && bases[i] <= last; ++i) {
    std::string path = log_dir + "/" + wal::SegmentFileName(bases[i]);
    if (i > 0 && bases[i] != keep->Next()) {
      return path + " offset 0: base position " + bases[i].ToString() +
             " does not follow position " + keep->ToString() + " (a segment is missing?)";
    }
    auto opened = wal::SegmentReader::Open(path, bases[i]);
    if (!opened.ok()) return opened.status().message();
    wal::SegmentReader& reader = **opened;
    *keep = bases[i].Prev();
    wal::Entry e;
    for (;;) {
      wal::SegmentReader::Outcome o = reader.Next(&e);
      if (o == wal::SegmentReader::Outcome::kEnd) break;
      if (o != wal::SegmentReader::Outcome::kEntry) {
        // A torn tail of the last segment before `last` means the log ends
        // sooner; TruncateAfter says so itself.
        if (o == wal::SegmentReader::Outcome::kTorn && i + 1 == bases.size()) return "";
        return path + " offset " + std::to_string(reader.problem_offset()) + ": " +
               reader.problem();
      }
      *keep = e.position;
      if (e.position >= last) return "";
    }
  }
  return "";
}

int Repair(const std::string& log_dir, const std::string& after) {
  int rc = kExitOk;
  auto last = ParsePositionArg("--truncate-after", after, &rc);
  if (!last) return rc;
  std::vector<Position> bases;
  Status st = ListSegments(log_dir, &bases);
  if (!st.ok()) return Error(kExitUsage, st.message());
  Position keep;
  std::string damage = DamageUpTo(log_dir, bases, *last, &keep);
  if (!damage.empty()) {
    std::string hint = !bases.empty() && keep.Next() >= bases.front()
                           ? "; to cut before it: repair --truncate-after " + keep.ToString()
                           : "";
    return Error(kExitFailed, "repair refused: the log is damaged at or before position " +
                                  last->ToString() + ": " + damage + hint);
  }
  wal::RepairReport report;
  Status s = wal::TruncateAfter(log_dir, *last, &report);
  if (!s.ok()) {
    int code = s.IsInvalidArgument() ? kExitFailed : ExitCodeFor(s);
    return Error(code, "repair failed: " + s.message());
  }
  std::string out;
  if (!report.cut_segment.empty()) {
    out += "cut " + report.cut_segment + " at offset " + std::to_string(report.cut_offset) + " (" +
           std::to_string(report.cut_bytes) + " bytes removed)\n";
  }
  for (const auto& path : report.removed_segments) out += "removed " + path + "\n";
  if (report.lowered_mark) out += "lowered SYNCED to the cut\n";
  if (report.cut_segment.empty() && report.removed_segments.empty()) {
    out += "nothing to cut: the log already ends at position " + last->ToString() + "\n";
  } else {
    out += "the log now ends at position " + last->ToString() + "\n";
  }
  Write(&out, /*force=*/true);
  return kExitOk;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "Inspects an Eventide log: read-only unless `repair` is asked for.\n"
      "Exit codes: 0 ok, 1 not found or damaged, 2 usage or environment error.",
      "eventide-log"};
  app.require_subcommand(1);
  app.fallthrough();  // --data may also follow the command
  std::string data = "./data";
  app.add_option("--data", data, "server data directory (the log is in DIR/wal) or a log directory")
      ->capture_default_str();

  auto* segments_cmd = app.add_subcommand("segments", "list segment files and their positions");
  bool segments_json = false;
  segments_cmd->add_flag("--json", segments_json, "one JSON object per segment");

  DumpArgs dump;
  auto* dump_cmd = app.add_subcommand("dump", "print entries");
  dump_cmd->add_option("--from", dump.from, "first position (default: the oldest retained)");
  dump_cmd->add_option("--to", dump.to, "last position (default: the newest)");
  dump_cmd->add_option("--table", dump.table, "only entries on table T (or APP/T)");
  dump_cmd->add_flag("--json", dump.json, "one JSON object per entry");

  std::string get_position;
  bool get_json = false;
  auto* get_cmd = app.add_subcommand("get", "print the entry at position N");
  get_cmd->add_option("N", get_position, "position")->required();
  get_cmd->add_flag("--json", get_json, "print it as a JSON object");

  std::string tail_lines = "10";
  bool tail_follow = false;
  bool tail_json = false;
  auto* tail_cmd = app.add_subcommand("tail", "print the newest entries");
  tail_cmd->add_option("-n,--lines", tail_lines, "how many")->capture_default_str();
  tail_cmd->add_flag("-f,--follow", tail_follow,
                     "keep printing new entries until SIGINT or SIGTERM");
  tail_cmd->add_flag("--json", tail_json, "one JSON object per entry");

  bool stats_json = false;
  auto* stats_cmd =
      app.add_subcommand("stats", "entries per table and operation, bytes, time range");
  stats_cmd->add_flag("--json", stats_json, "print one JSON object");

  bool verify_strict = false;
  auto* verify_cmd = app.add_subcommand("verify", "check every checksum and the position chain");
  verify_cmd->add_flag("--strict", verify_strict,
                       "a torn tail of the last segment is damage too (exit 1)");

  std::string truncate_after;
  auto* repair_cmd = app.add_subcommand(
      "repair", "remove every entry after position N (the only command that writes)");
  repair_cmd->add_option("--truncate-after", truncate_after, "keep entries up to N")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    return Error(kExitUsage, std::string(e.what()) + " (see --help)");
  }

  std::string log_dir;
  if (auto err = ResolveLogDir(data, &log_dir)) return *err;
  if (segments_cmd->parsed()) return Segments(log_dir, segments_json);
  if (dump_cmd->parsed()) return Dump(log_dir, dump);
  if (get_cmd->parsed()) return Get(log_dir, get_position, get_json);
  if (tail_cmd->parsed()) return Tail(log_dir, tail_lines, tail_follow, tail_json);
  if (stats_cmd->parsed()) return Stats(log_dir, stats_json);
  if (verify_cmd->parsed()) return Verify(log_dir, verify_strict);
  if (repair_cmd->parsed()) return Repair(log_dir, truncate_after);
  return Error(kExitUsage, "no command given (see --help)");
}

}  // namespace
}  // namespace eventide::tools

int main(int argc, char** argv) {
  // CLI11 and the standard library may throw (bad_alloc); nothing escapes.
  try {
    return eventide::tools::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eventide-log: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "eventide-log: internal error\n");
  }
  return 2;
}
