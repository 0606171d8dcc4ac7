#include "collectors/tcp.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/config_node.h"
#include "collectors/lib/tcp_connect.h"
#include "collectors/registry.h"

namespace botwatch {

BOTWATCH_REGISTER_COLLECTOR("tcp", TcpCollector::Create);

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

TcpCollector::TcpCollector(std::string host, std::string port, std::string send, std::optional<std::string> expect)
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

}  // namespace

ProbeResult TcpCollector::Collect(const ProbeContext& ctx) {
  auto start = std::chrono::steady_clock::now();
  TcpConnection conn = ConnectTcp(host_, port_, ctx.deadline);
  if (conn.fd < 0) return ProbeResult::Down(conn.reason, conn.message);
  Fd fd(conn.fd);
  double connect_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  FamilyBuilder fb;
  fb.Gauge("botwatch_tcp_connect_seconds", "Time to establish the TCP connection.", connect_seconds);

  size_t sent = 0;
  while (sent < send_.size()) {
    if (!WaitForSocket(fd.get(), POLLOUT, ctx.deadline)) return ProbeResult::Down(reason::kTimeout, "send timed out");
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
      if (!WaitForSocket(fd.get(), POLLIN, ctx.deadline)) {
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
