#include "collectors/lib/tcp_connect.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace botwatch {

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

bool WaitForSocket(int fd, short events, SteadyTime deadline) {
  while (true) {
    auto left = std::chrono::floor<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    int left_ms = static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1 << 30));
    if (left_ms <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, left_ms);
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return true;  // let the next syscall report the error
  }
}

TcpConnection ConnectTcp(const std::string& host, const std::string& port, SteadyTime deadline) {
  const std::string where = host + ":" + port;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int gai = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (gai != 0) return {-1, reason::kDns, "cannot resolve " + host + ": " + ::gai_strerror(gai)};
  TcpConnection out{-1, reason::kIo, "no address for " + where};
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc < 0 && errno == EINPROGRESS) {
      if (!WaitForSocket(fd, POLLOUT, deadline)) {
        ::close(fd);
        out = {-1, reason::kTimeout, "connect to " + where + " timed out"};
        break;  // no time left for the other addresses
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc == 0) {
      out = {fd, nullptr, ""};
      break;
    }
    int err = errno;
    out = {-1, err == ECONNREFUSED ? reason::kConnectionRefused : reason::kIo,
           "connect to " + where + ": " + std::strerror(err)};
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return out;
}

}  // namespace botwatch
