// Type=notify: the real binary talks to a NOTIFY_SOCKET this test listens on,
// as systemd would: READY=1, WATCHDOG=1 pings, RELOADING=1/READY=1 around a
// reload, STOPPING=1 on SIGTERM.

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <mutex>
#include <thread>

#include "tests/support/botwatch_process.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

// A datagram socket collecting every notify message, in order.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof addr.sun_path);
    std::strcpy(addr.sun_path, path.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{0, 50000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    reader_ = std::thread([this] {
      char buf[4096];
      while (!stop_) {
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) continue;
        std::lock_guard<std::mutex> lock(mu_);
        messages_.emplace_back(buf, static_cast<size_t>(n));
      }
    });
  }
  ~NotifySocket() {
    stop_ = true;
    reader_.join();
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  std::vector<std::string> Messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  // Index of the first message at or after `from` that contains `what`, or -1.
  int Find(const std::string& what, size_t from = 0) {
    auto m = Messages();
    for (size_t i = from; i < m.size(); ++i) {
      if (m[i].find(what) != std::string::npos) return static_cast<int>(i);
    }
    return -1;
  }
  int Count(const std::string& what) {
    int n = 0;
    for (const auto& m : Messages()) n += m.find(what) != std::string::npos;
    return n;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread reader_;
  std::mutex mu_;
  std::vector<std::string> messages_;
};

// botwatch with one process collector, from a config written in `dir`, on a free port.
std::vector<std::string> BotwatchCommand(const TempDir& dir) {
  std::string config =
      dir.Write("botwatch.yaml", "collectors:\n  - {name: me, type: process, process_name: botwatch}\n");
  return {BOTWATCH_BINARY, "--config.file=" + config, "--web.listen-address=127.0.0.1:0"};
}

}  // namespace

TEST_CASE("systemd notify: READY, WATCHDOG pings, RELOADING around a reload, STOPPING on SIGTERM") {
  TempDir dir;
  NotifySocket notify(dir.path() + "/notify.sock");
  ChildProcess bw(BotwatchCommand(dir), dir.path() + "/botwatch.log",
                  {"NOTIFY_SOCKET=" + dir.path() + "/notify.sock", "WATCHDOG_USEC=200000"});

  REQUIRE(Eventually([&] { return notify.Find("READY=1") >= 0; }, 10s));
  CHECK(notify.Messages()[notify.Find("READY=1")].find("STATUS=serving on port ") != std::string::npos);
  // WatchdogSec=200ms: pinged every 100 ms.
  REQUIRE(Eventually([&] { return notify.Count("WATCHDOG=1") >= 3; }, 5s));

  size_t before_reload = notify.Messages().size();
  bw.Signal(SIGHUP);
  REQUIRE(Eventually([&] { return notify.Find("RELOADING=1", before_reload) >= 0; }, 5s));
  int reloading = notify.Find("RELOADING=1", before_reload);
  CHECK(notify.Messages()[reloading].find("MONOTONIC_USEC=") != std::string::npos);
  REQUIRE(Eventually([&] { return notify.Find("READY=1", reloading + 1) >= 0; }, 5s));

  bw.Signal(SIGTERM);
  REQUIRE(bw.WaitExit(10s) == 0);
  CHECK(notify.Find("STOPPING=1") > reloading);
  CHECK(bw.Log().find("shutdown complete") != std::string::npos);
}

TEST_CASE("systemd notify: nothing is sent without WATCHDOG_USEC, and no socket is harmless") {
  TempDir dir;
  NotifySocket notify(dir.path() + "/notify.sock");
  ChildProcess bw(BotwatchCommand(dir), dir.path() + "/botwatch.log", {"NOTIFY_SOCKET=" + dir.path() + "/notify.sock"});
  REQUIRE(Eventually([&] { return notify.Find("READY=1") >= 0; }, 10s));
  bw.Signal(SIGTERM);
  REQUIRE(bw.WaitExit(10s) == 0);
  CHECK(notify.Count("WATCHDOG=1") == 0);
  CHECK(notify.Count("STOPPING=1") == 1);

  // A NOTIFY_SOCKET nobody listens on does not stop botwatch from serving.
  ChildProcess lonely(BotwatchCommand(dir), dir.path() + "/lonely.log",
                      {"NOTIFY_SOCKET=" + dir.path() + "/nobody.sock"});
  REQUIRE(Eventually([&] { return lonely.Log().find("botwatch started") != std::string::npos; }, 10s));
  lonely.Signal(SIGTERM);
  CHECK(lonely.WaitExit(10s) == 0);
}
