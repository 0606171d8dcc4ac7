#include "tests/support/loopback_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace botwatch::testing {
namespace {

// Listens on *port (0 = any free port) and stores the port it got.
int ListenLoopback(int* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(*port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

std::string StubRequest::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (Lower(k) == Lower(name)) return v;
  }
  return "";
}

int UnusedPort() {
  int port = 0;
  int fd = ListenLoopback(&port);
  ::close(fd);
  return port;
}

LoopbackServer::LoopbackServer(Handler handler, int port) : handler_(std::move(handler)), port_(port) {
  listen_fd_ = ListenLoopback(&port_);
  acceptor_ = std::thread(&LoopbackServer::AcceptLoop, this);
}

LoopbackServer::~LoopbackServer() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  for (auto& t : connections_) t.join();
}

std::string LoopbackServer::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void LoopbackServer::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    connections_.emplace_back(&LoopbackServer::Serve, this, fd);
  }
}

void LoopbackServer::Serve(int fd) {
  // Read one request (headers + Content-Length body); bounded by stop_ polling.
  std::string data;
  size_t header_end = std::string::npos;
  size_t content_length = 0;
  auto read_some = [&]() -> bool {
    pollfd p{fd, POLLIN, 0};
    while (!stop_) {
      int n = ::poll(&p, 1, 50);
      if (n > 0) break;
    }
    if (stop_) return false;
    char buf[8192];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    data.append(buf, static_cast<size_t>(n));
    return true;
  };
  while (header_end == std::string::npos) {
    if (!read_some()) {
      ::close(fd);
      return;
    }
    header_end = data.find("\r\n\r\n");
  }
  StubRequest req;
  std::string head = data.substr(0, header_end);
  size_t line_end = head.find("\r\n");
  std::string request_line = head.substr(0, line_end);
  size_t sp1 = request_line.find(' '), sp2 = request_line.rfind(' ');
  req.method = request_line.substr(0, sp1);
  req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) e = head.size();
    std::string line = head.substr(pos, e - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      req.headers.emplace_back(line.substr(0, colon), v);
    }
    pos = e + 2;
  }
  std::string cl = req.Header("Content-Length");
  if (!cl.empty()) content_length = std::stoul(cl);
  while (data.size() < header_end + 4 + content_length) {
    if (!read_some()) break;
  }
  req.body = data.substr(header_end + 4, content_length);
  ++requests_;
  StubResponse resp = handler_(req);
  auto wait_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(resp.delay_ms);
  while ((resp.hang || std::chrono::steady_clock::now() < wait_until) && !stop_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!stop_) {
    std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " Stub\r\n";
    for (const auto& [k, v] : resp.headers) out += k + ": " + v + "\r\n";
    out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\nConnection: close\r\n\r\n";
    // "Dies mid-response": the headers promise the whole body, half of it arrives.
    out += resp.close_midway ? resp.body.substr(0, resp.body.size() / 2) : resp.body;
    size_t off = 0;
    while (off < out.size()) {
      ssize_t n = ::send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  }
  ::close(fd);
}

StubResponse JsonReply(int status, const std::string& body) {
  StubResponse r;
  r.status = status;
  r.body = body;
  r.headers = {{"Content-Type", "application/json; charset=UTF-8"}};
  return r;
}

}  // namespace botwatch::testing
