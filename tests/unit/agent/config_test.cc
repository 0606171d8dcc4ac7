// Config validation: each error case with its exact one-line message.

#include <catch2/catch.hpp>

#include "agent/config.h"
#include "logs/log_config.h"
#include "tests/support/temp_dir.h"

using namespace botwatch;
using namespace std::chrono_literals;

namespace {

std::optional<std::string> FakeEnv(const std::string& name) {
  if (name == "FB_TOKEN") return std::string("EAAB-secret-token");
  if (name == "PORT") return std::string("8080");
  return std::nullopt;
}

Result<std::shared_ptr<const Config>> Load(const std::string& text, const std::string& dir = "") {
  ConfigSource src;
  src.file = "bw.yaml";
  src.dir = dir;
  src.env = &FakeEnv;
  return LoadConfigText(text, src);
}

std::string ErrorOf(const std::string& text) {
  auto r = Load(text);
  REQUIRE_FALSE(r.ok());
  return r.status().message();
}

}  // namespace

TEST_CASE("a valid config loads with defaults from global") {
  auto r = Load(
      "global:\n"
      "  default_interval: 20s\n"
      "  scrape_timeout: 3s\n"
      "collectors:\n"
      "  - name: a\n"
      "    type: tcp\n"
      "    address: 127.0.0.1:${PORT}\n"
      "  - name: b\n"
      "    type: tcp\n"
      "    address: 127.0.0.1:1\n"
      "    interval: 1s\n");
  REQUIRE(r.ok());
  const Config& c = *r.value();
  REQUIRE(c.collectors.size() == 2);
  CHECK(c.collectors[0].spec.interval == 20s);
  CHECK(c.collectors[0].spec.timeout == 3s);
  // The timeout never exceeds the interval.
  CHECK(c.collectors[1].spec.interval == 1s);
  CHECK(c.collectors[1].spec.timeout == 1s);
}

TEST_CASE("an empty config is valid and has no collectors") {
  auto r = Load("");
  REQUIRE(r.ok());
  CHECK(r.value()->collectors.empty());
}

TEST_CASE("config errors name file, line, column and field") {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"colectors: []\n", "bw.yaml:1:1: config: unknown key \"colectors\" (did you mean \"collectors\"?)"},
      {"collectors:\n  - {name: a, type: tcp, address: 'h:1', intervall: 5s}\n",
       "bw.yaml:2:42: collectors[0]: unknown key \"intervall\" (did you mean \"interval\"?)"},
      {"collectors:\n  - {name: a, type: tcp, address: 'h:1', interval: 15x}\n",
       "bw.yaml:2:52: collectors[0].interval: invalid duration \"15x\" (use a number and a unit, e.g. 500ms, 15s, 5m, "
       "1h30m, 7d)"},
      {"collectors:\n  - {name: a, type: tcp, address: 'h:1'}\n  - {name: a, type: tcp, address: 'h:2'}\n",
       "bw.yaml:3:12: collectors[1].name: duplicate collector name \"a\""},
      {"collectors:\n  - {name: a, type: htp}\n",
       "bw.yaml:2:21: collectors[0].type: unknown collector type \"htp\" (did you mean \"http\"?); known types: "},
      {"collectors:\n  - {type: tcp, address: 'h:1'}\n", "bw.yaml:2:5: collectors[0].name: missing required field"},
      {"collectors: {name: a}\n", "bw.yaml:1:13: collectors: expected a list, got a map"},
      {"collectors:\n  - name: [a]\n    type: tcp\n    address: 'h:1'\n",
       "bw.yaml:2:11: collectors[0].name: expected a scalar value, got a list"},
      {"global: {workers: many}\n", "bw.yaml:1:19: global.workers: expected an integer, got \"many\""},
      {"global: {workers: 0}\n", "bw.yaml:1:19: global.workers: must be between 1 and 64, got 0"},
      {"collectors:\n  - {name: a, type: tcp, address: 'h:1', interval: 1s, timeout: 2s}\n",
       "bw.yaml:2:65: collectors[0].timeout: must not exceed the interval (1s)"},
      {"collectors:\n  - {name: a, type: tcp, address: '${NOPE}:1'}\n",
       "bw.yaml:2:35: collectors[0].address: environment variable NOPE is not set"},
      {"collectors:\n  - {name: 'a b', type: tcp, address: 'h:1'}\n",
       "bw.yaml:2:12: collectors[0].name: \"a b\" is not a valid name (1-64 characters of letters, digits, _ - .)"},
      {"global: {workers: 1}\nglobal: {workers: 2}\n", "bw.yaml:2:1: global: duplicate key"},
      {"collectors: [\n", "bw.yaml:2:1: invalid YAML: end of sequence flow not found"},
      {"collectors:\n  - {name: a, type: process, pidfile: /x, process_name: y}\n",
       "bw.yaml:2:57: collectors[0].process_name: set only one of pidfile and process_name"},
      {"collectors:\n  - {name: a, type: process}\n",
       "bw.yaml:2:5: collectors[0]: one of pidfile, process_name, cmdline is required"},
      {"collectors:\n  - {name: a, type: process, cmdline: 'node ('}\n",
       "bw.yaml:2:39: collectors[0].cmdline: invalid regular expression: "},
      {"collectors:\n  - {name: a, type: http, url: 'ftp://x'}\n",
       "bw.yaml:2:32: collectors[0].url: must start with http:// or https://"},
      {"collectors:\n  - {name: a, type: http, url: 'http://x', valid_status_codes: [200, 999]}\n",
       "bw.yaml:2:70: collectors[0].valid_status_codes: must be between 100 and 599, got 999"},
      {"collectors:\n  - {name: a, type: http, url: 'http://x', insecure_skip_verify: yes}\n",
       "bw.yaml:2:66: collectors[0].insecure_skip_verify: expected true or false, got \"yes\""},
      {"collectors:\n  - {name: a, type: tcp, address: 'nohost'}\n",
       "bw.yaml:2:35: collectors[0].address: expected host:port, got \"nohost\""},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    std::string err = ErrorOf(c.text);
    // Messages that end in a list (known types, regex engine text) are compared by prefix.
    std::string expected = c.message;
    if (expected.back() == ' ') {
      CHECK(err.rfind(expected, 0) == 0);
    } else {
      CHECK(err == expected);
    }
    CHECK(err.find('\n') == std::string::npos);
  }
}

