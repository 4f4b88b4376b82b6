#include "tests/cluster/cluster_helpers.h"

#include <chrono>
#include <regex>
#include <thread>

namespace eventide::testing {

std::vector<std::string> NodeFlags(const NatsCluster& nats, const std::string& name,
                                   int replicas) {
  return {"--log",      "jetstream", "--nats", nats.urls(), "--replicas", std::to_string(replicas),
          "--node",     name,        "--stream", "EVENTIDE"};
}

Ack Write(int port, const std::string& method, const std::string& path, const std::string& body) {
  Client c(port);
  Ack a;
  if (!c.connected()) return a;
  HttpResponse r = c.Call(method, path, body);
  a.status = r.status;
  a.body = r.body;
  if (r.status == 200 || r.status == 201) {
    const std::string p = r.Header("event-position");
    if (!p.empty()) a.position = std::stoull(p);
  }
  return a;
}

std::string Record(const std::string& id, const std::string& title) {
  return R"({"id":")" + id + R"(","title":")" + title + R"(","content":"c"})";
}

uint64_t AppliedPosition(int port) {
  Client c(port);
  if (!c.connected()) return 0;
  HttpResponse r = c.Call("GET", "/healthz");
  static const std::regex kPos(R"re("position":(\d+))re");
  std::smatch m;
  if (r.status != 200 || !std::regex_search(r.body, m, kPos)) return 0;
  return std::stoull(m[1]);
}

bool WaitApplied(int port, uint64_t p, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (AppliedPosition(port) >= p) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::vector<uint64_t> EventPositions(const std::vector<stream::ClientEvent>& events) {
  std::vector<uint64_t> out;
  for (const auto& e : events) {
    if ((e.type == "update" || e.type == "delete" || e.type == "publish") &&
        !e.last_event_id.empty()) {
      out.push_back(std::stoull(e.last_event_id));
    }
  }
  return out;
}

std::string Dump(const std::string& data_dir) {
  int code = 0;
  std::string out =
      RunCommand(std::string(EVENTIDE_LOG_BIN) + " --data " + data_dir + " dump", &code);
  if (code != 0) return "eventide-log exit " + std::to_string(code) + ": " + out;
  // Each line's second field is when this node's copy was written: local,
  // so dropped; the rest (position, event) must agree across nodes.
  std::string same;
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    const std::string line = out.substr(start, end - start);
    const size_t a = line.find(' ');
    const size_t b = a == std::string::npos ? a : line.find(' ', a + 1);
    same += b == std::string::npos ? line : line.substr(0, a) + line.substr(b);
    same += '\n';
    start = end + 1;
  }
  return same;
}

}  // namespace eventide::testing
