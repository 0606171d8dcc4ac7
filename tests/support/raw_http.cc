#include "tests/support/raw_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <regex>

namespace botwatch::testing {

RawConnection::RawConnection(int port, const std::string& source) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  if (!source.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    inet_pton(AF_INET, source.c_str(), &from.sin_addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      close(fd_);
      fd_ = -1;
      return;
    }
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) close(fd_);
}

bool RawConnection::Send(const std::string& s) {
  return fd_ >= 0 && send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size());
}

template <typename Done>
void RawConnection::ReadUntil(std::chrono::milliseconds timeout, Done done) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) break;
    pollfd p{fd_, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (poll(&p, 1, static_cast<int>(std::max<long>(1, left.count()))) <= 0) continue;
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = true;
      break;
    }
    data_.append(buf, size_t(n));
  }
}

std::string RawConnection::Read(std::chrono::milliseconds timeout, bool want_close) {
  ReadUntil(timeout, [&] { return !want_close && Complete(); });
  std::string out = data_;
  data_.clear();
  return out;
}

std::string RawConnection::ReadHead(std::chrono::milliseconds timeout) {
  ReadUntil(timeout, [&] { return data_.find("\r\n\r\n") != std::string::npos; });
  return data_;
}

bool RawConnection::Open() const {
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0) return true;
  char c;
  return recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

bool RawConnection::Complete() const {
  size_t end = data_.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  std::smatch m;
  std::string head = data_.substr(0, end);
  static const std::regex kLength("[Cc]ontent-[Ll]ength: *([0-9]+)");
  if (!std::regex_search(head, m, kLength)) return true;
  return data_.size() >= end + 4 + std::stoul(m[1]);
}

int Ask(int port, const std::string& request, std::chrono::milliseconds timeout, const std::string& source) {
  RawConnection c(port, source);
  if (!c.ok() || !c.Send(request)) return 0;
  return StatusOf(c.Read(timeout));
}

int StatusOf(const std::string& response) {
  if (response.size() < 12 || response.rfind("HTTP/1.", 0) != 0) return 0;
  return std::stoi(response.substr(9, 3));
}

std::string BasicAuthorization(const std::string& user_pass) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < user_pass.size(); i += 3) {
    uint32_t v =
        uint32_t(uint8_t(user_pass[i])) << 16 | uint32_t(uint8_t(user_pass[i + 1])) << 8 | uint8_t(user_pass[i + 2]);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
  }
  if (user_pass.size() - i == 1) {
    uint32_t v = uint32_t(uint8_t(user_pass[i])) << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (user_pass.size() - i == 2) {
    uint32_t v = uint32_t(uint8_t(user_pass[i])) << 16 | uint32_t(uint8_t(user_pass[i + 1])) << 8;
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return "Basic " + out;
}

std::string GetRequest(const std::string& path, const std::string& auth) {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + (auth.empty() ? "" : "Authorization: " + auth + "\r\n") +
         "\r\n";
}

}  // namespace botwatch::testing
