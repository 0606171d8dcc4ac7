// Every file under tests/fixtures/bad/config is rejected by `botwatch
// check-config` with exit 1 and exactly one printable line naming the file.

#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/botwatch_process.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;

namespace {

// `botwatch check-config` on the config file at `path`.
CommandResult CheckConfig(const std::string& path) { return RunCommand({BOTWATCH_BINARY, "check-config", path}); }

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("every bad config in the corpus is one clear line, never a crash") {
  std::string dir = std::string(BOTWATCH_FIXTURES) + "/bad/config";
  size_t files = 0;
  size_t unknown = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string path = entry.path().string();
    INFO(path);
    CommandResult r = CheckConfig(path);
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK(r.output.rfind(path + ":", 0) == 0);
    CHECK(r.output.find('\n') == r.output.size() - 1);
    bool printable = true;
    for (unsigned char c : r.output) printable = printable && (c == '\n' || (c >= 0x20 && c < 0x7f));
    CHECK(printable);
    // unknown-*.yaml hold a key far from every known one: refused as unknown
    // although there is nothing to suggest.
    if (entry.path().filename().string().rfind("unknown-", 0) == 0) {
      CHECK(r.output.find(": unknown key \"") != std::string::npos);
      CHECK(r.output.find("did you mean") == std::string::npos);
      ++unknown;
    }
    ++files;
  }
  CHECK(files >= 30);  // guards against the corpus going missing
  CHECK(unknown == 4);
}

TEST_CASE("a directory or a missing file as config is an error, not an empty config") {
  CommandResult dir = RunCommand({BOTWATCH_BINARY, "check-config", BOTWATCH_FIXTURES});
  CHECK(dir.exit_code == 1);
  CHECK(dir.output == std::string(BOTWATCH_FIXTURES) + ": cannot open config file: not a regular file\n");
}

TEST_CASE("check-config reports every independent error in one run, sorted by position") {
  std::string path = std::string(BOTWATCH_FIXTURES) + "/check-config/three-mistakes.yaml";
  CommandResult r = CheckConfig(path);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(r.output == path + ":5:5: collectors[0]: unknown key \"urll\" (did you mean \"url\"?)\n" + path +
                        ":13:18: logs[0].rules[0].metric: counter \"bot_messages\" must end in _total "
                        "(did you mean \"bot_messages_total\"?)\n" +
                        path +
                        ":14:1: config: unknown key \"scrape_everything\"\n"
                        "3 errors\n");

  // The daemon refuses the same file with the first error and how many more.
  CommandResult daemon = RunCommand({BOTWATCH_BINARY, "--one-shot", "--config.file=" + path});
  CHECK(daemon.exit_code == 1);
  CHECK(daemon.output.find(":5:5: collectors[0]: unknown key \"urll\" (did you mean \"url\"?) (and 2 more; botwatch "
                           "check-config lists every one)") != std::string::npos);
}

TEST_CASE("check-config lists independent mistakes inside one collector and every unknown key of a map") {
  TempDir dir;
  std::string path = dir.Write("one-collector.yaml",
                               "collectors:\n"
                               "  - name: supervised\n"
                               "    type: tcp\n"
                               "    interval: often\n"
                               "    adress: 127.0.0.1:1\n"
                               "scrape_everything: true\n"
                               "colectors: []\n");
  CommandResult r = CheckConfig(path);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  std::vector<std::string> lines = Lines(r.output);
  REQUIRE(lines.size() == 6);
  CHECK(lines[0].find(path + ":2:11: collectors[0].name: \"supervised\" is reserved") == 0);
  CHECK(lines[1].find(path + ":4:15: collectors[0].interval: ") == 0);
  CHECK(lines[2] == path + ":5:5: collectors[0]: unknown key \"adress\" (did you mean \"address\"?)");
  CHECK(lines[3] == path + ":6:1: config: unknown key \"scrape_everything\"");
  CHECK(lines[4] == path + ":7:1: config: unknown key \"colectors\" (did you mean \"collectors\"?)");
  CHECK(lines[5] == "5 errors");
}