TEST_CASE("secrets come from the environment or from *_file, never empty or twice") {
  botwatch::testing::TempDir dir;
  dir.Write("token", "s3cr3t-from-file\n");
  auto ok = Load(
      "collectors:\n"
      "  - {name: a, type: http, url: 'http://127.0.0.1:1/', body_file: token}\n",
      dir.path());
  REQUIRE(ok.ok());

  auto both = Load("collectors:\n  - {name: a, type: http, url: 'http://x/', body: x, body_file: token}\n", dir.path());
  REQUIRE_FALSE(both.ok());
  CHECK(both.status().message() == "bw.yaml:2:65: collectors[0].body_file: set either body or body_file, not both");

  dir.Write("empty", "\n");
  auto empty = Load("collectors:\n  - {name: a, type: http, url: 'http://x/', body_file: empty}\n", dir.path());
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().message() ==
        "bw.yaml:2:56: collectors[0].body_file: secret file \"" + dir.path() + "/empty\" is empty");

  auto missing = Load("collectors:\n  - {name: a, type: http, url: 'http://x/', body_file: nope}\n", dir.path());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message() == "bw.yaml:2:56: collectors[0].body_file: cannot read secret file \"" + dir.path() +
                                          "/nope\": No such file or directory");
}

TEST_CASE("a secret's value never appears in an error message") {
  // The env var holds a token; the config is wrong elsewhere in the same entry.
  auto r = Load(
      "collectors:\n  - {name: a, type: http, url: 'http://x/', headers: {Authorization: 'Bearer ${FB_TOKEN}'}, "
      "method: BREW}\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("EAAB-secret-token") == std::string::npos);
  CHECK(r.status().message().find("unsupported method \"BREW\"") != std::string::npos);
}

TEST_CASE("env expansion handles $$, unset variables and bad names") {
  ConfigSource src;
  src.file = "f";
  src.env = &FakeEnv;
  CHECK(ExpandEnv("port ${PORT}", src, "w") == "port 8080");
  CHECK(ExpandEnv("cost $$5 and $x", src, "w") == "cost $5 and $x");
  CHECK_THROWS_WITH(ExpandEnv("${UNSET_VAR}", src, "f:1:1: k"), "f:1:1: k: environment variable UNSET_VAR is not set");
  CHECK_THROWS_WITH(ExpandEnv("${1A}", src, "w"), "w: invalid environment variable name \"1A\"");
  CHECK_THROWS_WITH(ExpandEnv("${OPEN", src, "w"), "w: unterminated ${ in value");
}

TEST_CASE("typo suggestions only when the word is close") {
  std::vector<std::string> keys = {"interval", "timeout", "name", "type"};
  CHECK(ClosestMatch("intervall", keys) == "interval");
  CHECK(ClosestMatch("timout", keys) == "timeout");
  CHECK_FALSE(ClosestMatch("database", keys).has_value());
}

namespace {
std::optional<std::string> SystemdEnv(const std::string& name) {
  if (name == "STATE_DIRECTORY") return std::string("/var/lib/botwatch:/var/lib/other");
  return std::nullopt;
}
}  // namespace

TEST_CASE("state_dir defaults to systemd's STATE_DIRECTORY, and an explicit one wins") {
  ConfigSource src;
  src.file = "bw.yaml";
  src.dir = "/etc/botwatch";
  src.env = &SystemdEnv;
  auto implicit = LoadConfigText("global: {}\n", src);
  REQUIRE(implicit.ok());
  CHECK(implicit.value()->logs->state_dir == "/var/lib/botwatch");
  auto explicit_dir = LoadConfigText("state_dir: /srv/state\n", src);
  REQUIRE(explicit_dir.ok());
  CHECK(explicit_dir.value()->logs->state_dir == "/srv/state");
  auto none = Load("global: {}\n");  // FakeEnv has no STATE_DIRECTORY
  REQUIRE(none.ok());
  CHECK(none.value()->logs->state_dir.empty());
}

TEST_CASE("independent mistakes in one collector are all listed, and the daemon's message is the first and a count") {
  ConfigSource src;
  src.file = "bw.yaml";
  src.env = &FakeEnv;
  std::vector<std::string> errors;
  auto r = LoadConfigText(
      "collectors:\n"
      "  - name: 'a b'\n"
      "    type: tcp\n"
      "    interval: 15x\n"
      "    address: 'h:1'\n"
      "    adress2: x\n"
      "    labls: {}\n",
      src, &errors);
  REQUIRE_FALSE(r.ok());
  REQUIRE(errors.size() == 4);
  CHECK(errors[0].rfind("bw.yaml:2:11: collectors[0].name: \"a b\" is not a valid name", 0) == 0);
  CHECK(errors[1].rfind("bw.yaml:4:15: collectors[0].interval: invalid duration \"15x\"", 0) == 0);
  CHECK(errors[2].rfind("bw.yaml:6:5: collectors[0]: unknown key \"adress2\"", 0) == 0);
  CHECK(errors[3].rfind("bw.yaml:7:5: collectors[0]: unknown key \"labls\"", 0) == 0);
  CHECK(r.status().message() == errors[0] + " (and 3 more; botwatch check-config lists every one)");
}

TEST_CASE("links: optional http(s) URLs for the status page and no credentials") {
  auto r = Load("links: {grafana: \"https://g.example/d/x\", alertmanager: \"http://127.0.0.1:9093/#/alerts\"}\n");
  REQUIRE(r.ok());
  CHECK(r.value()->links.grafana == "https://g.example/d/x");
  CHECK(r.value()->links.alertmanager == "http://127.0.0.1:9093/#/alerts");
  auto none = Load("collectors: []\n");
  REQUIRE(none.ok());
  CHECK(none.value()->links.grafana.empty());
  CHECK(none.value()->links.alertmanager.empty());

  CHECK(ErrorOf("links: {grafana: \"ftp://g.example\"}\n") ==
        "bw.yaml:1:18: links.grafana: want an http:// or https:// URL");
  std::string creds = ErrorOf("links:\n  alertmanager: \"https://admin:pw@am.example/\"\n");
  CHECK(creds.find("must not carry credentials") != std::string::npos);
  CHECK(creds.find("pw") == std::string::npos);
  CHECK(ErrorOf("links: {grafna: \"https://g.example\"}\n").find("grafna") != std::string::npos);
  CHECK(ErrorOf("links: {grafana: \"https://\"}\n").find("want an http:// or https:// URL") != std::string::npos);
}
