// Other programs' metrics carried through botwatch: the saved /metrics of four
// real programs from Debian's packages (node_exporter 1.5, blackbox_exporter,
// Prometheus 2.42, VictoriaMetrics 1.79; tests/fixtures/carried/, captured
// with curl from the packaged binaries) go through an exec check (/bin/cat)
// and through a textfile collector, and every sample must come out of
// /metrics with its value bit for bit, its labels intact, plus `collector`.

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "prom/text_format.h"
#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"

using namespace botwatch;
using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

using Labels = std::map<std::string, std::string>;

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

Labels LabelsOf(const Family::Metric& m) {
  Labels out;
  for (const auto& l : m.label) out[l.name] = l.value;
  return out;
}

// Everything a sample carries, as exact bits, keyed by family and labels.
std::map<std::string, std::vector<uint64_t>> Index(const std::vector<Family>& families) {
  std::map<std::string, std::vector<uint64_t>> out;
  for (const auto& f : families) {
    for (const auto& m : f.metric) {
      std::string key = f.name;
      for (const auto& [k, v] : LabelsOf(m)) key += "|" + k + "=" + v;
      // Single-value kinds compare by value alone: a carried untyped
      // process_cpu_seconds_total is served under botwatch's own counter TYPE.
      bool single = f.type == prometheus::MetricType::Counter || f.type == prometheus::MetricType::Gauge ||
                    f.type == prometheus::MetricType::Untyped;
      std::vector<uint64_t> bits = {single ? 0 : static_cast<uint64_t>(f.type) + 1};
      switch (f.type) {
        case prometheus::MetricType::Counter:
          bits.push_back(Bits(m.counter.value));
          break;
        case prometheus::MetricType::Gauge:
          bits.push_back(Bits(m.gauge.value));
          break;
        case prometheus::MetricType::Untyped:
          bits.push_back(Bits(m.untyped.value));
          break;
        case prometheus::MetricType::Summary:
          bits.push_back(m.summary.sample_count);
          bits.push_back(Bits(m.summary.sample_sum));
          for (const auto& q : m.summary.quantile) {
            bits.push_back(Bits(q.quantile));
            bits.push_back(Bits(q.value));
          }
          break;
        case prometheus::MetricType::Histogram:
          bits.push_back(m.histogram.sample_count);
          bits.push_back(Bits(m.histogram.sample_sum));
          for (const auto& b : m.histogram.bucket) {
            bits.push_back(Bits(b.upper_bound));
            bits.push_back(b.cumulative_count);
          }
          break;
      }
      out[key] = bits;
    }
  }
  return out;
}

// The fixture's samples as botwatch must serve them from collector `name`:
// a `collector` label becomes exported_collector (Prometheus' honor_labels:
// false), then botwatch's own is added.
std::vector<Family> AsCarriedBy(std::vector<Family> families, const std::string& name) {
  for (auto& f : families) {
    for (auto& m : f.metric) {
      for (auto& l : m.label) {
        if (l.name == "collector") l.name = "exported_collector";
      }
      m.label.push_back({"collector", name});
    }
  }
  return families;
}

// The directory `t` that TextfileConfig's collector reads.
void MakeTextfileDir(const TempDir& dir) { std::filesystem::create_directory(dir.path() + "/t"); }

// A botwatch.yaml with one textfile collector, `files`, reading dir/t.
std::string TextfileConfig(const TempDir& dir, const std::string& global = "{default_interval: 1h}") {
  return dir.Write("botwatch.yaml",
                   "global: " + global + "\ncollectors:\n  - {name: files, type: textfile, directory: t}\n");
}

}  // namespace

