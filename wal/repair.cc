#include "wal/repair.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "wal/env.h"
#include "wal/format.h"
#include "wal/segment_reader.h"
#include "wal/tail.h"

namespace eventide::wal {

Status TruncateAfter(const std::string& dir, Position last, RepairReport* report, Env* env) {
  *report = RepairReport();
  if (env == nullptr) env = Env::Default();
  std::string lock_path = dir + "/LOCK";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) return Status::FromErrno("open " + lock_path, errno);
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }
  } unlock{lock_fd};
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    return Status::Unavailable("log directory " + dir +
                               " is in use by another process (stop the server first)");
  }

  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno("opendir " + dir, errno);
  std::vector<Position> bases;
  while (struct dirent* de = ::readdir(d)) {
    if (auto base = ParseSegmentFileName(de->d_name)) bases.push_back(*base);
  }
  ::closedir(d);
  std::sort(bases.begin(), bases.end());
  if (bases.empty()) return Status::NotFound("no log segments in " + dir);

  // The segment where position last+1 would be.
  Position cut_at = last.Next();
  auto it = std::upper_bound(bases.begin(), bases.end(), cut_at);
  if (it == bases.begin()) {
    return Status::InvalidArgument("position " + last.ToString() +
                                   " is before the oldest retained entry " +
                                   bases.front().ToString());
  }
  size_t idx = static_cast<size_t>(it - bases.begin()) - 1;
  std::string path = dir + "/" + SegmentFileName(bases[idx]);
  auto opened = SegmentReader::Open(path, bases[idx]);
  if (!opened.ok()) return opened.status();
  SegmentReader& reader = **opened;
  Entry e;
  while (reader.next_position() < cut_at) {
    SegmentReader::Outcome o = reader.Next(&e);
    if (o == SegmentReader::Outcome::kEnd) {
      return Status::InvalidArgument("the log ends at position " +
                                     reader.next_position().Prev().ToString() + ", before " +
                                     last.ToString() + ": nothing to keep there");
    }
    if (o != SegmentReader::Outcome::kEntry) {
      return Status::Corruption("cannot keep position " + last.ToString() + ": " + path +
                                " offset " + std::to_string(reader.offset()) + ": " +
                                reader.problem());
    }
  }
  // The synced mark must not promise more than the cut leaves, or the next
  // Open would take the cut for lost synced data. It is lowered first and
  // synced: a mark below what is on disk is always safe, so a crash anywhere
  // after this still leaves a log that opens.
  std::string mark_problem;
  auto mark = ReadSyncedMark(dir, &mark_problem);
  if (!mark.ok()) return mark.status();
  if (*mark && ((*mark)->base > bases[idx] ||
                ((*mark)->base == bases[idx] && (*mark)->bytes > reader.offset()))) {
    bool created = false;
    auto file = env->OpenMarkFile(dir + "/" + std::string(kSyncedMarkFileName), &created);
    if (!file.ok()) return file.status();
    char bytes[kSyncedMarkBytes];
    EncodeSyncedMark({bases[idx], reader.offset()}, bytes);
    Status s = (*file)->Write(std::string_view(bytes, sizeof(bytes)));
    if (s.ok()) s = (*file)->Sync();
    if (!s.ok()) return s;
    report->lowered_mark = true;
  }
  // The later segments go first, newest first, and their removal is made
  // durable before the cut: a crash or failure midway then leaves a gap-free
  // chain that still opens. Cutting first would leave, until the last removal,
  // a cut segment followed by segments that no longer follow it, which
  // recovery refuses as a missing segment.
  for (size_t i = bases.size(); i-- > idx + 1;) {
    std::string later = dir + "/" + SegmentFileName(bases[i]);
    Status s = env->RemoveFile(later);
    if (!s.ok()) return s;
    report->removed_segments.push_back(later);
  }
  if (!report->removed_segments.empty()) {
    Status s = env->SyncDir(dir);
    if (!s.ok()) return s;
  }
  if (reader.file_bytes() > reader.offset()) {
    report->cut_segment = path;
    report->cut_offset = reader.offset();
    report->cut_bytes = reader.file_bytes() - reader.offset();
    return env->TruncateFile(path, reader.offset());  // fsyncs the new size
  }
  return Status::OK();
}

}  // namespace eventide::wal
