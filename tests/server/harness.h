// Integration-test harness: runs the real `eventide serve` binary on
// 127.0.0.1:0 in a temporary data directory, and talks to it with a minimal
// HTTP/1.1 client over a real socket (responses parsed by llhttp), so tests
// control every byte they send.
#ifndef EVENTIDE_TESTS_SERVER_HARNESS_H_
#define EVENTIDE_TESTS_SERVER_HARNESS_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace eventide::testing {

struct HttpResponse {
  int status = 0;                              // 0: no (complete) response
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
  std::string Header(const std::string& lower) const {
    auto it = headers.find(lower);
    return it == headers.end() ? "" : it->second;
  }
};

// A TCP connection to 127.0.0.1:port with TCP_NODELAY; `rcvbuf` > 0 sets a
// small receive buffer first (a slow reader). -1 when it cannot connect.
int ConnectLoopback(int port, int rcvbuf = 0);

// A client connection to 127.0.0.1:port.
class Client {
 public:
  explicit Client(int port);
  ~Client();
  bool connected() const { return fd_ >= 0; }
  // Sends raw bytes.
  bool SendRaw(const std::string& bytes);
  // Reads one response (waits up to `timeout`).
  HttpResponse Read(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True when the server closed the connection (reads EOF within timeout).
  bool ClosedByPeer(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // A request with Content-Length; `headers` lines without CRLF.
  HttpResponse Call(const std::string& method, const std::string& path,
                    const std::string& body = "", std::vector<std::string> headers = {});

 private:
  int fd_ = -1;
  std::string buffered_;  // bytes read past the last response
};

class ServerProcess {
 public:
  ServerProcess();   // makes a temp dir with data/ and apps/ (the demo app copied)
  ~ServerProcess();  // SIGKILLs a running server, removes the dir

  const std::string& dir() const { return dir_; }
  std::string data_dir() const { return dir_ + "/data"; }
  std::string apps_dir() const { return dir_ + "/apps"; }
  // Writes a file under the temp dir (e.g. a config or an extra app).
  void WriteFile(const std::string& rel, const std::string& contents) const;

  // Starts `eventide serve --apps A --data D --listen 127.0.0.1:0 --tls off
  // --fsync always` plus `extra` (later flags win), waits for the "listening"
  // log line and returns the port, or 0 when the server exited instead (its
  // stderr is then in log()).
  int Start(std::vector<std::string> extra = {});
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  void Kill9();
  // SIGTERM and wait; returns the exit code (or 128+signal).
  int Terminate(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Waits for the server to exit by itself (start-up errors).
  int Wait(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Everything the server wrote to stderr so far.
  std::string log() const;

  HttpResponse Call(const std::string& method, const std::string& path,
                    const std::string& body = "", std::vector<std::string> headers = {});

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  int runs_ = 0;
  std::string log_path_;
};

// Runs a shell command, returns its stdout; *exit_code gets its status.
std::string RunCommand(const std::string& cmd, int* exit_code = nullptr);

}  // namespace eventide::testing

#endif  // EVENTIDE_TESTS_SERVER_HARNESS_H_
