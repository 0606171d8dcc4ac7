#include "collectors/tcp.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/config_node.h"
#include "collectors/registry.h"

namespace botwatch {

BOTWATCH_REGISTER_COLLECTOR("tcp", TcpCollector::Create);

bool SplitHostPort(const std::string& address, std::string* host, std::string* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= address.size()) return false;
  std::string h = address.substr(0, colon);
  if (h.front() == '[') {
    if (h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
  }
  std::string p = address.substr(colon + 1);
  for (char c : p) {
    if (c < '0' || c > '9') return false;
  }
  long n = std::strtol(p.c_str(), nullptr, 10);
  if (n <= 0 || n > 65535 || h.empty()) return false;
  *host = h;
  *port = p;
  return true;
}

std::unique_ptr<Collector> TcpCollector::Create(const CollectorSpec&, ConfigMap& config) {
  std::string address = config.RequiredString("address");
  std::string host, port;
  if (!SplitHostPort(address, &host, &port)) {
    config.FailAt("address", "expected host:port, got \"" + address + "\"");
  }
  std::string send = config.String("send", "");
  std::optional<std::string> expect = config.OptionalString("expect");
  if (expect) {
    try {
      std::regex check(*expect, std::regex::extended);
    } catch (const std::regex_error& e) {
      config.FailAt("expect", std::string("invalid regular expression: ") + e.what());
    }
  }
  return std::make_unique<TcpCollector>(host, port, send, expect);
}

TcpCollector::TcpCollector(std::string host, std::string port, std::string send,
                           std::optional<std::string> expect)
    : host_(std::move(host)), port_(std::move(port)), send_(std::move(send)), expect_source_(std::move(expect)) {
  if (expect_source_) expect_.emplace(*expect_source_, std::regex::extended);
}

namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int MillisLeft(const ProbeContext& ctx) { return static_cast<int>(ctx.Remaining().count()); }

// Waits for `events` on fd until the deadline. False on timeout.
bool WaitFor(int fd, short events, const ProbeContext& ctx) {
  while (true) {
    int left = MillisLeft(ctx);
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, left);
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return true;  // let the next syscall report the error
  }
}

}  // namespace

ProbeResult TcpCollector::Collect(const ProbeContext& ctx) {
  auto start = std::chrono::steady_clock::now();
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  // getaddrinfo has no timeout of its own; for names that must resolve fast use
  // an IP address or /etc/hosts entry.
  int gai = ::getaddrinfo(host_.c_str(), port_.c_str(), &hints, &res);
  if (gai != 0) {
    return ProbeResult::Down(reason::kDns, "cannot resolve " + host_ + ": " + ::gai_strerror(gai));
  }
  std::string last_error = "no address";
  const char* last_reason = reason::kConnectionRefused;
  int connected_fd = -1;
  for (addrinfo* ai = res; ai != nullptr && connected_fd < 0; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc < 0 && errno == EINPROGRESS) {
      if (!WaitFor(fd, POLLOUT, ctx)) {
        ::close(fd);
        last_error = "connect to " + host_ + ":" + port_ + " timed out";
        last_reason = reason::kTimeout;
        break;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc == 0) {
      connected_fd = fd;
    } else {
      last_error = "connect to " + host_ + ":" + port_ + ": " + std::strerror(errno);
      last_reason = errno == ECONNREFUSED ? reason::kConnectionRefused : reason::kIo;
      ::close(fd);
    }
  }
  ::freeaddrinfo(res);
  if (connected_fd < 0) return ProbeResult::Down(last_reason, last_error);
  Fd fd(connected_fd);
  double connect_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  FamilyBuilder fb;
  fb.Gauge("botwatch_tcp_connect_seconds", "Time to establish the TCP connection.", connect_seconds);

  size_t sent = 0;
  while (sent < send_.size()) {
    if (!WaitFor(fd.get(), POLLOUT, ctx)) return ProbeResult::Down(reason::kTimeout, "send timed out");
    ssize_t n = ::send(fd.get(), send_.data() + sent, send_.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return ProbeResult::Down(reason::kIo, std::string("send failed: ") + std::strerror(errno));
    }
    if (n > 0) sent += static_cast<size_t>(n);
  }
  if (expect_) {
    std::string received;
    bool matched = false;
    while (!matched && received.size() < 64 * 1024) {
      if (!WaitFor(fd.get(), POLLIN, ctx)) {
        return ProbeResult::Down(reason::kTimeout, "no reply matching expect before the deadline");
      }
      char buf[4096];
      ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
      if (n == 0) break;
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        return ProbeResult::Down(reason::kIo, std::string("receive failed: ") + std::strerror(errno));
      }
      received.append(buf, static_cast<size_t>(n));
      matched = std::regex_search(received, *expect_);
    }
    if (!matched) return ProbeResult::Down(reason::kBodyMismatch, "reply does not match expect");
  }
  double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fb.Gauge("botwatch_tcp_duration_seconds", "Total time of the TCP probe.", total);
  ProbeResult r = ProbeResult::Up();
  r.families = fb.Take();
  return r;
}

}  // namespace botwatch
