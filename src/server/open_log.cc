// Opening the log backend: the embedded WAL (the default) or JetStream.
#include <unistd.h>

#include "src/common/logging.h"
#include "src/eventlog/jetstream_event_log.h"
#include "src/eventlog/wal_event_log.h"
#include "src/server/server.h"

namespace eventide::server {
namespace {

Result<std::unique_ptr<wal::Log>> OpenLocalLog(const config::Server& o) {
  wal::LogOptions lo;
  lo.dir = o.data_dir + "/wal";
  auto policy = wal::SyncPolicy::Parse(o.fsync);
  if (!policy.ok()) return policy.status();
  lo.sync = policy.value();
  lo.segment_bytes = o.segment_bytes;
  wal::RecoveryReport recovery;
  auto log = wal::Log::Open(lo, &recovery);
  if (!log.ok()) return log.status();
  if (!recovery.mark_problem.empty()) {
    // Not an error: a log from before SYNCED existed, or a mark a power loss
    // tore. Recovery judged the tail by its entries alone (wal/FORMAT.md).
    LogLine(LogLevel::kWarn, "log synced mark not used", {{"problem", recovery.mark_problem}});
  }
  if (recovery.tail_bytes > 0) {
    LogLine(LogLevel::kWarn, "log tail cut",
            {{"segment", recovery.tail_segment},
             {"offset", recovery.tail_offset},
             {"bytes", recovery.tail_bytes},
             {"reason", recovery.tail_reason}});
  }
  return log;
}

}  // namespace

Status Server::OpenLog() {
  node_ = NodeName();
  if (options_.log != "wal" && options_.log != "jetstream") {
    return Status::InvalidArgument("--log must be wal or jetstream; got '" + options_.log + "'");
  }
  auto local = OpenLocalLog(options_);
  if (!local.ok()) return local.status();
  if (options_.log == "wal") {
    log_ = std::make_unique<eventlog::WalEventLog>(std::move(local).value());
    return Status::OK();
  }
  eventlog::JetStreamOptions jo;
  jo.urls = options_.nats.urls;
  jo.stream = options_.nats.stream;
  jo.replicas = options_.nats.replicas;
  jo.publish_timeout_ms = options_.nats.publish_timeout_ms;
  jo.node = node_;
  auto js = eventlog::JetStreamEventLog::Open(jo, std::move(local).value());
  if (!js.ok()) return js.status();
  log_ = std::move(js).value();
  return Status::OK();
}

std::string Server::NodeName() const {
  if (!options_.node.empty()) return options_.node;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return "eventide";
  return host;
}

}  // namespace eventide::server