TEST_CASE("check-config lists a rule's bad name and its misspelt match operator together") {
  TempDir dir;
  std::string path = dir.Write("one-rule.yaml",
                               "logs:\n"
                               "  - name: bot\n"
                               "    path: /tmp/bot.log\n"
                               "    rules:\n"
                               "      - metric: bot_x\n"
                               "        type: counter\n"
                               "        match: {field: message, equal: x}\n"
                               "      - metric: botwatch_collector_up\n"
                               "        type: gauge\n"
                               "        action: inc\n"
                               "        match: {field: message, regexp: y}\n");
  CommandResult r = CheckConfig(path);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  std::vector<std::string> lines = Lines(r.output);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == path +
                        ":5:17: logs[0].rules[0].metric: counter \"bot_x\" must end in _total (did you mean "
                        "\"bot_x_total\"?)");
  CHECK(lines[1] == path + ":7:33: logs[0].rules[0].match: unknown key \"equal\" (did you mean \"equals\"?)");
  CHECK(lines[2].find(path + ":8:17: logs[0].rules[1].metric: ") == 0);
  CHECK(lines[3] == path + ":11:33: logs[0].rules[1].match: unknown key \"regexp\" (did you mean \"regex\"?)");
  CHECK(lines[4] == "4 errors");
}

TEST_CASE("check-config: --help, the flag form, a bad web config, a reserved name, an empty secret, --skip-env") {
  TempDir dir;
  CommandResult help = RunCommand({BOTWATCH_BINARY, "check-config", "--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.output.rfind("usage: botwatch check-config", 0) == 0);
  CHECK(help.output.find("--skip-env") != std::string::npos);

  std::string good = dir.Write("good.yaml", "collectors:\n  - {name: port, type: tcp, address: '127.0.0.1:1'}\n");
  CommandResult flag = RunCommand({BOTWATCH_BINARY, "check-config", "--config.file=" + good});
  CHECK(flag.exit_code == 0);
  CHECK(flag.output == good + ": OK (1 collectors)\n");
  CommandResult spaced = RunCommand({BOTWATCH_BINARY, "check-config", "--config.file", good});
  CHECK(spaced.output == flag.output);

  // A bad web config: its error, exit 1, and no "OK" for the good config.
  std::string web = dir.Write("web.yaml", "basic_auth_users:\n  prom: not-a-bcrypt-hash\n");
  CommandResult bad_web = RunCommand({BOTWATCH_BINARY, "check-config", good, "--web.config.file=" + web});
  INFO(bad_web.output);
  CHECK(bad_web.exit_code == 1);
  CHECK(bad_web.output.find("OK") == std::string::npos);
  CHECK(bad_web.output.rfind(web + ":", 0) == 0);

  std::string reserved =
      dir.Write("reserved.yaml", "collectors:\n  - {name: supervised, type: tcp, address: '127.0.0.1:1'}\n");
  CommandResult r = CheckConfig(reserved);
  CHECK(r.exit_code == 1);
  CHECK(r.output == reserved +
                        ":2:12: collectors[0].name: \"supervised\" is reserved for the child of `botwatch run` "
                        "(--supervise.name); choose another name\n");

  // Set but empty: refused, naming the field and never a value.
  std::string gemini = dir.Write(
      "gemini.yaml",
      "collectors:\n  - {name: ai, type: gemini, api_key: '${BW_TEST_GEMINI_KEY}', model: gemini-2.0-flash}\n");
  CommandResult empty = RunCommand({"env", "BW_TEST_GEMINI_KEY=", BOTWATCH_BINARY, "check-config", gemini});
  CHECK(empty.exit_code == 1);
  CHECK(empty.output == gemini +
                            ":2:39: collectors[0].api_key: is empty (an environment variable it names may be set "
                            "but empty)\n");
  // Unset: an error without --skip-env, the shape alone with it.
  CommandResult unset = RunCommand({"env", "-u", "BW_TEST_GEMINI_KEY", BOTWATCH_BINARY, "check-config", gemini});
  CHECK(unset.exit_code == 1);
  CHECK(unset.output.find("environment variable BW_TEST_GEMINI_KEY is not set") != std::string::npos);
  CommandResult skipped =
      RunCommand({"env", "-u", "BW_TEST_GEMINI_KEY", BOTWATCH_BINARY, "check-config", "--skip-env", gemini});
  CHECK(skipped.exit_code == 0);
  CHECK(skipped.output == gemini + ": OK (1 collectors) (environment variables not expanded)\n");
  // --skip-env still checks the shape.
  std::string typo = dir.Write(
      "typo.yaml",
      "collectors:\n  - {name: ai, type: gemini, api_keyy: '${BW_TEST_GEMINI_KEY}', model: gemini-2.0-flash}\n");
  CommandResult shape = RunCommand({BOTWATCH_BINARY, "check-config", "--skip-env", typo});
  CHECK(shape.exit_code == 1);
  CHECK(shape.output.find("unknown key \"api_keyy\" (did you mean \"api_key\"?)") != std::string::npos);
}
