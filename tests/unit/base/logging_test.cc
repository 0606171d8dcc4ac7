#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "base/logging.h"
#include "base/secret.h"

#include <sstream>

using namespace botwatch;

TEST_CASE("logfmt lines quote what needs quoting and stay on one line") {
  std::string line = logging::FormatLine(logging::Level::kWarn, logging::Format::kLogfmt, "2026-11-23T07:00:00.000Z",
                                         "probe failed", {{"collector", "db"}, {"err", "line1\nline2 \"q\""}});
  CHECK(line ==
        "ts=2026-11-23T07:00:00.000Z level=warn msg=\"probe failed\" collector=db err=\"line1\\nline2 \\\"q\\\"\"\n");
}

TEST_CASE("json lines are valid JSON even with invalid UTF-8") {
  std::string line =
      logging::FormatLine(logging::Level::kError, logging::Format::kJson, "t", "bad \xff byte", {{"k", "v\x01"}});
  auto j = nlohmann::json::parse(line);
  CHECK(j["level"] == "error");
  CHECK(j["msg"] == "bad \xEF\xBF\xBD byte");
  CHECK(j["k"] == "v\x01");
}

TEST_CASE("the log level filters lower levels") {
  std::string sink;
  logging::SetSinkForTesting(&sink);
  logging::Configure(logging::Level::kWarn, logging::Format::kLogfmt);
  logging::Info("hidden");
  logging::Warn("shown");
  logging::SetSinkForTesting(nullptr);
  logging::Configure(logging::Level::kInfo, logging::Format::kLogfmt);
  CHECK(sink.find("hidden") == std::string::npos);
  CHECK(sink.find("msg=shown") != std::string::npos);
}

TEST_CASE("a Secret prints as <secret>") {
  std::ostringstream os;
  os << Secret("hunter2");
  CHECK(os.str() == "<secret>");
  CHECK(Secret("hunter2").reveal() == "hunter2");
}
