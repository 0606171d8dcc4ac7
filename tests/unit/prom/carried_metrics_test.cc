// prom/carried_metrics: what another program printed, made fit to
// serve: OpenMetrics converted or refused by name, `collector` kept as
// exported_collector, botwatch's own names refused.

#include "prom/carried_metrics.h"

#include <catch2/catch.hpp>

#include "prom/text_writer.h"

using botwatch::CarryTextFormat;

namespace {

std::string Served(const std::string& text) {
  auto r = CarryTextFormat(text, {"botwatch_exec_"}, "Carried.");
  INFO(r.status().message());
  REQUIRE(r.ok());
  return botwatch::SerializeFamilies(r.value());
}

std::string Error(const std::string& text) {
  auto r = CarryTextFormat(text, {"botwatch_exec_"}, "Carried.");
  REQUIRE_FALSE(r.ok());
  return r.status().message();
}

}  // namespace

TEST_CASE("carried: OpenMetrics text is converted to what /metrics serves") {
  // The shapes of the OpenMetrics 1.0 specification's examples.
  const std::string om =
      "# TYPE acme_http_router_request_seconds summary\n"
      "# UNIT acme_http_router_request_seconds seconds\n"
      "# HELP acme_http_router_request_seconds Latency though all of ACME's \\\"HTTP\\\" request router.\n"
      "acme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32\n"
      "acme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0\n"
      "acme_http_router_request_seconds_created{path=\"/api/v1\",method=\"GET\"} 1605281325.0\n"
      "# TYPE foo counter\n"
      "# HELP foo Requests.\n"
      "foo_total{a=\"x # not an exemplar\"} 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n"
      "foo_created{a=\"x # not an exemplar\"} 1520430000.123\n"
      "# TYPE build info\n"
      "build_info{version=\"1.2\"} 1\n"
      "# TYPE door stateset\n"
      "door{door=\"open\"} 1\n"
      "door{door=\"closed\"} 0\n"
      "# TYPE mystery unknown\n"
      "mystery 3\n"
      "# EOF\n";
  std::string out = Served(om);
  CHECK_THAT(out,
             Catch::Contains(
                 "# HELP acme_http_router_request_seconds Latency though all of ACME's \"HTTP\" request router.\n"));
  CHECK_THAT(out, Catch::Contains("# TYPE acme_http_router_request_seconds summary\n"));
  CHECK_THAT(out, Catch::Contains("acme_http_router_request_seconds_count{method=\"GET\",path=\"/api/v1\"} 807283\n"));
  CHECK_THAT(out, Catch::Contains("# TYPE foo_total counter\n"));
  CHECK_THAT(out, Catch::Contains("foo_total{a=\"x # not an exemplar\"} 17 1520879607789\n"));  // seconds -> ms
  CHECK_THAT(out, Catch::Contains("# TYPE build_info gauge\nbuild_info{version=\"1.2\"} 1\n"));
  CHECK_THAT(out, Catch::Contains("# TYPE door gauge\n"));
  CHECK_THAT(out, Catch::Contains("# TYPE mystery untyped\nmystery 3\n"));
  CHECK(out.find("_created") == std::string::npos);
  CHECK(out.find("trace_id") == std::string::npos);
  CHECK(out.find("UNIT") == std::string::npos);
}

TEST_CASE("carried: OpenMetrics constructs that cannot be served are refused by name, with their line") {
  CHECK(Error("# TYPE g gaugehistogram\ng_bucket{le=\"+Inf\"} 1\n# EOF\n") ==
        "line 1: OpenMetrics type gaugehistogram (family g) has no equivalent in the Prometheus text format");
  CHECK(Error("a 1\n# EOF\nb 2\n") == "line 3: text after OpenMetrics' # EOF");
  // An exemplar without "# EOF" is not silently cut off.
  CHECK(Error("a 1\nb_total 2 # {trace_id=\"x\"} 1\n") ==
        "line 2: an exemplar (OpenMetrics) in Prometheus text; end OpenMetrics text with # EOF");
  // Line numbers are the producer's, even after dropped lines.
  CHECK_THAT(Error("# UNIT a seconds\n# TYPE a gauge\na_created 1\na 1 x\n# EOF\n"), Catch::StartsWith("line 4: "));
}

TEST_CASE("carried: collector becomes exported_collector, and botwatch's names are refused") {
  CHECK_THAT(Served("node_scrape_collector_success{collector=\"cpu\"} 1\n"),
             Catch::Contains("node_scrape_collector_success{exported_collector=\"cpu\"} 1\n"));
  CHECK(Error("botwatch_collector_up 1\n") == "family botwatch_collector_up uses a name reserved for botwatch");
  CHECK(Error("botwatch_exec_exit_code 1\n") == "family botwatch_exec_exit_code uses a name reserved for botwatch");
  CHECK_THAT(Served("x 1\n"), Catch::Contains("# HELP x Carried.\n"));
}
