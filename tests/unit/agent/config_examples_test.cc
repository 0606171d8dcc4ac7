// The commented-out examples in config/botwatch.yaml are real configs: each
// one, uncommented, must load.

#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "agent/config.h"

using namespace botwatch;

namespace {

// Any variable holds a string that is valid wherever the examples use one: a
// token, a secret, or a libpq connection string.
std::optional<std::string> AnyEnv(const std::string&) { return std::string("host=127.0.0.1 dbname=from-env"); }

// Each "  # - name: ..." block with its "  #   ..." continuation lines, uncommented.
std::vector<std::string> CommentedExamples(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  std::string* current = nullptr;
  while (std::getline(in, line)) {
    if (line.rfind("  # - name: ", 0) == 0) {
      out.push_back("  " + line.substr(4) + "\n");
      current = &out.back();
    } else if (current && line.rfind("  #   ", 0) == 0) {
      *current += "  " + line.substr(4) + "\n";
    } else {
      current = nullptr;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("every commented example collector in config/botwatch.yaml loads") {
  std::ifstream in(std::string(BOTWATCH_SOURCE_DIR) + "/config/botwatch.yaml");
  std::stringstream buf;
  buf << in.rdbuf();
  std::vector<std::string> examples = CommentedExamples(buf.str());
  REQUIRE(examples.size() >= 3);
  std::set<std::string> types;
  for (const std::string& example : examples) {
    INFO(example);
    ConfigSource src;
    src.file = "example.yaml";
    src.env = &AnyEnv;
    auto config = LoadConfigText("collectors:\n" + example, src);
    INFO(config.status().message());
    REQUIRE(config.ok());
    types.insert(config.value()->collectors.at(0).spec.type);
  }
  for (const char* t : {"facebook", "gemini", "socketio"}) {
    INFO(t);
    CHECK(types.count(t) == 1);
  }
}
