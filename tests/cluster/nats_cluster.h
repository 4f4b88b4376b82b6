// A real NATS cluster for the cluster tests: `nodes` nats-server processes
// on 127.0.0.1, each with its own client and route ports and its own
// JetStream store directory, under a temporary directory. One node runs
// without a cluster block (plain JetStream). Each instance has a cluster name
// of its own, so servers of two tests running at once never join each other
// even if a port is handed to both.
#ifndef EVENTIDE_TESTS_CLUSTER_NATS_CLUSTER_H_
#define EVENTIDE_TESTS_CLUSTER_NATS_CLUSTER_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace eventide::testing {

class NatsCluster {
 public:
  // `jetstream` false: servers without JetStream (a bad-configuration test).
  explicit NatsCluster(int nodes = 3, bool jetstream = true);
  ~NatsCluster();  // SIGKILLs every server, removes the directory
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  // Starts every server and waits until each one answers a JetStream API
  // request (in a cluster: there is a metadata leader and the server's routes
  // reach it). Ports are picked here; if a server cannot bind one (another
  // process took it between the pick and the bind), every server is stopped
  // and the cluster starts again on new ports and empty stores (3 tries).
  bool Start();
  void Kill9(int i);
  // Starts server i again (same ports, same store) and waits until it is ready.
  bool Restart(int i);
  // Waits until `stream` has a leader and each of its other replicas is
  // current (no lag, not offline): a rolling restart takes the next server
  // away only after the one that came back has caught up.
  bool WaitStreamCurrent(const std::string& stream, int timeout_seconds = 30);
  bool running(int i) const { return nodes_[i].pid > 0; }
  int size() const { return static_cast<int>(nodes_.size()); }

  std::string url(int i) const;
  std::string urls() const;  // every server's, comma-separated
  std::string log(int i) const;
  std::string logs() const;  // every server's latest log, each under a heading
  const std::string& dir() const { return dir_; }

 private:
  struct Node {
    int client_port = 0;
    int route_port = 0;
    pid_t pid = -1;
    int runs = 0;
    std::string log_path;
  };
  void Configure();  // picks ports and writes every server's config file
  bool StartOnce();
  bool Spawn(int i);
  bool WaitListening(int i);
  bool WaitJetStream(int i);

  std::string dir_;
  std::string cluster_name_;
  bool jetstream_;
  std::vector<Node> nodes_;
};

// A free TCP port on 127.0.0.1 (bound and released; the kernel does not
// hand it out again at once).
int FreePort();

}  // namespace eventide::testing

#endif  // EVENTIDE_TESTS_CLUSTER_NATS_CLUSTER_H_
