#include "tests/cluster/nats_cluster.h"

#include <fcntl.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace eventide::testing {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

NatsCluster::NatsCluster(int nodes, bool jetstream) : jetstream_(jetstream) {
  char tmpl[] = "/tmp/eventide-nats-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  static std::atomic<int> instances{0};
  cluster_name_ = "eventide-test-" + std::to_string(::getpid()) + "-" + std::to_string(++instances);
  nodes_.resize(static_cast<size_t>(nodes));
  Configure();
}

void NatsCluster::Configure() {
  for (Node& n : nodes_) {
    n.client_port = FreePort();
    n.route_port = FreePort();
  }
  std::string routes;
  for (const Node& n : nodes_) {
    if (!routes.empty()) routes += ", ";
    routes += "nats-route://127.0.0.1:" + std::to_string(n.route_port);
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    std::ofstream c(dir_ + "/n" + std::to_string(i) + ".conf");
    c << "server_name: n" << i << "\n";
    c << "listen: 127.0.0.1:" << nodes_[i].client_port << "\n";
    // A record of limits.record_bytes (1 MiB) plus its event envelope.
    c << "max_payload: 8MB\n";
    if (jetstream_) {
      c << "jetstream { store_dir: \"" << dir_ << "/store" << i << "\" }\n";
    }
    if (nodes_.size() > 1) {
      c << "cluster {\n  name: " << cluster_name_
        << "\n  listen: 127.0.0.1:" << nodes_[i].route_port << "\n  routes: [" << routes
        << "]\n}\n";
    }
  }
}

NatsCluster::~NatsCluster() {
  for (int i = 0; i < size(); ++i) Kill9(i);
  std::error_code ec;
  if (std::getenv("EVENTIDE_KEEP_NATS") == nullptr) std::filesystem::remove_all(dir_, ec);
}

std::string NatsCluster::url(int i) const {
  return "nats://127.0.0.1:" + std::to_string(nodes_[static_cast<size_t>(i)].client_port);
}

std::string NatsCluster::urls() const {
  std::string u;
  for (int i = 0; i < size(); ++i) {
    if (i > 0) u += ",";
    u += url(i);
  }
  return u;
}

std::string NatsCluster::log(int i) const { return Slurp(nodes_[static_cast<size_t>(i)].log_path); }

std::string NatsCluster::logs() const {
  std::string all;
  for (int i = 0; i < size(); ++i) all += "--- n" + std::to_string(i) + " ---\n" + log(i);
  return all;
}

bool NatsCluster::Spawn(int i) {
  Node& n = nodes_[static_cast<size_t>(i)];
  n.log_path = dir_ + "/n" + std::to_string(i) + "-" + std::to_string(++n.runs) + ".log";
  const std::string conf = dir_ + "/n" + std::to_string(i) + ".conf";
  n.pid = ::fork();
  if (n.pid == 0) {
    int out = ::open(n.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(out, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::execlp("nats-server", "nats-server", "-c", conf.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return n.pid > 0;
}

bool NatsCluster::WaitListening(int i) {
  Node& n = nodes_[static_cast<size_t>(i)];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Slurp(n.log_path).find("Server is ready") != std::string::npos) return true;
    int status;
    if (::waitpid(n.pid, &status, WNOHANG) == n.pid) {  // e.g. a port it could not bind
      n.pid = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

bool NatsCluster::WaitJetStream(int i) {
  // The JetStream API answers once the server has JetStream running and, in
  // a cluster, a metadata leader its routes reach; until then a request gets
  // an error ("JetStream system temporarily unavailable") or no answer.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  natsConnection* nc = nullptr;
  bool ok = false;
  Node& n = nodes_[static_cast<size_t>(i)];
  int status;
  while (!ok && std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(n.pid, &status, WNOHANG) == n.pid) {
      n.pid = -1;
      break;
    }
    if (nc == nullptr && natsConnection_ConnectTo(&nc, url(i).c_str()) != NATS_OK) {
      nc = nullptr;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    natsMsg* reply = nullptr;
    if (natsConnection_RequestString(&reply, nc, "$JS.API.INFO", "", 1000) == NATS_OK) {
      const std::string body(natsMsg_GetData(reply),
                             static_cast<size_t>(natsMsg_GetDataLength(reply)));
      ok = body.find("\"error\"") == std::string::npos;
      natsMsg_Destroy(reply);
    }
    if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (nc != nullptr) natsConnection_Destroy(nc);
  return ok;
}

namespace {

// True when `stream`, asked through `nc`, has a leader and every other
// replica is current.
bool StreamCurrent(natsConnection* nc, const std::string& stream) {
  jsCtx* js = nullptr;
  if (natsConnection_JetStream(&js, nc, nullptr) != NATS_OK) return false;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  bool current = false;
  if (js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &jerr) == NATS_OK && si != nullptr) {
    const jsClusterInfo* c = si->Cluster;
    current = c != nullptr && c->Leader != nullptr && c->Leader[0] != '\0';
    for (int r = 0; current && r < c->ReplicasLen; ++r) {
      const jsPeerInfo* p = c->Replicas[r];
      current = p->Current && !p->Offline && p->Lag == 0;
    }
    jsStreamInfo_Destroy(si);
  }
  jsCtx_Destroy(js);
  return current;
}

}  // namespace

bool NatsCluster::WaitStreamCurrent(const std::string& stream, int timeout_seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < size(); ++i) {
      natsConnection* nc = nullptr;
      if (!running(i) || natsConnection_ConnectTo(&nc, url(i).c_str()) != NATS_OK) continue;
      const bool current = StreamCurrent(nc, stream);
      natsConnection_Destroy(nc);
      if (current) return true;
      break;  // asked one server; ask again after a pause
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

bool NatsCluster::StartOnce() {
  for (int i = 0; i < size(); ++i) {
    if (!Spawn(i)) return false;
  }
  for (int i = 0; i < size(); ++i) {
    if (!WaitListening(i)) return false;
  }
  if (!jetstream_) return true;
  for (int i = 0; i < size(); ++i) {
    if (!WaitJetStream(i)) return false;
  }
  return true;
}

bool NatsCluster::Start() {
  for (int attempt = 1; attempt <= 3; ++attempt) {
    if (StartOnce()) return true;
    std::fprintf(stderr, "nats cluster: start %d failed; its logs:\n%s\n", attempt, logs().c_str());
    for (int i = 0; i < size(); ++i) Kill9(i);
    std::error_code ec;
    for (int i = 0; i < size(); ++i)
      std::filesystem::remove_all(dir_ + "/store" + std::to_string(i), ec);
    Configure();  // new ports: one of the old ones may belong to someone else now
  }
  return false;
}

void NatsCluster::Kill9(int i) {
  Node& n = nodes_[static_cast<size_t>(i)];
  if (n.pid <= 0) return;
  ::kill(n.pid, SIGKILL);
  int status;
  ::waitpid(n.pid, &status, 0);
  n.pid = -1;
}

bool NatsCluster::Restart(int i) {
  Kill9(i);
  if (!Spawn(i)) return false;
  return WaitListening(i);
}

}  // namespace eventide::testing
