// remote_write: the WriteRequest encoder (read back with an independent
// minimal protobuf decoder), snappy, the queue on disk, and the config.

#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <map>

#include "agent/config.h"
#include "collectors/lib/text_format.h"
#include "push/queue.h"
#include "push/write_request.h"
#include "tests/support/temp_dir.h"
#include "tests/support/write_request_decoder.h"

using namespace botwatch;
using namespace botwatch::push;
using namespace botwatch::testing;

namespace {

std::vector<prometheus::MetricFamily> SampleFamilies() {
  std::vector<prometheus::MetricFamily> f;
  prometheus::MetricFamily g{"bot_up", "help", prometheus::MetricType::Gauge, {}};
  prometheus::ClientMetric m;
  m.label = {{"zeta", "1"}, {"instance", "own"}};
  m.gauge.value = 0.5;
  g.metric.push_back(m);
  f.push_back(g);
  prometheus::MetricFamily h{"lat_seconds", "", prometheus::MetricType::Histogram, {}};
  prometheus::ClientMetric hm;
  hm.label = {{"route", "/x"}, {std::string(kPointSpellingsLabel), std::string("0.10") + kPointSpellingSeparator + "+Inf"}};
  hm.histogram.sample_count = 3;
  hm.histogram.sample_sum = 0.25;
  hm.histogram.bucket.push_back({2, 0.1});
  h.metric.push_back(hm);
  f.push_back(h);
  prometheus::MetricFamily c{"big_total", "", prometheus::MetricType::Counter, {}};
  prometheus::ClientMetric cm;
  cm.counter.value = 1.7963948071449037e+09;
  c.metric.push_back(cm);
  f.push_back(c);
  return f;
}

}  // namespace

TEST_CASE("remote_write: every series is encoded with sorted labels, external labels and no spelling label") {
  uint64_t samples = 0;
  std::string bytes = EncodeWriteRequest(SampleFamilies(), {{"app", "bot"}, {"instance", "host-1"}},
                                         1796394807123, &samples);
  auto series = Decode(bytes);
  REQUIRE(samples == 6);
  REQUIRE(series.size() == 6);
  std::map<std::string, int> by_name;
  for (const auto& s : series) {
    ++by_name[Name(s)];
    REQUIRE(s.samples.size() == 1);
    CHECK(s.samples[0].second == 1796394807123);
    CHECK(Label(s, "app") == "bot");
    CHECK(std::is_sorted(s.labels.begin(), s.labels.end()));
    for (const auto& [k, v] : s.labels) CHECK_FALSE(k.empty());
  }
  CHECK(by_name == std::map<std::string, int>{{"bot_up", 1}, {"lat_seconds_count", 1}, {"lat_seconds_sum", 1},
                                              {"lat_seconds_bucket", 2}, {"big_total", 1}});
  // A series' own instance wins over the external one, as in Prometheus.
  CHECK(Label(series[0], "instance") == "own");
  CHECK(series[0].samples[0].first == 0.5);
  CHECK(Label(series[5], "instance") == "host-1");
  CHECK(series[5].samples[0].first == 1.7963948071449037e+09);  // all 17 digits survive
  // le as the producer spelled it (as /metrics shows it).
  CHECK(Label(series[3], "le") == "0.10");
  CHECK(series[3].samples[0].first == 2);
  CHECK(Label(series[4], "le") == "+Inf");
  CHECK(series[4].samples[0].first == 3);
}

TEST_CASE("remote_write: two encoded requests concatenated decode as one holding both") {
  std::string a = EncodeWriteRequest(SampleFamilies(), {}, 1000);
  std::string b = EncodeWriteRequest(SampleFamilies(), {}, 2000);
  auto both = Decode(a + b);
  REQUIRE(both.size() == 12);
  CHECK(both[0].samples[0].second == 1000);
  CHECK(both[6].samples[0].second == 2000);
}

TEST_CASE("remote_write: snappy round trip, and garbage is refused") {
  std::string raw = EncodeWriteRequest(SampleFamilies(), {{"app", "bot"}}, 5);
  for (int i = 0; i < 6; ++i) raw += raw;
  std::string packed = SnappyCompress(raw);
  CHECK(packed.size() < raw.size() / 4);
  std::string back;
  REQUIRE(SnappyUncompress(packed, &back));
  CHECK(back == raw);
  CHECK_FALSE(SnappyUncompress("\xff\xff\xff\xff\xff not snappy", &back));
}

TEST_CASE("remote_write queue: oldest first, bounded requests, retention by age") {
  Queue q("");
  q.Push(1000, 2, "a");
  q.Push(2000, 2, "b");
  q.Push(3000, 2, "c");
  auto f = q.Oldest(4);
  CHECK(f.payload == "ab");
  CHECK(f.batches == 2);
  CHECK(f.samples == 4);
  CHECK(q.Oldest(1).payload == "a");  // always at least one batch
  CHECK(q.DropOlderThan(2000) == 2);
  CHECK(q.Oldest(100).payload == "bc");
  q.Pop(1);
  CHECK(q.Oldest(100).payload == "c");
  CHECK(q.pending_bytes() == 1);
  CHECK(q.pending_samples() == 2);
}

