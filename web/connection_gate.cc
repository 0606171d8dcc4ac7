#include "web/connection_gate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace botwatch {

void GatePeers::Note(int port, std::string peer) {
  std::lock_guard<std::mutex> lock(mu_);
  ports_[port] = std::move(peer);
}

void GatePeers::Forget(int port) {
  std::lock_guard<std::mutex> lock(mu_);
  ports_.erase(port);
}

std::string GatePeers::Of(const std::string& addr, int port) {
  if (addr != "127.0.0.1") return addr;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ports_.find(port);
  return it == ports_.end() ? addr : it->second;
}

void GatePeers::Tarpit(const std::string& peer) {
  // Refreshed by every throttled request, so a steady flood stays slowed.
  constexpr auto kHold = std::chrono::seconds(10);
  constexpr size_t kMaxPeers = 4096;
  auto now = Clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  if (tarpit_until_.size() >= kMaxPeers) {
    std::erase_if(tarpit_until_, [&](const auto& kv) { return kv.second <= now; });
    if (tarpit_until_.size() >= kMaxPeers) tarpit_until_.clear();  // bounded; a spread flood is still budgeted
  }
  tarpit_until_[peer] = now + kHold;
}

bool GatePeers::Tarpitted(const std::string& peer, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tarpit_until_.find(peer);
  if (it == tarpit_until_.end()) return false;
  if (it->second > now) return true;
  tarpit_until_.erase(it);
  return false;
}

namespace {

// A first request header larger than this goes to civetweb as it is, which
// answers it (413) as it always did.
constexpr size_t kMaxHeader = 16384;
// Each direction's backlog: past it the gate stops reading that side.
constexpr size_t kMaxBuffer = 65536;

std::string ListenError(const std::string& address, int err) {
  std::string why = err == EADDRINUSE ? "address already in use" : std::strerror(err);
  if (err == EACCES) why += " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
  if (err == EADDRNOTAVAIL) why = "no interface has this address";
  return "cannot listen on " + address + ": " + why;
}

Result<int> BindOne(const std::string& address, int* port) {
  size_t colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  const int want_port = std::stoi(address.substr(colon + 1));
  sockaddr_storage ss{};
  socklen_t len = 0;
  bool v6 = !host.empty() && host.front() == '[';
  if (v6) {
    host = host.substr(1, host.size() - 2);
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(static_cast<uint16_t>(want_port));
    if (::inet_pton(AF_INET6, host.c_str(), &sa->sin6_addr) != 1) {
      return Status::Error("cannot listen on " + address + ": \"" + host + "\" is not an IPv6 address");
    }
    len = sizeof *sa;
  } else {
    // ":port" is IPv4 only, as civetweb always served it.
    if (host.empty()) host = "0.0.0.0";
    if (host == "localhost") host = "127.0.0.1";
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(static_cast<uint16_t>(want_port));
    if (::inet_pton(AF_INET, host.c_str(), &sa->sin_addr) != 1) {
      return Status::Error("cannot listen on " + address + ": \"" + host + "\" is not an IPv4 address");
    }
    len = sizeof *sa;
  }
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Status::Error("cannot listen on " + address + ": " + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (v6) {
    int v6only = host == "::" ? 0 : 1;  // "[::]" also takes IPv4, as Go exporters do
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  }
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len);
  if (rc == 0) rc = ::listen(fd, 1024);
  if (rc != 0) {
    int err = errno;
    ::close(fd);
    return Status::Error(ListenError(address, err));
  }
  len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  *port = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                         : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return fd;
}

std::string PeerText(const sockaddr_storage& ss) {
  char text[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, text, sizeof text);
  } else {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, text, sizeof text);
  }
  std::string peer = text;
  // A dual-stack [::] shows IPv4 clients as ::ffff:a.b.c.d.
  if (peer.rfind("::ffff:", 0) == 0 && peer.find('.') != std::string::npos) peer = peer.substr(7);
  return peer;
}

}  // namespace

struct ConnectionGate::Conn {
  int client = -1;
  int upstream = -1;  // -1 until handed to civetweb
  int relay_port = 0;
  std::string peer;
  Clock::time_point accepted;
  Clock::time_point deadline;  // for the first request header
  Clock::time_point release;   // tarpit: not handed on before
  bool tarpitted = false;
  bool connected = false;   // upstream connect finished
  bool client_eof = false;  // passed on as a half-close once to_up is flushed
  bool upstream_shut = false;
  bool upstream_eof = false;
  uint32_t client_events = 0, upstream_events = 0;  // as registered
  std::string to_up, to_client;
};

Result<std::unique_ptr<ConnectionGate>> ConnectionGate::Listen(const std::vector<std::string>& addresses,
                                                               GateOptions options) {
  std::unique_ptr<ConnectionGate> gate(new ConnectionGate());
  gate->options_ = options;
  for (const std::string& address : addresses) {
    int port = 0;
    Result<int> fd = BindOne(address, &port);
    if (!fd.ok()) return fd.status();  // the destructor closes the ones bound so far
    gate->listen_fds_.push_back(fd.value());
    gate->ports_.push_back(port);
  }
  // Each relayed connection costs three fds (client, upstream, civetweb's end):
  // take the hard limit, as Go exporters do, and keep the cap below it.
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    if (rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    long usable = (static_cast<long>(rl.rlim_cur) - 128) / 3;
    gate->options_.max_connections = static_cast<int>(std::clamp<long>(usable, 16, options.max_connections));
  }
  return gate;
}

