// What the cluster tests share: a NATS cluster plus Eventide nodes on
// --log jetstream, and small clients for their writes and streams.
#ifndef EVENTIDE_TESTS_CLUSTER_CLUSTER_HELPERS_H_
#define EVENTIDE_TESTS_CLUSTER_CLUSTER_HELPERS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/cluster/nats_cluster.h"
#include "tests/server/harness.h"
#include "tests/server/stream_clients.h"

namespace eventide::testing {

inline const std::string kTable = "/realtime-demo/message";

// The flags of a node on `nats` (stream EVENTIDE, `replicas`), named `name`.
std::vector<std::string> NodeFlags(const NatsCluster& nats, const std::string& name,
                                   int replicas = 3);

struct Ack {
  int status = 0;
  uint64_t position = 0;  // Event-Position; 0 when not acknowledged
  std::string body;
};
// One write on a fresh connection to 127.0.0.1:port.
Ack Write(int port, const std::string& method, const std::string& path, const std::string& body);
std::string Record(const std::string& id, const std::string& title);

// GET /healthz's position (what the node applied); 0 when it does not answer.
uint64_t AppliedPosition(int port);
// Waits until the node at `port` applied `p`.
bool WaitApplied(int port, uint64_t p, std::chrono::milliseconds timeout);

// The positions of the update/delete/publish events in `events`.
std::vector<uint64_t> EventPositions(const std::vector<stream::ClientEvent>& events);

// `eventide-log dump` of a data directory, one line per entry.
std::string Dump(const std::string& data_dir);

}  // namespace eventide::testing

#endif  // EVENTIDE_TESTS_CLUSTER_CLUSTER_HELPERS_H_
