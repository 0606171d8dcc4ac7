#pragma once

// Opening a TCP connection within a probe's deadline: the tcp collector and
// the socketio collector's WebSocket client both need exactly this, with the
// same failure reasons, so it lives here once.

#include <string>

#include "collectors/collector.h"

namespace botwatch {

// Waits for `events` (poll flags) on `fd` until `deadline`: false on timeout.
// An error on the socket counts as ready, so the next call reports it. Waits
// are rounded down: none ends after the deadline.
bool WaitForSocket(int fd, short events, SteadyTime deadline);

struct TcpConnection {
  int fd = -1;                   // connected, non-blocking, close-on-exec; the caller closes it
  const char* reason = nullptr;  // when fd < 0: reason::kDns, kTimeout, kConnectionRefused or kIo
  std::string message;           // when fd < 0: one line naming host:port
};

// Resolves `host` and tries each address in turn until one connects or the
// deadline passes. getaddrinfo itself has no timeout: names that must resolve
// fast belong in /etc/hosts, or use an IP address.
TcpConnection ConnectTcp(const std::string& host, const std::string& port, SteadyTime deadline);

// Splits "host:port" or "[v6]:port". False if malformed.
bool SplitHostPort(const std::string& address, std::string* host, std::string* port);

}  // namespace botwatch