ConnectionGate::~ConnectionGate() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  // Closing both ends makes civetweb's worker see the client go (feed streams end).
  for (auto& [fd, c] : conns_) {
    if (c->upstream >= 0) {
      peers_->Forget(c->relay_port);
      ::close(c->upstream);
    }
    ::close(c->client);
  }
  for (int fd : listen_fds_) ::close(fd);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void ConnectionGate::Start(int target_port, GatePeers* peers) {
  target_port_ = target_port;
  peers_ = peers;
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  for (int fd : listen_fds_) {
    epoll_event ev{EPOLLIN, {.fd = fd}};
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
  epoll_event ev{EPOLLIN, {.fd = wake_fd_}};
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_ = std::thread([this] { Loop(); });
}

void ConnectionGate::Loop() {
  constexpr int kTickMs = 100;  // deadline and tarpit resolution
  epoll_event events[64];
  auto next_sweep = Clock::now();
  for (;;) {
    // Nothing to time out: sleep until a connection arrives (no idle wake-ups).
    int n = ::epoll_wait(epoll_fd_, events, 64, pending_ > 0 ? kTickMs : -1);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_fd_) return;
      if (std::find(listen_fds_.begin(), listen_fds_.end(), fd) != listen_fds_.end()) {
        Accept(fd);
        continue;
      }
      auto it = by_fd_.find(fd);
      if (it != by_fd_.end()) Pump(it->second);  // may close it; later events for it find nothing
    }
    auto now = Clock::now();
    if (pending_ > 0 && now >= next_sweep) {
      Sweep(now);
      next_sweep = now + std::chrono::milliseconds(kTickMs);
    }
  }
}

void ConnectionGate::Accept(int listen_fd) {
  for (;;) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&from), &from_len, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;  // EAGAIN, or out of fds: the backlog waits for the next round
    std::string peer = PeerText(from);
    auto now = Clock::now();
    Client& client = clients_[peer];
    if (static_cast<int>(conns_.size()) >= options_.max_connections) {
      ::close(fd);
      if (client.open == 0) clients_.erase(peer);
      continue;
    }
    if (client.open >= options_.per_client) {
      // Over its limit, the client's oldest connection still waiting for its
      // header makes room (an idle or slowloris one), so a client sharing an
      // address with its own stragglers (NAT, a local health check) still gets
      // through; with none such, the new connection is refused at once.
      Conn* oldest = nullptr;
      for (auto& [cfd, c] : conns_) {
        if (c->peer == peer && c->upstream < 0 && (!oldest || c->accepted < oldest->accepted)) oldest = c.get();
      }
      if (oldest == nullptr) {
        ::close(fd);
        continue;
      }
      Close(oldest);
    }
    const bool tarpit = peers_->Tarpitted(peer, now);
    Client& again = clients_[peer];  // Close() may have erased it
    if (tarpit && again.waiting >= options_.tarpit_waiting_per_client) {
      ::close(fd);
      if (again.open == 0) clients_.erase(peer);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto conn = std::make_unique<Conn>();
    Conn* c = conn.get();
    c->client = fd;
    c->peer = std::move(peer);
    c->accepted = now;
    c->deadline = now + std::chrono::milliseconds(options_.header_timeout_ms);
    c->release = tarpit ? now + std::chrono::milliseconds(options_.tarpit_ms) : now;
    c->tarpitted = tarpit;
    ++again.open;
    if (tarpit) ++again.waiting;
    ++pending_;
    conns_[fd] = std::move(conn);
    by_fd_[fd] = c;
    Watch(c);
  }
}

bool ConnectionGate::HeaderReady(const Conn* c) const {
  if (options_.tls) return !c->to_up.empty();  // the ClientHello: nothing more can be read
  return c->to_up.size() >= kMaxHeader || c->to_up.find("\r\n\r\n") != std::string::npos;
}

