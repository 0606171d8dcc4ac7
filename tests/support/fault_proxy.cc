#include "tests/support/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace botwatch::testing {

namespace {

using namespace std::chrono_literals;

constexpr int kPollMs = 20;
// A connection lives at most this many polls (~5 minutes); a test is far shorter.
constexpr int kMaxPolls = 15000;

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

bool SendAll(int fd, const char* data, size_t n) {
  for (int i = 0; i < 10000 && n > 0; ++i) {
    ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return n == 0;
}

// Follows the PostgreSQL backend message framing (type byte, int32 length that
// counts itself) until the first ReadyForQuery ('Z') message has gone by.
class StartupTracker {
 public:
  bool done() const { return done_; }
  // Feeds a chunk of server output; returns the offset just past the end of
  // the first ReadyForQuery message if it ends inside this chunk, else n.
  size_t Feed(const char* data, size_t n) {
    for (size_t i = 0; i < n && !done_; ++i) {
      auto byte = static_cast<unsigned char>(data[i]);
      if (header_have_ < 5) {
        header_[header_have_++] = byte;
        if (header_have_ == 5) {
          uint32_t len = (uint32_t{header_[1]} << 24) | (uint32_t{header_[2]} << 16) | (uint32_t{header_[3]} << 8) |
                         uint32_t{header_[4]};
          body_left_ = len >= 4 ? len - 4 : 0;
        }
      } else {
        --body_left_;
      }
      if (header_have_ == 5 && body_left_ == 0) {
        if (header_[0] == 'Z') {
          done_ = true;
          return i + 1;
        }
        header_have_ = 0;
      }
    }
    return n;
  }

 private:
  bool done_ = false;
  unsigned char header_[5] = {};
  int header_have_ = 0;
  uint32_t body_left_ = 0;
};

}  // namespace

struct FaultProxy::Connection {
  int client = -1;
  int upstream = -1;
  std::atomic<bool> finished{false};
  std::thread thread;
};

FaultProxy::FaultProxy(int upstream_port, int port) : upstream_port_(upstream_port) { Listen(port); }

FaultProxy::~FaultProxy() { Kill(); }

void FaultProxy::Set(Mode mode, int slow_ms) {
  slow_ms_ = slow_ms;
  mode_ = mode;
}

void FaultProxy::Listen(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = Loopback(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot listen on 127.0.0.1:" + std::to_string(port));
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  listen_fd_ = fd;
  stop_ = false;
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

void FaultProxy::Revive() {
  if (listen_fd_ >= 0) return;
  // The port was ours a moment ago; retry briefly in case the kernel still holds it.
  for (int i = 0; i < 50; ++i) {
    try {
      Listen(port_);
      return;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(20ms);
    }
  }
  throw std::runtime_error("cannot listen again on 127.0.0.1:" + std::to_string(port_));
}

void FaultProxy::Kill() {
  if (listen_fd_ < 0) return;
  stop_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  listen_fd_ = -1;
  StopAll();
}

void FaultProxy::StopAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : connections_) {
    if (c->thread.joinable()) c->thread.join();
  }
  connections_.clear();
}

void FaultProxy::AcceptLoop() {
  for (int i = 0; i < kMaxPolls && !stop_; ++i) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, kPollMs) <= 0) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ++accepted_;
    int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = Loopback(upstream_port_);
    if (upstream < 0 || ::connect(upstream, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      if (upstream >= 0) ::close(upstream);
      ::close(client);  // the server behind is down: so is the proxy's answer
      continue;
    }
    int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard<std::mutex> lock(mu_);
    // Reap the connections that have ended.
    for (auto it = connections_.begin(); it != connections_.end();) {
      if ((*it)->finished) {
        (*it)->thread.join();
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
    auto c = std::make_unique<Connection>();
    c->client = client;
    c->upstream = upstream;
    Connection* raw = c.get();
    c->thread = std::thread([this, raw] {
      Serve(*raw);
      raw->finished = true;
    });
    connections_.push_back(std::move(c));
  }
}

void FaultProxy::Serve(Connection& c) {
  StartupTracker startup;
  char buf[65536];
  for (int i = 0; i < kMaxPolls && !stop_; ++i) {
    Mode mode = mode_;
    if (mode == Mode::kHang) {
      // Read nothing, answer nothing; only notice the client leaving.
      pollfd p{c.client, POLLRDHUP, 0};
      if (::poll(&p, 1, kPollMs) > 0 && p.revents != 0) break;
      continue;
    }
    pollfd p[2] = {{c.client, POLLIN, 0}, {c.upstream, POLLIN, 0}};
    if (::poll(p, 2, kPollMs) <= 0) continue;
    if (p[0].revents != 0) {
      ssize_t n = ::recv(c.client, buf, sizeof buf, 0);
      if (n <= 0 || !SendAll(c.upstream, buf, static_cast<size_t>(n))) break;
    }
    if (p[1].revents != 0) {
      ssize_t got = ::recv(c.upstream, buf, sizeof buf, 0);
      if (got <= 0) break;
      auto n = static_cast<size_t>(got);
      size_t whole = 0;  // bytes that pass untouched even in a cut mode
      if (!startup.done()) {
        whole = startup.Feed(buf, n);
        if (mode != Mode::kCutAfterStartup) whole = 0;
      }
      if (mode == Mode::kCut || (mode == Mode::kCutAfterStartup && whole < n)) {
        // Dies half-way through its answer.
        SendAll(c.client, buf, whole + (n - whole) / 2);
        break;
      }
      if (mode == Mode::kSlow) {
        int ms = slow_ms_;
        for (int waited = 0; waited < ms && !stop_; waited += 5) std::this_thread::sleep_for(5ms);
      }
      if (!SendAll(c.client, buf, n)) break;
    }
  }
  ::close(c.client);
  ::close(c.upstream);
}

}  // namespace botwatch::testing
