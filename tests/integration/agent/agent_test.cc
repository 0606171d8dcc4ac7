// The real botwatch binary, started on an ephemeral port, talked to over HTTP.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback_server.h"
#include "tests/support/probe_helpers.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

// Watches the botwatch started with a config from `dir`, and no other: tests run
// in parallel, and a `process_name: botwatch` would pick whichever is oldest.
std::string SelfConfig(const TempDir& dir, const std::string& extra = "") {
  std::string escaped;
  for (char c : dir.path()) {
    if (c == '.') escaped += "\\";
    escaped += c;
  }
  return "global: {default_interval: 1s, scrape_timeout: 500ms}\n"
         "collectors:\n"
         "  - {name: me, type: process, cmdline: '--config.file=" +
         escaped + "/'}\n" + extra;
}

// Value of the first sample line starting with `series` (exact name and labels).

}  // namespace

TEST_CASE("/metrics passes promtool and has the generic families for every collector") {
  TempDir dir;
  LoopbackServer target([](const StubRequest&) { return StubResponse{200, "all good"}; });
  std::string config =
      dir.Write("botwatch.yaml", SelfConfig(dir, "  - {name: web, type: http, url: '" + target.Url("/health") +
                                                     "', body_regex: good}\n"
                                                     "  - {name: port, type: tcp, address: '127.0.0.1:" +
                                                     std::to_string(target.port()) + "'}\n"));
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitReady());

  HttpResult metrics = HttpGet(bw.Url("/metrics"));
  REQUIRE(metrics.status == 200);
  CHECK(metrics.content_type.find("text/plain; version=0.0.4") == 0);
  for (const char* name : {"me", "web", "port"}) {
    INFO(name);
    CHECK(metrics.body.find(std::string("botwatch_collector_up{collector=\"") + name) != std::string::npos);
  }
  CHECK(ScrapeValue(metrics.body, "botwatch_collector_up{collector=\"web\",type=\"http\"}") == 1.0);
  CHECK(ScrapeValue(metrics.body, "botwatch_http_status_code{collector=\"web\"}") == 200.0);
  CHECK(ScrapeValue(metrics.body, "botwatch_config_last_reload_successful") == 1.0);
  CHECK(metrics.body.find("botwatch_build_info{") != std::string::npos);
  CHECK(metrics.body.find("process_resident_memory_bytes ") != std::string::npos);
  auto rss = ScrapeValue(metrics.body, "botwatch_process_resident_memory_bytes{collector=\"me\"}");
  REQUIRE(rss);
  CHECK(*rss > 1e6);

  CommandResult lint = RunCommand({"promtool", "check", "metrics"}, metrics.body);
  INFO(lint.output);
  CHECK(lint.exit_code == 0);
  CHECK(lint.output.empty());
}

TEST_CASE("/api/v1/status lists every collector with its state") {
  TempDir dir;
  int closed = UnusedPort();
  std::string config =
      dir.Write("botwatch.yaml",
                SelfConfig(dir, "  - {name: gone, type: tcp, address: '127.0.0.1:" + std::to_string(closed) + "'}\n"));
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitReady());
  HttpResult r = HttpGet(bw.Url("/api/v1/status"));
  REQUIRE(r.status == 200);
  auto j = nlohmann::json::parse(r.body);
  auto& cs = j["data"]["collectors"];
  REQUIRE(cs.size() == 2);
  CHECK(cs[0]["name"] == "me");
  CHECK(cs[0]["type"] == "process");
  CHECK(cs[0]["up"] == true);
  CHECK(cs[0]["last_success"].get<std::string>().size() == 20);
  CHECK(cs[1]["name"] == "gone");
  CHECK(cs[1]["up"] == false);
  CHECK(cs[1]["reason"] == "connection_refused");
  CHECK(cs[1]["last_error"].get<std::string>().find("Connection refused") != std::string::npos);
  CHECK(cs[1]["last_success"] == "");
  CHECK(cs[1]["last_error_time"].get<std::string>().size() == 20);
  CHECK(cs[0]["last_error"] == "");
  CHECK(cs[0]["last_error_time"] == "");
}