// Reads and writes whatever each side allows (non-blocking), then updates what
// epoll watches. Level-triggered, so nothing is lost by doing a side's work on
// the other side's event.
void ConnectionGate::Pump(Conn* c) {
  char buf[16384];
  const bool relaying = c->upstream >= 0;
  auto flush = [&](int to, std::string& data) -> bool {
    while (!data.empty()) {
      ssize_t w = ::send(to, data.data(), data.size(), MSG_NOSIGNAL);
      if (w < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN;
      data.erase(0, static_cast<size_t>(w));
    }
    if (data.capacity() > 4096) std::string().swap(data);  // an idle connection keeps no big buffer
    return true;
  };
  auto fill = [&](int from, std::string& data, size_t cap, bool* eof) -> bool {
    while (data.size() < cap) {
      ssize_t n = ::recv(from, buf, std::min(sizeof buf, cap - data.size()), 0);
      if (n == 0) {
        *eof = true;
        return true;
      }
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
      data.append(buf, static_cast<size_t>(n));
    }
    return true;
  };

  if (!relaying) {
    // Before the handoff only the client speaks; nothing is read past the header
    // limit and nothing while a ready header waits out the tarpit.
    if (!HeaderReady(c)) {
      bool eof = false;
      if (!fill(c->client, c->to_up, kMaxHeader, &eof) || eof) return Close(c);
    }
    if (HeaderReady(c) && Clock::now() >= c->release) return Forward(c);
    return Watch(c);
  }

  if (!c->connected) {
    // A non-blocking connect to civetweb: refused shows in SO_ERROR, done
    // once there is a peer; until then epoll waits for EPOLLOUT.
    int err = 0;
    socklen_t err_len = sizeof err;
    ::getsockopt(c->upstream, SOL_SOCKET, SO_ERROR, &err, &err_len);
    if (err != 0) return Close(c);
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    if (::getpeername(c->upstream, reinterpret_cast<sockaddr*>(&peer), &len) != 0) return Watch(c);
    c->connected = true;
  }
  if (!flush(c->upstream, c->to_up) || !flush(c->client, c->to_client)) return Close(c);
  if (!c->client_eof && !fill(c->client, c->to_up, kMaxBuffer, &c->client_eof)) return Close(c);
  if (!c->upstream_eof && !fill(c->upstream, c->to_client, kMaxBuffer, &c->upstream_eof)) return Close(c);
  if (!flush(c->upstream, c->to_up) || !flush(c->client, c->to_client)) return Close(c);
  // A client that shuts its sending side still gets its answer.
  if (c->client_eof && c->to_up.empty() && !c->upstream_shut) {
    ::shutdown(c->upstream, SHUT_WR);
    c->upstream_shut = true;
  }
  // Once civetweb has closed and the answer is out, the connection is over,
  // whether or not the client ever closes its side.
  if (c->upstream_eof && c->to_client.empty()) return Close(c);
  Watch(c);
}

void ConnectionGate::Forward(Conn* c) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Close(c);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(target_port_));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return Close(c);
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in local{};
  socklen_t len = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
  c->relay_port = ntohs(local.sin_port);
  // Noted before civetweb can read a byte of the request.
  peers_->Note(c->relay_port, c->peer);
  c->upstream = fd;
  by_fd_[fd] = c;
  --pending_;
  if (c->tarpitted) {
    --clients_[c->peer].waiting;
    c->tarpitted = false;
  }
  Pump(c);
}

void ConnectionGate::Sweep(Clock::time_point now) {
  std::vector<Conn*> due;
  for (auto& [fd, c] : conns_) {
    if (c->upstream < 0 && (now >= c->deadline || (HeaderReady(c.get()) && now >= c->release))) {
      due.push_back(c.get());
    }
  }
  for (Conn* c : due) {
    // The header deadline is civetweb's old request_timeout_ms cut, now paid
    // for by the gate instead of a worker thread.
    if (HeaderReady(c) && now >= c->release) {
      Forward(c);
    } else {
      Close(c);
    }
  }
}

void ConnectionGate::Watch(Conn* c) {
  // An fd with nothing to wait for stays registered as EPOLLET alone, which
  // reports only an error or hang-up, once.
  auto set = [&](int fd, uint32_t want, uint32_t* have) {
    if (want == *have) return;
    epoll_event ev{want, {.fd = fd}};
    ::epoll_ctl(epoll_fd_, *have == 0 && want != 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
    *have = want;
  };
  if (c->upstream < 0) {
    // Nothing is read once the header is ready (it may be waiting out a tarpit).
    uint32_t want = HeaderReady(c) ? 0u : static_cast<uint32_t>(EPOLLIN);
    set(c->client, want == 0 ? EPOLLET : want, &c->client_events);
    return;
  }
  uint32_t client_want = 0, upstream_want = 0;
  if (!c->client_eof && c->to_up.size() < kMaxBuffer) client_want |= EPOLLIN;
  if (!c->to_client.empty()) client_want |= EPOLLOUT;
  if (!c->upstream_eof && c->to_client.size() < kMaxBuffer) upstream_want |= EPOLLIN;
  if (!c->connected || !c->to_up.empty()) upstream_want |= EPOLLOUT;
  set(c->client, client_want == 0 ? EPOLLET : client_want, &c->client_events);
  set(c->upstream, upstream_want == 0 ? EPOLLET : upstream_want, &c->upstream_events);
}

void ConnectionGate::Close(Conn* c) {
  if (c->upstream >= 0) {
    // Forgotten before the port is closed and free for another connection.
    peers_->Forget(c->relay_port);
    by_fd_.erase(c->upstream);
    ::close(c->upstream);
  } else {
    --pending_;
  }
  auto it = clients_.find(c->peer);
  if (it != clients_.end()) {
    if (c->tarpitted) --it->second.waiting;
    if (--it->second.open <= 0) clients_.erase(it);
  }
  by_fd_.erase(c->client);
  ::close(c->client);
  conns_.erase(c->client);  // frees c
}

}  // namespace botwatch
