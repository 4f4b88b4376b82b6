#include "tests/server/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <thread>

namespace eventide::testing {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Parses one response from `data`; returns bytes used, 0 if incomplete.
struct ParseState {
  HttpResponse* r = nullptr;
  std::string field;
  std::string value;
  bool in_value = false;
  bool complete = false;
};

size_t ParseResponse(const std::string& data, HttpResponse* r) {
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  settings.on_header_field = [](llhttp_t* p, const char* at, size_t len) {
    auto* st = static_cast<ParseState*>(p->data);
    if (st->in_value) {
      st->r->headers[st->field] = st->value;
      st->field.clear();
      st->value.clear();
      st->in_value = false;
    }
    for (size_t i = 0; i < len; ++i) {
      st->field.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(at[i]))));
    }
    return 0;
  };
  settings.on_header_value = [](llhttp_t* p, const char* at, size_t len) {
    auto* st = static_cast<ParseState*>(p->data);
    st->in_value = true;
    st->value.append(at, len);
    return 0;
  };
  settings.on_headers_complete = [](llhttp_t* p) {
    auto* st = static_cast<ParseState*>(p->data);
    if (st->in_value) st->r->headers[st->field] = st->value;
    st->r->status = p->status_code;
    return 0;
  };
  settings.on_body = [](llhttp_t* p, const char* at, size_t len) {
    static_cast<ParseState*>(p->data)->r->body.append(at, len);
    return 0;
  };
  settings.on_message_complete = [](llhttp_t* p) {
    static_cast<ParseState*>(p->data)->complete = true;
    return static_cast<int>(HPE_PAUSED);
  };
  llhttp_t parser;
  llhttp_init(&parser, HTTP_RESPONSE, &settings);
  ParseState st;
  st.r = r;
  parser.data = &st;
  *r = HttpResponse();
  llhttp_errno_t err = llhttp_execute(&parser, data.data(), data.size());
  if (err == HPE_PAUSED && st.complete) {
    return static_cast<size_t>(llhttp_get_error_pos(&parser) - data.data());
  }
  *r = HttpResponse();
  return 0;
}

}  // namespace

int ConnectLoopback(int port, int rcvbuf) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

Client::Client(int port) : fd_(ConnectLoopback(port)) {}

Client::~Client() {
  if (fd_ >= 0) ::close(fd_);
}

bool Client::SendRaw(const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

HttpResponse Client::Read(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  HttpResponse r;
  for (;;) {
    if (!buffered_.empty()) {
      size_t used = ParseResponse(buffered_, &r);
      if (used > 0) {
        buffered_.erase(0, used);
        return r;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return HttpResponse();
    struct pollfd pfd = {fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return HttpResponse();
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      // EOF: a response without Content-Length ends here.
      size_t used = ParseResponse(buffered_, &r);
      if (used == 0) return HttpResponse();
      buffered_.erase(0, used);
      return r;
    }
    buffered_.append(buf, static_cast<size_t>(n));
  }
}

bool Client::ClosedByPeer(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    struct pollfd pfd = {fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return true;
  }
}

HttpResponse Client::Call(const std::string& method, const std::string& path,
                          const std::string& body, std::vector<std::string> headers) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n";
  bool has_ct = false;
  for (const std::string& h : headers) {
    req += h + "\r\n";
    if (strncasecmp(h.c_str(), "content-type:", 13) == 0) has_ct = true;
  }
  if (!body.empty() && !has_ct) req += "Content-Type: application/json\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  if (!SendRaw(req)) return HttpResponse();
  return Read();
}

// ---- ServerProcess ----

ServerProcess::ServerProcess() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "eventide-srv-XXXXXX").string();
  dir_ = ::mkdtemp(tmpl.data());
  std::filesystem::create_directories(data_dir());
  std::filesystem::copy(EVENTIDE_SOURCE_DIR "/apps", apps_dir(),
                        std::filesystem::copy_options::recursive);
}

ServerProcess::~ServerProcess() {
  Kill9();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void ServerProcess::WriteFile(const std::string& rel, const std::string& contents) const {
  std::filesystem::path p = std::filesystem::path(dir_) / rel;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << contents;
}

int ServerProcess::Start(std::vector<std::string> extra) {
  log_path_ = dir_ + "/server-" + std::to_string(++runs_) + ".log";
  std::vector<std::string> args = {EVENTIDE_BIN, "serve",    "--apps",   apps_dir(),
                                   "--data",     data_dir(), "--listen", "127.0.0.1:0",
                                   "--tls",      "off",      "--fsync",  "always"};
  args.insert(args.end(), extra.begin(), extra.end());
  pid_ = ::fork();
  if (pid_ == 0) {
    int err = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(err, 2);
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  static const std::regex kListening(R"re("msg":"listening","addr":"[^"]*:(\d+)")re");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string text = Slurp(log_path_);
    std::smatch m;
    if (std::regex_search(text, m, kListening)) {
      port_ = std::stoi(m[1]);
      return port_;
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill9();
  return 0;
}

void ServerProcess::Kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int ServerProcess::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() > deadline) {
      Kill9();
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int ServerProcess::Terminate(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  return Wait(timeout);
}

std::string ServerProcess::log() const { return Slurp(log_path_); }

HttpResponse ServerProcess::Call(const std::string& method, const std::string& path,
                                 const std::string& body, std::vector<std::string> headers) {
  Client c(port_);
  return c.Call(method, path, body, std::move(headers));
}

std::string RunCommand(const std::string& cmd, int* exit_code) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (f == nullptr) {
    if (exit_code) *exit_code = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  int status = ::pclose(f);
  if (exit_code) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

}  // namespace eventide::testing