TEST_CASE("a target that never answers does not slow scrapes") {
  TempDir dir;
  LoopbackServer hung([](const StubRequest&) {
    StubResponse r;
    r.hang = true;
    return r;
  });
  std::string config = dir.Write("botwatch.yaml",
                                 "global: {default_interval: 2s}\n"
                                 "collectors:\n"
                                 "  - {name: hung, type: http, url: '" +
                                     hung.Url("/") + "', timeout: 1500ms}\n");
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitStarted());
  REQUIRE(Eventually([&] { return hung.requests() > 0; }, 5s));
  // The probe is now hanging inside its 1.5 s timeout; every scrape must answer from memory.
  double slowest = 0;
  for (int i = 0; i < 20; ++i) {
    HttpResult r = HttpGet(bw.Url("/metrics"), 1000);
    REQUIRE(r.status == 200);
    slowest = std::max(slowest, r.seconds);
  }
  CHECK(slowest < 0.25);
  // After the deadline the collector is reported down with reason timeout.
  REQUIRE(Eventually(
      [&] {
        return HttpGet(bw.Url("/metrics"))
                   .body.find("botwatch_collector_errors_total{collector=\"hung\",type=\"http\",reason=\"timeout\"}") !=
               std::string::npos;
      },
      5s));
  HttpResult r = HttpGet(bw.Url("/metrics"));
  CHECK(ScrapeValue(r.body, "botwatch_collector_up{collector=\"hung\",type=\"http\"}") == 0.0);
}

TEST_CASE("a broken config on reload keeps the running one") {
  TempDir dir;
  std::string path = dir.Write("botwatch.yaml", SelfConfig(dir));
  Botwatch bw(path, dir.path());
  REQUIRE(bw.WaitReady());

  SECTION("via POST /-/reload") {
    dir.Write("botwatch.yaml", SelfConfig(dir, "  - {name: me, type: process, process_name: x}\n"));
    HttpResult r = HttpPost(bw.Url("/-/reload"));
    CHECK(r.status == 500);
    CHECK(r.body.find("duplicate collector name \"me\"") != std::string::npos);
  }
  SECTION("via SIGHUP") {
    dir.Write("botwatch.yaml", "collectors: [\n");
    bw.process().Signal(SIGHUP);
    REQUIRE(Eventually([&] { return bw.process().Log().find("config reload failed") != std::string::npos; }, 5s));
  }
  HttpResult m = HttpGet(bw.Url("/metrics"));
  CHECK(ScrapeValue(m.body, "botwatch_config_last_reload_successful") == 0.0);
  CHECK(ScrapeValue(m.body, "botwatch_collector_up{collector=\"me\",type=\"process\"}") == 1.0);

  // A good config then replaces it.
  int closed = UnusedPort();
  dir.Write("botwatch.yaml",
            SelfConfig(dir, "  - {name: extra, type: tcp, address: '127.0.0.1:" + std::to_string(closed) + "'}\n"));
  HttpResult ok = HttpPost(bw.Url("/-/reload"));
  CHECK(ok.status == 200);
  REQUIRE(Eventually([&] { return HttpGet(bw.Url("/metrics")).body.find("collector=\"extra\"") != std::string::npos; },
                     5s));
  CHECK(ScrapeValue(HttpGet(bw.Url("/metrics")).body, "botwatch_config_last_reload_successful") == 1.0);
}

TEST_CASE("SIGTERM stops botwatch cleanly within 2 seconds") {
  TempDir dir;
  Botwatch bw(dir.Write("botwatch.yaml", SelfConfig(dir)), dir.path());
  REQUIRE(bw.WaitReady());
  auto start = std::chrono::steady_clock::now();
  bw.process().Signal(SIGTERM);
  std::optional<int> code = bw.process().WaitExit(2s);
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(bw.process().Log().find("shutdown complete") != std::string::npos);
}

TEST_CASE("endpoints answer as documented") {
  TempDir dir;
  Botwatch bw(dir.Write("botwatch.yaml", SelfConfig(dir)), dir.path());
  REQUIRE(bw.WaitReady());
  CHECK(HttpGet(bw.Url("/-/healthy")).status == 200);
  CHECK(HttpGet(bw.Url("/-/ready")).status == 200);
  HttpResult index = HttpGet(bw.Url("/"));
  CHECK(index.status == 200);
  CHECK(index.body.find("href=\"/metrics\"") != std::string::npos);
  CHECK(HttpGet(bw.Url("/nope")).status == 404);
  CHECK(HttpGet(bw.Url("/-/reload")).status == 405);
}