TEST_CASE("carried: four real exporters' /metrics through exec and textfile, every sample bit-exact") {
  for (const char* fixture : {"node_exporter", "blackbox_exporter", "prometheus", "victoria_metrics"}) {
    DYNAMIC_SECTION(fixture) {
      TempDir dir;
      const std::string source = std::string(BOTWATCH_FIXTURES) + "/carried/" + fixture + ".prom";
      std::filesystem::create_directory(dir.path() + "/textfiles");
      std::filesystem::copy_file(source, dir.path() + "/textfiles/" + fixture + ".prom");
      Botwatch bw(dir.Write("botwatch.yaml",
                            "global: {default_interval: 1h}\n"
                            "collectors:\n"
                            "  - {name: via-exec, type: exec, command: /bin/cat, args: ['" +
                                source +
                                "'], output: prometheus}\n"
                                "  - {name: via-textfile, type: textfile, directory: textfiles}\n"),
                  dir.path());
      REQUIRE(bw.WaitReady());
      HttpResult scrape = HttpGet(bw.Url("/metrics"));
      REQUIRE(scrape.status == 200);
      auto served = ParseTextFormat(scrape.body, {1000000, 1 << 20, {}});
      INFO(served.status().message());
      REQUIRE(served.ok());
      auto got = Index(served.value());
      CHECK(got["botwatch_collector_up|collector=via-exec|type=exec"].back() == Bits(1));
      CHECK(got["botwatch_collector_up|collector=via-textfile|type=textfile"].back() == Bits(1));

      auto original = ParseTextFormat(ReadWholeFile(source));
      REQUIRE(original.ok());
      size_t samples = 0, found = 0, exact = 0;
      std::vector<std::string> missing;
      for (const char* via : {"via-exec", "via-textfile"}) {
        for (const auto& [key, bits] : Index(AsCarriedBy(original.value(), via))) {
          ++samples;
          auto it = got.find(key);
          if (it == got.end()) {
            if (missing.size() < 5) missing.push_back(key);
            continue;
          }
          ++found;
          exact += it->second == bits;
          if (it->second != bits && missing.size() < 5) missing.push_back("inexact " + key);
        }
      }
      // le and quantile values keep the producer's spelling (le="1.6384e+06"
      // is another series than le="1638400" to Prometheus).
      std::set<std::string> points;
      const std::string text = ReadWholeFile(source);
      static const std::regex kPoint(R"re((le|quantile)="[^"]*")re");
      for (auto it = std::sregex_iterator(text.begin(), text.end(), kPoint); it != std::sregex_iterator(); ++it) {
        points.insert(it->str());
      }
      for (const auto& p : points) {
        if (scrape.body.find(p) == std::string::npos && missing.size() < 10) missing.push_back("spelling " + p);
      }
      CHECK(!points.empty());
      INFO("missing, first few: " << ::Catch::Detail::stringify(missing));
      CHECK(missing.empty());
      CHECK(samples > 2 * 40);
      CHECK(found == samples);
      CHECK(exact == samples);
    }
  }
}

TEST_CASE("textfile: a bad file is left out and named, the others are served, mtime per file") {
  TempDir dir;
  MakeTextfileDir(dir);
  dir.Write("t/good.prom",
            "# HELP backup_last_success_seconds Last good backup.\n"
            "# TYPE backup_last_success_seconds gauge\nbackup_last_success_seconds 1796394807.1449037\n");
  dir.Write("t/bad.prom", "backup_size_bytes{disk=\"a\"} not-a-number\n");
  dir.Write("t/.hidden.prom", "hidden 1\n");         // a producer's temp file: never read
  dir.Write("t/notes.txt", "not a metrics file\n");  // not *.prom
  Botwatch bw(TextfileConfig(dir), dir.path());
  REQUIRE(bw.WaitReady());
  std::string m = HttpGet(bw.Url("/metrics")).body;
  CHECK_THAT(m, Catch::Contains("backup_last_success_seconds{collector=\"files\"} 1796394807.1449037\n"));
  CHECK_THAT(m, Catch::Contains("botwatch_textfile_error{collector=\"files\",file=\"bad.prom\"} 1\n"));
  CHECK_THAT(m, Catch::Contains("botwatch_textfile_error{collector=\"files\",file=\"good.prom\"} 0\n"));
  CHECK_THAT(m, Catch::Contains("botwatch_textfile_files{collector=\"files\"} 2\n"));
  CHECK_THAT(m, Catch::Contains("botwatch_textfile_mtime_seconds{collector=\"files\",file=\"good.prom\"} 1"));
  CHECK_THAT(m, Catch::Contains("botwatch_collector_up{collector=\"files\",type=\"textfile\"} 0\n"));
  CHECK(m.find("hidden") == std::string::npos);
  CHECK(m.find("backup_size_bytes") == std::string::npos);
  std::string status = HttpGet(bw.Url("/api/v1/status")).body;
  CHECK_THAT(status, Catch::Contains("bad.prom: line 1: invalid value"));
  CHECK_THAT(status, Catch::Contains("invalid_output"));
}

TEST_CASE("textfile: a producer's half-written temp file (name.prom.$$) is never read") {
  TempDir dir;
  MakeTextfileDir(dir);
  // node_exporter's documented producer pattern: `cmd > name.prom.$$ && mv
  // name.prom.$$ name.prom`. Caught mid-write, the temp file is cut inside a
  // line; only the finished name may be read.
  dir.Write("t/jobs.prom", "# TYPE jobs_done gauge\njobs_done 7\n");
  dir.Write("t/jobs.prom.4242", "# TYPE jobs_done gauge\njobs_done 8\njobs_fail");
  Botwatch bw(TextfileConfig(dir), dir.path());
  REQUIRE(bw.WaitReady());
  std::string m = HttpGet(bw.Url("/metrics")).body;
  CHECK_THAT(m, Catch::Contains("jobs_done{collector=\"files\"} 7\n"));
  CHECK(m.find("jobs_done{collector=\"files\"} 8") == std::string::npos);
  CHECK(m.find("jobs_fail") == std::string::npos);
  CHECK(m.find("jobs.prom.4242") == std::string::npos);
  CHECK_THAT(m, Catch::Contains("botwatch_textfile_files{collector=\"files\"} 1\n"));
  CHECK_THAT(m, Catch::Contains("botwatch_textfile_error{collector=\"files\",file=\"jobs.prom\"} 0\n"));
  CHECK_THAT(m, Catch::Contains("botwatch_collector_up{collector=\"files\",type=\"textfile\"} 1\n"));
}

TEST_CASE("textfile: a .prom file cut mid-line without a trailing newline is an error for that file") {
  TempDir dir;
  MakeTextfileDir(dir);
  dir.Write("t/ok.prom", "queue_depth 3\n");
  dir.Write("t/cut.prom", "# TYPE backup_size_bytes gauge\nbackup_size_bytes 12\nbackup_last_success_sec");
  Botwatch bw(TextfileConfig(dir), dir.path());
  REQUIRE(bw.WaitReady());
  std::string m = HttpGet(bw.Url("/metrics")).body;
  CHECK_THAT(m, Catch::Contains("botwatch_textfile_error{collector=\"files\",file=\"cut.prom\"} 1\n"));
  CHECK_THAT(m, Catch::Contains("botwatch_textfile_error{collector=\"files\",file=\"ok.prom\"} 0\n"));
  CHECK_THAT(m, Catch::Contains("queue_depth{collector=\"files\"} 3\n"));
  // Nothing of the cut file is served, not even its complete first sample.
  CHECK(m.find("backup_size_bytes") == std::string::npos);
  CHECK(m.find("backup_last_success_sec") == std::string::npos);
}

TEST_CASE("textfile: a producer rewriting its file (temp file + rename) is never read half-written") {
  TempDir dir;
  MakeTextfileDir(dir);
  // The real producer shape: write a temp file, then rename it over the old
  // one. Each generation N has `a N` and `b N`, and 2000 padding lines between
  // them, so a torn read would show a != b or a parse error.
  const std::string producer = dir.Write(
      "producer.sh",
      "i=0\nwhile [ ! -e stop ] && [ $i -lt 100000 ]; do i=$((i+1))\n"
      "  { echo \"gen_a $i\"; seq 1 2000 | sed 's/^/pad_/; s/$/ 1/'; echo \"gen_b $i\"; } > t/.out.tmp\n"
      "  mv t/.out.tmp t/out.prom\n  sleep 0.02\ndone\n");  // a pause, so the producer does not hog a loaded machine
  dir.Write("t/out.prom", "gen_a 0\ngen_b 0\n");
  Botwatch bw(TextfileConfig(dir, "{default_interval: 300ms, scrape_timeout: 290ms}"), dir.path());
  REQUIRE(bw.WaitReady());
  CommandResult run;
  std::thread writer([&] {
    run = RunCommand({"/bin/sh", "-c", "cd '" + dir.path() + "' && sh producer.sh"}, "", 60s);
  });
  // A probe that ran past its deadline (slow sanitizer builds) serves neither
  // line: only a scrape that shows the file can show it torn.
  // The claim needs enough scrapes that did read the file, across several
  // generations: on a loaded machine more probes overrun, so the loop runs
  // until it has both (bounded in scrapes and time) instead of counting on a
  // share of them.
  constexpr int kServedWanted = 50;
  int scrapes = 0, served = 0, consistent = 0, generations_seen = 0;
  double last = -1;
  auto until = std::chrono::steady_clock::now() + 45s;
  while ((served < kServedWanted || generations_seen <= 5) && scrapes < 5000 &&
         std::chrono::steady_clock::now() < until) {
    auto parsed = ParseTextFormat(HttpGet(bw.Url("/metrics")).body, {1000000, 1 << 20, {}});
    REQUIRE(parsed.ok());
    double a = -1, b = -2;
    for (const auto& f : parsed.value()) {
      if (f.name == "gen_a") a = f.metric.at(0).untyped.value;
      if (f.name == "gen_b") b = f.metric.at(0).untyped.value;
      if (f.name == "botwatch_textfile_error") CHECK(f.metric.at(0).gauge.value == 0);
    }
    ++scrapes;
    if (a >= 0 || b >= 0) {
      ++served;
      consistent += a == b;
    }
    if (a != last) ++generations_seen;
    last = a;
    std::this_thread::sleep_for(10ms);
  }
  dir.Write("stop", "");
  writer.join();
  CHECK(run.exit_code == 0);
  CHECK(served >= kServedWanted);
  CHECK(consistent == served);
  CHECK(generations_seen > 5);  // the file really changed under the scrapes
}
