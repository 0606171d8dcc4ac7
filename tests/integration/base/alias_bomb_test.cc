// Issue 28 item 3: a YAML alias bomb in a log rule (`any:` matchers nested
// through aliases) took 52 s and 3.1 GB in check-config from a 569-byte file,
// and a reload of it took the daemon down. Aliases may now expand a document
// to at most max(10,000 nodes, 16 x its own), refused with one file:line:col
// line, and a rule's match holds at most 256 matchers.

#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <regex>

#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

// `levels` anchors, each an `any:` of two aliases of the one before: the last
// one stands for 2^levels matchers. The rule uses the last.
std::string Bomb(int levels, const std::string& log_path) {
  std::string s = "logs:\n  - name: app\n    path: " + log_path +
                  "\n    format: json\n    rules:\n      - metric: bot_bomb_total\n        type: counter\n"
                  "        help: Boom.\n        match:\n          any:\n"
                  "            - &l0 {any: [{field: a, equals: x}, {field: a, equals: y}]}\n";
  for (int i = 1; i <= levels; ++i) {
    s += "            - &l" + std::to_string(i) + " {any: [*l" + std::to_string(i - 1) + ", *l" +
         std::to_string(i - 1) + "]}\n";
  }
  return s;
}

long MaxChildRssKb() {
  rusage u{};
  ::getrusage(RUSAGE_CHILDREN, &u);
  return u.ru_maxrss;
}

}  // namespace

TEST_CASE("check-config refuses a YAML alias bomb fast, in bounded memory, with one file:line:col line") {
  TempDir dir;
  const std::string log = dir.Write("app.log", "");
  const std::string bomb = Bomb(40, log);  // 2^40 matchers if expanded; about 1.7 KB
  const std::string path = dir.Write("bomb.yaml", bomb);
  auto t0 = std::chrono::steady_clock::now();
  CommandResult r = RunCommand({BOTWATCH_BINARY, "check-config", path}, "", 30s);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(seconds < 5);
  CHECK(MaxChildRssKb() < 200 * 1024);
  // One line, at the alias that crosses the bound (line 13 is `&l2 {any: [*l1, *l1]}`...).
  std::smatch m;
  REQUIRE(std::regex_match(r.output, m,
                           std::regex(std::regex_replace(path, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                                      R"(:(\d+):(\d+): invalid YAML: alias \*l\d+ expands the document past 10000 )"
                                      R"(nodes \(aliases may expand a document to at most 16 times its own nodes, or )"
                                      R"(10000\)\n)")));
  const int line = std::stoi(m[1]);
  CHECK(line > 12);
  CHECK(line < 12 + 40);
  CHECK(std::stoi(m[2]) > 20);  // the alias's column, not the line's start

  // The issue's smaller shapes are refused the same way.
  for (int levels : {16, 20, 24}) {
    INFO(levels);
    CommandResult small =
        RunCommand({BOTWATCH_BINARY, "check-config", dir.Write("b.yaml", Bomb(levels, log))}, "", 30s);
    CHECK(small.exit_code == 1);
    CHECK(small.output.find("expands the document past 10000 nodes") != std::string::npos);
  }
}

TEST_CASE("an alias that refers to a node containing it is refused, not followed for ever") {
  TempDir dir;
  CommandResult r =
      RunCommand({BOTWATCH_BINARY, "check-config", dir.Write("loop.yaml", "collectors: &c\n  - *c\n")}, "", 30s);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(r.output == dir.path() + "/loop.yaml:2:5: invalid YAML: alias *c refers to a node that contains it\n");
}

TEST_CASE("a rule's match holds at most 256 matchers, whether written out or through aliases") {
  TempDir dir;
  const std::string log = dir.Write("app.log", "");
  // 8 levels: about 1,000 matchers from 5,000 nodes, inside the alias bound.
  CommandResult aliased = RunCommand({BOTWATCH_BINARY, "check-config", dir.Write("a.yaml", Bomb(8, log))});
  INFO(aliased.output);
  CHECK(aliased.exit_code == 1);
  CHECK(aliased.output.find("more than 256 matchers in one rule's match (all/any included); split the rule") !=
        std::string::npos);
  CHECK(aliased.output.find('\n') == aliased.output.size() - 1);
  std::string literal = "logs:\n  - name: app\n    path: " + log +
                        "\n    format: json\n    rules:\n      - metric: bot_many_total\n        type: counter\n"
                        "        help: Many.\n        match:\n          any:\n";
  for (int i = 0; i < 300; ++i) literal += "            - {field: a, equals: v" + std::to_string(i) + "}\n";
  CommandResult written = RunCommand({BOTWATCH_BINARY, "check-config", dir.Write("w.yaml", literal)});
  CHECK(written.exit_code == 1);
  CHECK(written.output.find("more than 256 matchers") != std::string::npos);
  // 4 levels (120 matchers, mostly through aliases) is an ordinary config.
  CommandResult fine = RunCommand({BOTWATCH_BINARY, "check-config", dir.Write("f.yaml", Bomb(4, log))});
  INFO(fine.output);
  CHECK(fine.exit_code == 0);
}

TEST_CASE("a reload of an alias bomb keeps the running config and the daemon up") {
  TempDir dir;
  const std::string log = dir.Write("app.log", "");
  const std::string good =
      "global: {default_interval: 1s}\nlogs:\n  - name: app\n    path: " + log +
      "\n    format: json\n    poll_interval: 100ms\n    rules:\n"
      "      - {metric: bot_lines_total, type: counter, help: Lines., match: {field: a, exists: true}}\n";
  const std::string config = dir.Write("botwatch.yaml", good);
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitReady());
  dir.Write("botwatch.yaml", Bomb(40, log));
  auto t0 = std::chrono::steady_clock::now();
  HttpResult reload = HttpPost(bw.Url("/-/reload"), "", 20000);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(reload.status == 500);
  CHECK(reload.body.find("expands the document past 10000 nodes") != std::string::npos);
  // Still up, on the old rules.
  CHECK(HttpGet(bw.Url("/-/healthy")).status == 200);
  dir.Write("app.log", "{\"a\":1}\n");
  CHECK(
      Eventually([&] { return HttpGet(bw.Url("/metrics")).body.find("bot_lines_total 1") != std::string::npos; }, 10s));
  std::string metrics = HttpGet(bw.Url("/metrics")).body;
  CHECK(metrics.find("botwatch_config_last_reload_successful 0") != std::string::npos);
  CHECK(bw.process().Log().find("expands the document past 10000 nodes") != std::string::npos);
}
