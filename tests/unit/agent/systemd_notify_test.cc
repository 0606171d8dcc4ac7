// The notify protocol botwatch speaks without libsystemd: the parts the
// integration test (a path socket) does not reach.

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <string>

#include "agent/systemd_notify.h"

namespace {

// Sets an environment variable for one scope, restoring what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_.empty())
      ::unsetenv(name_);
    else
      ::setenv(name_, old_.c_str(), 1);
  }

 private:
  const char* name_;
  std::string old_;
};

}  // namespace

TEST_CASE("systemd notify: an abstract NOTIFY_SOCKET (@name) gets the datagram") {
  const std::string name = "botwatch-notify-test-" + std::to_string(::getpid());
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());  // sun_path[0] = '\0': abstract
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr),
                 static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())) == 0);
  {
    ScopedEnv env("NOTIFY_SOCKET", "@" + name);
    botwatch::systemd::NotifyReady("serving 3 collectors");
  }
  char buf[256];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  ::close(fd);
  REQUIRE(n > 0);
  CHECK(std::string(buf, static_cast<size_t>(n)) == "READY=1\nSTATUS=serving 3 collectors");
}

TEST_CASE("systemd notify: the watchdog interval is half WATCHDOG_USEC, and only for the process WATCHDOG_PID names") {
  ScopedEnv usec("WATCHDOG_USEC", "200000");
  {
    ScopedEnv pid("WATCHDOG_PID", std::to_string(::getpid()));
    REQUIRE(botwatch::systemd::WatchdogPingInterval().has_value());
    CHECK(botwatch::systemd::WatchdogPingInterval()->count() == 100);
  }
  {
    ScopedEnv pid("WATCHDOG_PID", std::to_string(::getpid() + 1));
    CHECK_FALSE(botwatch::systemd::WatchdogPingInterval().has_value());
  }
  ScopedEnv bad("WATCHDOG_USEC", "12x");
  CHECK_FALSE(botwatch::systemd::WatchdogPingInterval().has_value());
}
