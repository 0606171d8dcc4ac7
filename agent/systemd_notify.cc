#include "agent/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "base/logging.h"

namespace botwatch::systemd {
namespace {

// The protocol as sd_notify(3) documents it: one datagram to the AF_UNIX
// socket named by $NOTIFY_SOCKET ("@..." is the abstract namespace). Written
// out here rather than linking libsystemd, which maps six more libraries
// (libgcrypt, liblzma, libzstd, lz4, libcap, libgpg-error: 1 MB of RSS) into
// every botwatch for two calls. Returns 0 when there is no socket, -errno on failure.
int SendDatagram(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || *path == '\0') return 0;
  sockaddr_un addr{};
  const size_t len = std::strlen(path);
  if ((path[0] != '/' && path[0] != '@') || len >= sizeof addr.sun_path) return -EINVAL;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  const auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), addr_len);
  const int err = errno;
  ::close(fd);
  return sent < 0 ? -err : 1;
}

void Send(const std::string& state) {
  int r = SendDatagram(state);
  if (r < 0)
    logging::Warn("sd_notify failed", {{"state", state.substr(0, state.find('\n'))}, {"errno", std::to_string(-r)}});
}

// WATCHDOG_USEC, unless WATCHDOG_PID names another process (sd_watchdog_enabled(3)).
uint64_t WatchdogUsec() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (usec == nullptr) return 0;
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid != nullptr && *pid != '\0') {
    char* end = nullptr;
    long p = std::strtol(pid, &end, 10);
    if (*end != '\0' || p != static_cast<long>(::getpid())) return 0;
  }
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(usec, &end, 10);
  if (*usec == '\0' || *end != '\0' || errno == ERANGE || usec[0] == '-') return 0;
  return v;
}

}  // namespace

void NotifyReady(const std::string& status) { Send(status.empty() ? "READY=1" : "READY=1\nSTATUS=" + status); }

void NotifyReloading() {
  // MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) match the reload;
  // older versions ignore it.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
  Send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void NotifyStopping() { Send("STOPPING=1"); }

void NotifyWatchdog() { Send("WATCHDOG=1"); }

std::optional<std::chrono::milliseconds> WatchdogPingInterval() {
  const uint64_t usec = WatchdogUsec();
  if (usec == 0) return std::nullopt;
  auto half = std::chrono::milliseconds(usec / 2000);
  return std::max(half, std::chrono::milliseconds(1));
}

}  // namespace botwatch::systemd
