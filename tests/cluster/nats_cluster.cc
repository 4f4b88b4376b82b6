#include "tests/cluster/nats_cluster.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
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
  nodes_.resize(static_cast<size_t>(nodes));
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
      c << "cluster {\n  name: eventide-test\n  listen: 127.0.0.1:" << nodes_[i].route_port
        << "\n  routes: [" << routes << "]\n}\n";
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

bool NatsCluster::WaitReady(int i, bool need_leader) {
  Node& n = nodes_[static_cast<size_t>(i)];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = Slurp(n.log_path);
    const bool ready = text.find("Server is ready") != std::string::npos;
    const bool leader = !need_leader || text.find("metadata leader") != std::string::npos;
    if (ready && leader) return true;
    int status;
    if (::waitpid(n.pid, &status, WNOHANG) == n.pid) {
      n.pid = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

bool NatsCluster::Start() {
  for (int i = 0; i < size(); ++i) {
    if (!Spawn(i)) return false;
  }
  for (int i = 0; i < size(); ++i) {
    if (!WaitReady(i, false)) return false;
  }
  if (!jetstream_) return true;
  // Every server has heard of a metadata leader: streams can be created.
  for (int i = 0; i < size(); ++i) {
    if (size() > 1 && !WaitReady(i, true)) return false;
  }
  return true;
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
  return WaitReady(i, false);
}

}  // namespace eventide::testing