TEST_CASE("/metrics is gzip-compressed when the scraper asks for it, as Prometheus does") {
  TempDir dir;
  Botwatch bw(dir.Write("botwatch.yaml", SelfConfig(dir)), dir.path());
  REQUIRE(bw.WaitReady());
  // curl as a scraper: -D - prints the headers; --compressed sends
  // Accept-Encoding and inflates; --raw keeps the bytes as sent.
  CommandResult gz = RunCommand(
      {"curl", "-sS", "-D", "-", "-o", dir.path() + "/gz.body", "-H", "Accept-Encoding: gzip", bw.Url("/metrics")});
  REQUIRE(gz.exit_code == 0);
  CHECK(gz.output.find("Content-Encoding: gzip") != std::string::npos);
  CHECK(gz.output.find("Vary: Accept-Encoding") != std::string::npos);
  CommandResult inflated = RunCommand({"curl", "-sS", "--compressed", bw.Url("/metrics")});
  REQUIRE(inflated.exit_code == 0);
  CHECK(inflated.output.find("botwatch_build_info{") != std::string::npos);
  CommandResult lint = RunCommand({"promtool", "check", "metrics"}, inflated.output);
  INFO(lint.output);
  CHECK(lint.exit_code == 0);
  CHECK(std::filesystem::file_size(dir.path() + "/gz.body") * 3 < inflated.output.size());
  // Without Accept-Encoding: plain text, as before.
  CommandResult plain = RunCommand({"curl", "-sS", "-D", "-", bw.Url("/metrics")});
  REQUIRE(plain.exit_code == 0);
  CHECK(plain.output.find("Content-Encoding") == std::string::npos);
  CHECK(plain.output.find("botwatch_build_info{") != std::string::npos);
}

