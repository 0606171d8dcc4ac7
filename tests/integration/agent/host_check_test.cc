// Issue 28 item 5: without a web config, a DNS-rebinding page (Host:
// evil.example:PORT with a matching Origin) used to get 200 for POST /-/reload,
// POST /api/v1/logs and /api/v1/status. The data and state-changing endpoints
// now answer 421 to a Host botwatch is not known by; /metrics and /-/healthy
// answer any Host (Prometheus scrapes by IP or by name).

#include <catch2/catch.hpp>

#include "tests/support/botwatch_process.h"
#include "tests/support/raw_http.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

const char* const kConfig =
    "global: {default_interval: 1s}\n"
    "collectors:\n"
    "  - {name: me, type: process, process_name: botwatch}\n"
    "logs:\n"
    "  - name: remote\n"
    "    type: http\n"
    "    rules: [{metric: remote_lines_total, type: counter, help: Lines., match: {field: message, exists: true}}]\n";

// One request on a fresh connection; "" if nothing came back within 5 s.
std::string Exchange(int port, const std::string& request) {
  RawConnection c(port);
  if (!c.Send(request)) return "";
  return c.ReadHead(5s);
}

// As a browser sends it from a page whose origin is http://HOST (rebinding:
// the page's own name now resolves to 127.0.0.1).
int AskAs(int port, const std::string& host, const std::string& method, const std::string& path,
          const std::string& body = "") {
  std::string req =
      method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\nOrigin: http://" + host + "\r\nConnection: close\r\n";
  if (method == "POST") {
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return StatusOf(Exchange(port, req + "\r\n" + body));
}

const std::vector<std::pair<std::string, std::string>> kGuarded = {
    {"POST", "/-/reload"},      {"POST", "/api/v1/logs"},   {"GET", "/api/v1/status"},
    {"GET", "/api/v1/summary"}, {"GET", "/api/v1/history"}, {"GET", "/"},
    {"GET", "/api/v1/feed"},
};

}  // namespace

TEST_CASE("DNS rebinding: a foreign Host gets 421 on data and reload, /metrics and /-/healthy answer any Host") {
  TempDir dir;
  Botwatch bw(dir.Write("botwatch.yaml", kConfig), dir.path());
  REQUIRE(bw.WaitReady());
  const int port = bw.port();
  const std::string p = ":" + std::to_string(port);
  const std::string line = "{\"message\":\"from a rebound page\"}\n";
  for (const auto& [method, path] : kGuarded) {
    INFO(method << " " << path);
    CHECK(AskAs(port, "evil.example" + p, method, path, line) == 421);
    CHECK(AskAs(port, "EVIL.example.", method, path, line) == 421);
    CHECK(AskAs(port, "127.0.0.1.evil.example" + p, method, path, line) == 421);
  }
  for (const char* path : {"/metrics", "/-/healthy", "/-/ready"}) {
    INFO(path);
    CHECK(AskAs(port, "evil.example" + p, "GET", path) == 200);
  }
  // Nothing the rebound page sent was counted.
  std::string metrics = Exchange(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  CHECK(metrics.find("remote_lines_total") == std::string::npos);

  // The names botwatch is known by still get through: its address, other IP
  // literals (a port mapping's), localhost and IPv6 literals.
  for (const std::string& host :
       std::vector<std::string>{"127.0.0.1" + p, "localhost" + p, "LOCALHOST", "[::1]" + p, "10.1.2.3" + p}) {
    INFO(host);
    CHECK(AskAs(port, host, "GET", "/api/v1/status") == 200);
    CHECK(AskAs(port, host, "POST", "/api/v1/logs", line) == 200);
  }
  CHECK(AskAs(port, "localhost" + p, "POST", "/-/reload") == 200);
  // A request without Host (HTTP/1.0 tools) is not a browser's.
  CHECK(StatusOf(Exchange(port, "GET /api/v1/status HTTP/1.0\r\n\r\n")) == 200);
}

TEST_CASE("DNS rebinding: names given with --web.allowed-hosts are answered, in any case, with a trailing dot") {
  TempDir dir;
  Botwatch bw(dir.Write("botwatch.yaml", kConfig), dir.path(), {"--web.allowed-hosts=bot.example,Admin.Example."});
  REQUIRE(bw.WaitReady());
  const int port = bw.port();
  const std::string p = ":" + std::to_string(port);
  for (const std::string& host : std::vector<std::string>{"bot.example" + p, "BOT.example.", "admin.example" + p}) {
    INFO(host);
    CHECK(AskAs(port, host, "GET", "/api/v1/status") == 200);
    CHECK(AskAs(port, host, "GET", "/") == 200);
  }
  CHECK(AskAs(port, "bot.example.evil" + p, "GET", "/api/v1/status") == 421);
  CHECK(AskAs(port, "evil.example" + p, "POST", "/-/reload") == 421);
}

TEST_CASE("DNS rebinding: a bad --web.allowed-hosts entry is one clear line") {
  TempDir dir;
  CommandResult r = RunCommand({BOTWATCH_BINARY, "--config.file=" + dir.Write("botwatch.yaml", kConfig),
                                "--web.allowed-hosts=ok.example,bad/host"});
  CHECK(r.exit_code == 2);
  CHECK(r.output ==
        "botwatch: invalid --web.allowed-hosts entry \"bad/host\": is not a host name (letters, digits, "
        "'-', '.' and an optional :port)\n");
}
