#include <catch2/catch.hpp>

#include "base/duration.h"

using namespace botwatch;
using namespace std::chrono_literals;

TEST_CASE("durations parse in Prometheus syntax") {
  CHECK(ParseDuration("15s").value() == 15s);
  CHECK(ParseDuration("5m").value() == 5min);
  CHECK(ParseDuration("1h30m").value() == 90min);
  CHECK(ParseDuration("250ms").value() == 250ms);
  CHECK(ParseDuration("1m500ms").value() == 60500ms);
  CHECK(ParseDuration("7d").value() == 168h);
  CHECK(ParseDuration("1w").value() == 168h);
  CHECK(ParseDuration("0").value() == 0ms);
}

TEST_CASE("malformed durations are rejected with a hint") {
  for (const char* bad : {"", "15", "s", "15x", "1.5s", "-5s", "5s1m", "1m1m", "15 s", "99999999999999999999s"}) {
    INFO(bad);
    Result<Duration> d = ParseDuration(bad);
    REQUIRE_FALSE(d.ok());
    CHECK(d.status().message().find("invalid duration") == 0);
  }
  CHECK(ParseDuration("15x").status().message() ==
        "invalid duration \"15x\" (use a number and a unit, e.g. 500ms, 15s, 5m, 1h30m, 7d)");
}

TEST_CASE("durations format in their shortest form and round-trip") {
  CHECK(FormatDuration(90s) == "1m30s");
  CHECK(FormatDuration(250ms) == "250ms");
  CHECK(FormatDuration(0ms) == "0s");
  for (Duration d : {Duration(1ms), Duration(1500ms), Duration(59s), Duration(61min), Duration(25h), Duration(169h)}) {
    CHECK(ParseDuration(FormatDuration(d)).value() == d);
  }
}
