// Every file under tests/fixtures/bad/config is rejected by `botwatch
// check-config` with exit 1 and exactly one printable line naming the file.

#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/support/botwatch_process.h"

using namespace botwatch::testing;

TEST_CASE("every bad config in the corpus is one clear line, never a crash") {
  std::string dir = std::string(BOTWATCH_FIXTURES) + "/bad/config";
  size_t files = 0;
  size_t unknown = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string path = entry.path().string();
    INFO(path);
    CommandResult r = RunCommand({BOTWATCH_BINARY, "check-config", path});
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