TEST_CASE("bad start-up input exits non-zero with one clear line") {
  TempDir dir;
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), BOTWATCH_BINARY);
    return RunCommand(args, "", 10s);
  };
  auto one_line = [](const std::string& s) { return !s.empty() && s.find('\n') == s.size() - 1; };

  SECTION("missing config file") {
    CommandResult r = run({"--config.file=" + dir.path() + "/absent.yaml", "--web.listen-address=127.0.0.1:0"});
    CHECK(r.exit_code == 1);
    CHECK(one_line(r.output));
    CHECK(r.output.find("absent.yaml: cannot open config file: No such file or directory") != std::string::npos);
  }
  SECTION("invalid YAML") {
    std::string p = dir.Write("bad.yaml", "collectors: [\n  - {name: a\n");
    CommandResult r = run({"--config.file=" + p, "--web.listen-address=127.0.0.1:0"});
    CHECK(r.exit_code == 1);
    CHECK(one_line(r.output));
    CHECK(r.output.find("bad.yaml:") != std::string::npos);
    CHECK(r.output.find("invalid YAML") != std::string::npos);
  }
  SECTION("port in use") {
    LoopbackServer busy([](const StubRequest&) { return StubResponse{}; });
    std::string p = dir.Write("ok.yaml", SelfConfig(dir));
    CommandResult r = run({"--config.file=" + p, "--web.listen-address=127.0.0.1:" + std::to_string(busy.port())});
    CHECK(r.exit_code == 1);
    CHECK(one_line(r.output));
    CHECK(r.output.find("cannot listen on 127.0.0.1:" + std::to_string(busy.port())) != std::string::npos);
  }
  SECTION("unknown flag") {
    CommandResult r = run({"--config.fil=x"});
    CHECK(r.exit_code == 2);
    CHECK(r.output == "botwatch: unknown flag --config.fil (did you mean --config.file?); see botwatch --help\n");
  }
  SECTION("check-config") {
    std::string good = dir.Write("good.yaml", SelfConfig(dir));
    CommandResult ok = run({"check-config", good});
    CHECK(ok.exit_code == 0);
    std::string bad =
        dir.Write("typo.yaml", "collectors:\n  - {name: a, type: process, process_name: x, intervall: 5s}\n");
    CommandResult r = run({"check-config", bad});
    CHECK(r.exit_code == 1);
    CHECK(r.output == bad + ":2:47: collectors[0]: unknown key \"intervall\" (did you mean \"interval\"?)\n");
  }
  SECTION("unreadable config file") {
    std::string p = dir.Write("private.yaml", SelfConfig(dir));
    std::filesystem::permissions(p, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    std::vector<std::string> args = {BOTWATCH_BINARY, "--config.file=" + p, "--web.listen-address=127.0.0.1:0"};
    if (geteuid() == 0) {
      // Root reads everything: run botwatch as nobody (setpriv execs it directly).
      std::filesystem::permissions(dir.path(), std::filesystem::perms::all);
      args.insert(args.begin(), {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"});
    } else {
      std::filesystem::permissions(p, std::filesystem::perms::none);
    }
    CommandResult r = RunCommand(args, "", 10s);
    CHECK(r.exit_code == 1);
    CHECK(one_line(r.output));
    CHECK(r.output.find("private.yaml: cannot open config file: Permission denied") != std::string::npos);
  }
  SECTION("invalid log flags") {
    CommandResult level = run({"--log.level=verbose"});
    CHECK(level.exit_code == 2);
    CHECK(one_line(level.output));
    CHECK(level.output.find("invalid --log.level \"verbose\" (use debug, info, warn or error)") != std::string::npos);
    CommandResult format = run({"--log.format=xml"});
    CHECK(format.exit_code == 2);
    CHECK(format.output.find("invalid --log.format \"xml\" (use logfmt or json)") != std::string::npos);
  }
  SECTION("--log.format=json writes one JSON object per line") {
    CommandResult r = run({"--config.file=" + dir.path() + "/absent.yaml", "--log.format=json"});
    CHECK(r.exit_code == 1);
    REQUIRE(one_line(r.output));
    auto line = nlohmann::json::parse(r.output, nullptr, false);
    REQUIRE(line.is_object());
    CHECK(line["level"] == "error");
    CHECK(line["msg"] == "cannot start");
    CHECK(line["err"].get<std::string>().find("absent.yaml: cannot open config file") != std::string::npos);
  }
  SECTION("--version and --help") {
    CommandResult v = run({"--version"});
    CHECK(v.exit_code == 0);
    CHECK(v.output.rfind("botwatch 0.", 0) == 0);
    CommandResult h = run({"--help"});
    CHECK(h.exit_code == 0);
    CHECK(h.output.find("--web.listen-address") != std::string::npos);
  }
}

TEST_CASE("the shipped example config is valid and serves its collectors") {
  TempDir dir;
  std::string example = std::string(BOTWATCH_SOURCE_DIR) + "/config/botwatch.yaml";
  CommandResult check = RunCommand({BOTWATCH_BINARY, "check-config", example});
  INFO(check.output);
  CHECK(check.exit_code == 0);
  Botwatch bw(example, dir.path());
  REQUIRE(bw.WaitReady());
  std::string body = HttpGet(bw.Url("/metrics")).body;
  CHECK(ScrapeValue(body, "botwatch_collector_up{collector=\"self\",type=\"process\"}") == 1.0);
  CHECK(ScrapeValue(body, "botwatch_collector_up{collector=\"self-health\",type=\"http\"}").has_value());
  // The disk watch (type: filesystem) works on any host: a missing folder is measured on its parent.
  CHECK(ScrapeValue(body, "botwatch_collector_up{collector=\"disk\",type=\"filesystem\"}") == 1.0);
  CHECK(body.find("botwatch_filesystem_avail_bytes{collector=\"disk\",mountpoint=\"") != std::string::npos);
  CHECK(RunCommand({"promtool", "check", "metrics"}, body).exit_code == 0);
}

namespace {

// A listening TCP socket on 127.0.0.1:port (no one accepts: the kernel completes
// the handshake, which is all the tcp collector asks for).
class Listener {
 public:
  explicit Listener(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 16) == 0;
  }
  ~Listener() { ::close(fd_); }
  bool ok() const { return ok_; }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("a collector's first failure is logged at info, a second one in a row is the warning") {
  TempDir dir;
  const int late_port = UnusedPort(), gone_port = UnusedPort();
  std::string config = dir.Write(
      "botwatch.yaml",
      SelfConfig(dir, "  - {name: late, type: tcp, interval: 1s, address: '127.0.0.1:" + std::to_string(late_port) +
                          "'}\n"
                          "  - {name: gone, type: tcp, interval: 200ms, address: '127.0.0.1:" +
                          std::to_string(gone_port) + "'}\n"));
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitReady());
  // `late` comes up after its first probe, as a supervised bot does (well
  // before its second, a second later).
  Listener listener(late_port);
  REQUIRE(listener.ok());
  auto up = [&](const std::string& name) {
    return ScrapeValue(HttpGet(bw.Url("/metrics")).body,
                       "botwatch_collector_up{collector=\"" + name + "\",type=\"tcp\"}");
  };
  REQUIRE(Eventually([&] { return up("late") == 1.0; }, 10s));
  REQUIRE(Eventually([&] { return Count(bw.process().Log(), "msg=\"collector down\" collector=gone") == 1; }, 10s));
  const std::string log = bw.process().Log();
  INFO(log);
  CHECK(up("gone") == 0.0);
  CHECK(Count(log, "level=info msg=\"collector not up yet\" collector=late type=tcp reason=connection_refused") == 1);
  CHECK(Count(log, "level=info msg=\"collector up\" collector=late") == 1);
  CHECK(Count(log, "collector=late") == 2);  // no warning about it
  CHECK(Count(log, "level=info msg=\"collector not up yet\" collector=gone") == 1);
  CHECK(Count(log, "level=warn msg=\"collector down\" collector=gone type=tcp reason=connection_refused") == 1);
  CHECK(log.find("level=warn msg=\"collector down\" collector=gone") >
        log.find("msg=\"collector not up yet\" collector=gone"));
}
