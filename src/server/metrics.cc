// /healthz and /metrics (docs/OPERATIONS.md).
#include "src/common/json_text.h"
#include "src/hooks/dispatcher.h"
#include "src/server/h2_connection.h"
#include "src/server/http_connection.h"
#include "src/server/server.h"

namespace eventide::server {
void Server::Healthz(http::Exchange* s, uint64_t slot, const http::Request&) {
  Status h = log_->Health();
  http::ResponseHead head;
  head.headers.push_back({"content-type", "application/json"});
  std::string body;
  if (h.ok() && !shutting_down_) {
    // position: applied here (what this node's reads and streams show);
    // known: the newest the log is known to hold (above while catching up).
    body = "{\"status\":\"ok\",\"position\":" + std::to_string(projection_->applied().value()) +
           ",\"known\":" + std::to_string(log_->known_head().value()) + ",\"log\":\"" +
           std::string(log_->kind()) + "\",\"node\":";
    AppendJsonString(node_, &body);
    body += ",\"version\":\"" EVENTIDE_VERSION "\"}";
  } else {
    head.status = 503;
    body = http::ErrorBody(h.ok() ? "shutting_down" : "storage_unavailable",
                           h.ok() ? "the server is shutting down" : h.ToString());
  }
  s->Respond(slot, head, body);
}

void Server::MetricsPage(http::Exchange* s, uint64_t slot, const http::Request&) {
  std::string m;
  auto line = [&m](const char* name, const char* type, const char* help, uint64_t v) {
    m += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
         name + " " + std::to_string(v) + "\n";
  };
  const rest::RestStats& rs = rest_->stats();
  line("eventide_connections", "gauge", "Open client connections.",
       listener_ ? listener_->connection_count() : 0);
  line("eventide_connections_total", "counter", "Connections accepted.",
       metrics_.connections_total);
  {
    // By protocol: HTTP/1.1 and HTTP/2 connections (one not yet telling is
    // in neither), and HTTP/2 streams (docs/HTTP2.md).
    uint64_t h1 = 0, h2 = 0, h2_streams = 0, h2_event_streams = 0;
    for (const auto& [id, c] : sessions_) {
      if (!c->h2()) {
        ++h1;
        continue;
      }
      ++h2;
      const auto* hc = static_cast<const H2Connection*>(c);
      h2_streams += hc->open_streams();
      h2_event_streams += hc->event_streams();
    }
    auto by_protocol = [&m](const char* name, const char* type, const char* help, uint64_t v1,
                            uint64_t v2) {
      m += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + "{protocol=\"http/1.1\"} " + std::to_string(v1) + "\n" + name +
           "{protocol=\"h2\"} " + std::to_string(v2) + "\n";
    };
    by_protocol("eventide_protocol_connections", "gauge", "Open connections by protocol.", h1, h2);
    by_protocol("eventide_protocol_connections_total", "counter",
                "Connections accepted, by the protocol they spoke.",
                metrics_.http1_connections_total, metrics_.h2_connections_total);
    line("eventide_h2_streams", "gauge", "Open HTTP/2 streams (requests and event streams).",
         h2_streams);
    line("eventide_h2_event_streams", "gauge",
         "HTTP/2 streams carrying an event stream (SSE, GraphQL, dialects).", h2_event_streams);
    line("eventide_h2_event_streams_total", "counter",
         "HTTP/2 streams that became event streams.", metrics_.h2_event_streams_total);
  }
  line("eventide_events_written_total", "counter", "Log entries made durable and applied.",
       rs.events_written);
  line("eventide_writes_failed_total", "counter", "Writes answered 503 after the log failed.",
       rs.writes_failed);
  line("eventide_writes_pending", "gauge", "Writes waiting to become durable.",
       rest_->pending_writes());
  line("eventide_log_durable_position", "gauge", "The log's durable head.",
       log_->durable_head().value());
  line("eventide_log_first_position", "gauge", "The oldest retained log position.",
       log_->local()->first_position().value());
  line("eventide_log_healthy", "gauge", "1 while the log accepts writes.",
       log_->Health().ok() ? 1 : 0);
  line("eventide_applied_position", "gauge",
       "The newest position this node applied (its reads and streams show it).",
       projection_->applied().value());
  line("eventide_write_conflicts_total", "counter",
       "Writes that lost a race to another node's write of the record and were validated again.",
       rs.conflicts);
  line("eventide_records", "gauge", "Records in the projection.", projection_->record_count());
  line("eventide_checkpoints_written_total", "counter", "Projection checkpoints written.",
       checkpoints_written_);
  line("eventide_checkpoint_position", "gauge", "Position of the newest checkpoint.",
       checkpoint_position_);
  line("eventide_segments_deleted_total", "counter", "Log segments deleted by retention.",
       segments_deleted_);
  m += "# HELP eventide_write_latency_seconds Accept-to-durable time of writes.\n"
       "# TYPE eventide_write_latency_seconds summary\n";
  m += "eventide_write_latency_seconds_sum " +
       std::to_string(static_cast<double>(rs.write_latency_us_sum) / 1e6) + "\n";
  m += "eventide_write_latency_seconds_count " + std::to_string(rs.write_latency_count) + "\n";
  // The log's write path: fsync latency and group size histograms.
  const wal::LogStats ls = log_->local()->Stats();
  auto histogram = [&m](const char* name, const char* help, const auto& bounds, const auto& buckets,
                        double sum, uint64_t count) {
    m += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " histogram\n";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds.size(); ++i) {
      cumulative += buckets[i];
      char le[32];
      std::snprintf(le, sizeof(le), "%g", static_cast<double>(bounds[i]));
      m += std::string(name) + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
    }
    cumulative += buckets[bounds.size()];
    m += std::string(name) + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
    char sum_text[64];
    std::snprintf(sum_text, sizeof(sum_text), "%.9g", sum);
    m += std::string(name) + "_sum " + sum_text + "\n";
    m += std::string(name) + "_count " + std::to_string(count) + "\n";
  };
  histogram("eventide_fsync_seconds", "Time of each fdatasync of the log.",
            wal::LogStats::kSyncBoundsSeconds, ls.sync_buckets, ls.sync_seconds_sum, ls.syncs);
  histogram("eventide_group_size", "Entries written per log batch (group commit size).",
            wal::LogStats::kGroupBounds, ls.group_buckets, static_cast<double>(ls.entries),
            ls.batches);
  line("eventide_log_bytes_written_total", "counter", "Bytes the log has written.",
       ls.bytes_written);
  // Real-time (SPEC section 10): subscribers by dialect, deliveries, cursor
  // lag, slow-consumer catch-ups, resets.
  const stream::StreamStats& ss = stream_ctx_.stats;
  m += "# HELP eventide_subscribers Open streams, by dialect.\n"
       "# TYPE eventide_subscribers gauge\n";
  // The compat dialects' streams are SSE streams and WebSocket connections
  // too: each is counted under its own dialect only.
  m += "eventide_subscribers{dialect=\"sse\"} " +
       std::to_string(ss.sse_streams - ss.ayb_streams - ss.snackbase_sse_streams) + "\n";
  m += "eventide_subscribers{dialect=\"ws\"} " +
       std::to_string(ss.ws_connections - ss.snackbase_ws_connections) + "\n";
  m += "eventide_subscribers{dialect=\"ayb\"} " + std::to_string(ss.ayb_streams) + "\n";
  m += "eventide_subscribers{dialect=\"snackbase\"} " +
       std::to_string(ss.snackbase_sse_streams + ss.snackbase_ws_connections) + "\n";
  line("eventide_subscriptions", "gauge", "Open subscriptions (topics followed).",
       ss.subscriptions);
  line("eventide_events_delivered_total", "counter", "Event frames sent to subscribers.",
       ss.events_delivered);
  line("eventide_retained_sent_total", "counter", "Retained records sent on connect.",
       ss.retained_sent);
  line("eventide_stream_resumes_total", "counter", "Subscriptions resumed from a position.",
       ss.resumes);
  line("eventide_stream_resume_waits_total", "counter",
       "Resumes from a position another node gave out, started once this node applied it.",
       ss.resume_waits);
  line("eventide_stream_resets_total", "counter",
       "Reset notices (expired, unknown or malformed positions).", ss.resets);
  line("eventide_stream_catch_ups_total", "counter",
       "Log reads for subscribers behind the head (resumes and slow consumers).",
       hub_->catch_ups());
  const stream::Hub::Lag lag = hub_->lag();
  line("eventide_cursors_behind", "gauge", "Subscribers catching up from the log.", lag.behind);
  line("eventide_cursor_lag_max_entries", "gauge", "Entries between the head and the last cursor.",
       lag.max_entries);
  line("eventide_stream_stalled_closed_total", "counter",
       "Streams closed after stall_timeout without reading.", ss.stalled_closed);
  line("eventide_ws_pong_timeouts_total", "counter", "WebSocket connections closed without a Pong.",
       ss.ws_pong_timeouts);
  line("eventide_ws_protocol_closes_total", "counter",
       "WebSocket connections closed 1002, 1003, 1007 or 1009.", ss.ws_protocol_closes);
  line("eventide_stream_token_expired_total", "counter",
       "Streams ended because their token expired (SSE error event, WebSocket 4001).",
       ss.token_expired_closed);
  line("eventide_ws_client_errors_total", "counter",
       "WebSocket client messages answered with an error.", ss.ws_client_errors);
  if (hooks_ != nullptr) {
    const hooks::HookStats hs = hooks_->Stats();
    line("eventide_hook_deliveries_total", "counter", "Webhook deliveries answered with a 2xx.",
         hs.delivered);
    line("eventide_hook_failed_attempts_total", "counter",
         "Webhook attempts that failed (refused, timed out, non-2xx).", hs.failed_attempts);
    line("eventide_hook_retries_total", "counter", "Webhook attempts made after a failed one.",
         hs.retries);
    line("eventide_hook_gave_up_total", "counter",
         "Webhook deliveries abandoned after their last attempt or a final refusal.", hs.gave_up);
    line("eventide_hook_dropped_total", "counter",
         "Webhook deliveries dropped because the queue was full.", hs.dropped_queue_full);
    line("eventide_hook_queue_depth", "gauge", "Webhook deliveries waiting.", hs.queue_depth);
    line("eventide_hook_in_flight", "gauge", "Webhook attempts under way.", hs.in_flight);
  }
  // Error answers by code: the server's own and the REST service's.
  std::map<std::string, uint64_t> rejected = metrics_.rejected_by_code;
  for (auto& [code, n] : rs.rejected_by_code) rejected[code] += n;
  m += "# HELP eventide_rejected_requests_total Requests refused, by error code.\n"
       "# TYPE eventide_rejected_requests_total counter\n";
  for (auto& [code, n] : rejected) {
    m += "eventide_rejected_requests_total{code=\"" + code + "\"} " + std::to_string(n) + "\n";
  }
  log_->AppendMetrics(&m);  // the backend's own (JetStream: lag, publish latency, ...)
  http::ResponseHead head;
  head.headers.push_back({"content-type", "text/plain; version=0.0.4; charset=utf-8"});
  s->Respond(slot, head, m);
}

}  // namespace eventide::server
