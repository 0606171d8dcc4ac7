// Listening like an exporter: several addresses, a moved telemetry path, clear
// bind errors, and --help naming every endpoint the router serves.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <regex>

#include "agent/cli.h"
#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

// A listening socket on 127.0.0.1 that holds its port for the test.
class HeldPort {
 public:
  enum class Family { kIpv4, kIpv6 };
  explicit HeldPort(Family family = Family::kIpv4) {
    sockaddr_storage ss{};
    socklen_t len;
    if (family == Family::kIpv6) {
      auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
      sa->sin6_family = AF_INET6;
      sa->sin6_addr = in6addr_loopback;
      len = sizeof *sa;
    } else {
      auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
      sa->sin_family = AF_INET;
      sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof *sa;
    }
    fd_ = ::socket(ss.ss_family, SOCK_STREAM, 0);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) == 0);
    REQUIRE(::listen(fd_, 1) == 0);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    port_ = family == Family::kIpv6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                    : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  ~HeldPort() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace

TEST_CASE("listen: a taken port says address already in use, naming the address") {
  TempDir dir;
  HeldPort held;
  std::string config = dir.Write("botwatch.yaml", "collectors: []\n");
  std::string address = "127.0.0.1:" + std::to_string(held.port());
  CommandResult r = RunCommand({BOTWATCH_BINARY, "--config.file=" + config, "--web.listen-address=" + address});
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("err=\"cannot listen on " + address + ": address already in use\"") != std::string::npos);
  CHECK(r.output.find("Failed to setup server ports") == std::string::npos);
}

TEST_CASE(
    "listen: IPv6 addresses serve (relayed when civetweb lacks IPv6), [::] takes IPv4 too, a taken one is named") {
  TempDir dir;
  // Enough series that /metrics is several relay copy buffers (16 KiB) long.
  std::string prom;
  for (int i = 0; i < 2000; ++i) prom += "bot_big_" + std::to_string(i) + " 1\n";
  ::mkdir((dir.path() + "/tf").c_str(), 0755);
  dir.Write("tf/big.prom", prom);
  std::string config =
      dir.Write("botwatch.yaml", "collectors:\n  - {name: tf, type: textfile, directory: '" + dir.path() + "/tf'}\n");
  int v6_port = 0, any_port = 0;
  {
    HeldPort a(HeldPort::Family::kIpv6), b(HeldPort::Family::kIpv6);  // ports that were free a moment ago
    v6_port = a.port();
    any_port = b.port();
  }
  Botwatch bw(config, dir.path(),
              {"--web.listen-address=[::1]:" + std::to_string(v6_port),
               "--web.listen-address=[::]:" + std::to_string(any_port)});
  REQUIRE(bw.WaitReady());
  const std::string v6 = "http://[::1]:" + std::to_string(v6_port);
  HttpResult healthy = HttpGet(v6 + "/-/healthy");
  CHECK(healthy.status == 200);
  CHECK(healthy.body == "Healthy\n");
  HttpResult metrics;
  CHECK(Eventually(
      [&] {
        metrics = HttpGet(v6 + "/metrics");
        return metrics.body.find("bot_big_1999{collector=\"tf\"} 1") != std::string::npos;
      },
      5s));
  CHECK(metrics.status == 200);
  CHECK(metrics.body.size() > 3 * 16384);
  CHECK(metrics.body.find("botwatch_build_info") != std::string::npos);
  CHECK(HttpGet("http://[::1]:" + std::to_string(any_port) + "/-/healthy").status == 200);
  CHECK(HttpGet("http://127.0.0.1:" + std::to_string(any_port) + "/-/healthy").status == 200);

  HeldPort held(HeldPort::Family::kIpv6);
  std::string address = "[::1]:" + std::to_string(held.port());
  CommandResult r = RunCommand({BOTWATCH_BINARY, "--config.file=" + config, "--web.listen-address=" + address});
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("err=\"cannot listen on " + address + ": address already in use\"") != std::string::npos);
}

TEST_CASE("listen: --web.listen-address repeated serves every address, and --web.telemetry-path moves /metrics") {
  TempDir dir;
  std::string config = dir.Write("botwatch.yaml", "collectors: []\n");
  int second_port = 0;
  {
    HeldPort probe;  // a port that was free a moment ago
    second_port = probe.port();
  }
  Botwatch bw(config, dir.path(),
              {"--web.listen-address=127.0.0.2:" + std::to_string(second_port), "--web.telemetry-path=/prom"});
  REQUIRE(bw.WaitReady());
  std::string second = "http://127.0.0.2:" + std::to_string(second_port);
  HttpResult first_metrics = HttpGet(bw.Url("/prom"));
  CHECK(first_metrics.status == 200);
  CHECK(first_metrics.body.find("botwatch_build_info") != std::string::npos);
  CHECK(HttpGet(second + "/prom").status == 200);
  CHECK(HttpGet(second + "/-/healthy").status == 200);
  CHECK(HttpGet(bw.Url("/metrics")).status == 404);

  CommandResult clash = RunCommand({BOTWATCH_BINARY, "--web.telemetry-path=/-/healthy"});
  CHECK(clash.exit_code == 2);
  CHECK(clash.output.find("--web.telemetry-path \"/-/healthy\" is already an endpoint of botwatch") !=
        std::string::npos);
}

TEST_CASE("listen: --help names every endpoint, and every endpoint it names is routed") {
  CommandResult help = RunCommand({BOTWATCH_BINARY, "--help"});
  REQUIRE(help.exit_code == 0);
  TempDir dir;
  std::string config = dir.Write("botwatch.yaml", "collectors: []\n");
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitReady());
  for (const botwatch::Endpoint& e : botwatch::Endpoints()) {
    INFO(e.path);
    CHECK(help.output.find(std::string(e.method) + " " + e.path + " ") != std::string::npos);
    if (std::string(e.path) == "/api/v1/feed") continue;  // a stream: answered, but never ends
    HttpResult r = std::string(e.method) == "GET" ? HttpGet(bw.Url(e.path)) : HttpPost(bw.Url(e.path), "");
    // The router's own "not found" (an endpoint may 404 with its own words,
    // as the intake does when no http log source is configured).
    CHECK(r.body != "not found\n");
  }
}
