// The embedded backend: one process, one wal::Log, positions assigned here.
// The default for `eventide serve` and `make run`.
#ifndef EVENTIDE_SRC_EVENTLOG_WAL_EVENT_LOG_H_
#define EVENTIDE_SRC_EVENTLOG_WAL_EVENT_LOG_H_

#include <deque>
#include <memory>
#include <string>

#include "src/eventlog/event_log.h"

namespace eventide::eventlog {

class WalEventLog final : public EventLog {
 public:
  // Takes an open log (recovered by wal::Log::Open).
  explicit WalEventLog(std::unique_ptr<wal::Log> log);
  ~WalEventLog() override;

  Status Start(uv_loop_t* loop, Listener* listener) override;
  void Close() override;
  Appended Append(const AppendRequest& request) override;
  void Flush() override;
  Status ReadEntry(wal::Position p, std::string* payload) override;
  wal::Log* local() override { return log_.get(); }
  wal::Position known_head() override { return log_->durable_head(); }
  Status Health() const override { return log_->Health(); }
  const std::string& durability() const override { return durability_; }
  std::string_view kind() const override { return "wal"; }
  void AppendMetrics(std::string*) override {}

 private:
  struct Entry {
    wal::Position position;
    std::string payload;
  };

  std::unique_ptr<wal::Log> log_;
  std::string durability_;
  Listener* listener_ = nullptr;
  uv_async_t durable_async_;
  bool started_ = false;
  bool wake_needed_ = false;
  // What was appended and is not yet applied: the apply side takes the
  // payload from here instead of reading the log back.
  std::deque<Entry> appended_;
  std::unique_ptr<wal::Reader> reader_;  // only if an entry is not in appended_
};

}  // namespace eventide::eventlog

#endif  // EVENTIDE_SRC_EVENTLOG_WAL_EVENT_LOG_H_
