// The catch-up reads of subscribers behind the head (stream::LogSource), on
// the libuv pool. Private to src/server.
#ifndef EVENTIDE_SRC_SERVER_POOL_LOG_SOURCE_H_
#define EVENTIDE_SRC_SERVER_POOL_LOG_SOURCE_H_

#include <functional>
#include <vector>

#include "src/server/server.h"
#include "src/stream/hub.h"

namespace eventide::server {

// Reads the log for subscribers behind the head, on the libuv pool.
class Server::PoolLogSource final : public stream::LogSource {
 public:
  explicit PoolLogSource(Server* server) : server_(server) {}

  void Read(wal::Position after, wal::Position to,
            std::function<void(Status, std::vector<stream::LoggedEntry>)> done) override;

 private:
  Server* server_;
};

}  // namespace eventide::server

#endif  // EVENTIDE_SRC_SERVER_POOL_LOG_SOURCE_H_