TEST_CASE("remote_write queue: unsent batches survive a restart, sent ones do not come back") {
  testing::TempDir dir;
  std::string path = dir.path() + "/q.segment";
  {
    Queue q(path);
    CHECK(q.Load() == 0);
    q.Push(1000, 1, "one");
    q.Push(2000, 1, "two");
    q.Push(3000, 1, "three");
    q.Pop(1);  // "one" acknowledged
  }  // no flush or close step: a kill -9 here leaves the same files
  {
    Queue q(path);
    REQUIRE(q.Load() == 2);
    CHECK(q.Oldest(100).payload == "twothree");
    CHECK(q.oldest_timestamp_ms() == 2000);
    q.Pop(2);
    q.Push(4000, 1, "four");
  }
  {
    Queue q(path);
    REQUIRE(q.Load() == 1);
    CHECK(q.Oldest(100).payload == "four");
  }
  // A torn last record (crash mid-append) is dropped; the rest stays.
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out << std::string("\x40\x00\x00\x00\x01", 5);
  }
  Queue q(path);
  REQUIRE(q.Load() == 1);
  q.Push(5000, 1, "five");
  Queue again(path);
  REQUIRE(again.Load() == 2);
  CHECK(again.Oldest(100).payload == "fourfive");
}

namespace {
Result<std::shared_ptr<const Config>> LoadRw(const std::string& text) {
  ConfigSource src;
  src.file = "bw.yaml";
  src.env = [](const std::string& n) -> std::optional<std::string> {
    if (n == "RW_PASS") return std::string("hunter2-secret");
    return std::nullopt;
  };
  return LoadConfigText(text, src);
}
}  // namespace

TEST_CASE("remote_write config: defaults, auth headers, strict keys, one-line errors") {
  auto ok = LoadRw(
      "remote_write:\n"
      "  - url: https://user:pw@mimir.example.com/api/v1/push\n"
      "    external_labels: {app: bot}\n"
      "    basic_auth: {username: bot, password: \"${RW_PASS}\"}\n"
      "    headers: {X-Scope-OrgID: tenant-1}\n"
      "    buffer: 30m\n");
  REQUIRE(ok.ok());
  const auto& rw = ok.value()->remote_write.at(0);
  CHECK(rw.name == "mimir.example.com");  // never the user:pw of the URL
  CHECK(rw.interval == std::chrono::seconds(15));
  CHECK(rw.buffer == std::chrono::minutes(30));
  REQUIRE(rw.external_labels.size() == 3);
  CHECK(rw.external_labels[0].first == "app");
  CHECK(rw.external_labels[1].first == "instance");
  CHECK_FALSE(rw.external_labels[1].second.empty());
  // As the shipped scrape job is named, so the mixin's selector matches pushed series.
  CHECK(rw.external_labels[2] == std::make_pair(std::string("job"), std::string("botwatch")));
  auto own_job = LoadRw("remote_write:\n  - url: http://x/\n    external_labels: {job: chatbots}\n");
  REQUIRE(own_job.ok());
  const auto& labels = own_job.value()->remote_write.at(0).external_labels;
  REQUIRE(labels.size() == 2);
  CHECK(labels[1] == std::make_pair(std::string("job"), std::string("chatbots")));
  REQUIRE(rw.headers.size() == 2);
  CHECK(rw.headers[0].reveal() == "Authorization: Basic Ym90Omh1bnRlcjItc2VjcmV0");  // bot:hunter2-secret
  CHECK(rw.headers[1].reveal() == "X-Scope-OrgID: tenant-1");

  auto err = [](const std::string& text) {
    auto r = LoadRw(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find('\n') == std::string::npos);
    CHECK(r.status().message().find("hunter2") == std::string::npos);
    return r.status().message();
  };
  CHECK_THAT(err("remote_write:\n  - url: not-a-url\n"),
             Catch::StartsWith("bw.yaml:2:10: remote_write[0].url:") && Catch::Contains("not a valid URL"));
  CHECK_THAT(err("remote_write:\n  - url: http://x/\n    buffer: lots\n"),
             Catch::StartsWith("bw.yaml:3:13: remote_write[0].buffer:"));
  CHECK_THAT(err("remote_write:\n  - url: http://x/\n    intervall: 5s\n"),
             Catch::Contains("did you mean \"interval\""));
  CHECK_THAT(err("remote_write:\n  - url: http://x/\n    basic_auth: {username: a, password: \"${RW_PASS}\", pasword: x}\n"),
             Catch::Contains("pasword"));
  CHECK_THAT(err("remote_write:\n  - url: http://x/\n    tls_config: {ca_fle: /x}\n"), Catch::Contains("ca_file"));
}
