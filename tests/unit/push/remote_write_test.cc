// remote_write: the WriteRequest encoder (read back with an independent
// minimal protobuf decoder), snappy, the queue on disk, and the config.

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "agent/config.h"
#include "base/crc32c.h"
#include "base/state_file.h"
#include "prom/series.h"
#include "push/queue.h"
#include "push/write_request.h"
#include "tests/support/temp_dir.h"
#include "tests/support/write_request_decoder.h"

using namespace botwatch;
using namespace botwatch::testing;

namespace {

std::vector<Family> SampleFamilies() {
  std::vector<Family> f;
  Family g{"bot_up", "help", prometheus::MetricType::Gauge, {}};
  Family::Metric m;
  m.label = {{"zeta", "1"}, {"instance", "own"}};
  m.gauge.value = 0.5;
  g.metric.push_back(m);
  f.push_back(g);
  Family h{"lat_seconds", "", prometheus::MetricType::Histogram, {}};
  Family::Metric hm;
  hm.label = {{"route", "/x"}};
  hm.point_spellings = {"0.10", "+Inf"};
  hm.histogram.sample_count = 3;
  hm.histogram.sample_sum = 0.25;
  hm.histogram.bucket.push_back({2, 0.1});
  h.metric.push_back(hm);
  f.push_back(h);
  Family c{"big_total", "", prometheus::MetricType::Counter, {}};
  Family::Metric cm;
  cm.counter.value = 1.7963948071449037e+09;
  c.metric.push_back(cm);
  f.push_back(c);
  return f;
}

}  // namespace

TEST_CASE("remote_write: every series is encoded with sorted labels, external labels and no spelling label") {
  uint64_t samples = 0;
  std::string bytes =
      EncodeWriteRequest(SampleFamilies(), {{"app", "bot"}, {"instance", "host-1"}}, 1796394807123, &samples);
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
  CHECK(by_name == std::map<std::string, int>{{"bot_up", 1},
                                              {"lat_seconds_count", 1},
                                              {"lat_seconds_sum", 1},
                                              {"lat_seconds_bucket", 2},
                                              {"big_total", 1}});
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

namespace {

constexpr int64_t kT0 = 1765000000000;  // a real time (ms): the segment refuses implausible ones

// One real WriteRequest of `samples` gauge samples (series name_0..name_{n-1}).
std::string Payload(const std::string& name, int samples = 1) {
  Family g{name, "help", prometheus::MetricType::Gauge, {}};
  for (int i = 0; i < samples; ++i) {
    Family::Metric m;
    m.label = {{"i", std::to_string(i)}};
    m.gauge.value = i;
    g.metric.push_back(m);
  }
  uint64_t n = 0;
  std::string p = EncodeWriteRequest({g}, {}, kT0, &n);
  REQUIRE(n == static_cast<uint64_t>(samples));
  return p;
}

void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

}  // namespace

TEST_CASE("remote_write queue: unsent batches survive a restart, sent ones do not come back") {
  testing::TempDir dir;
  std::string path = dir.path() + "/q.segment";
  {
    Queue q(path);
    CHECK(q.Load() == 0);
    q.Push(kT0 + 1000, 1, Payload("one"));
    q.Push(kT0 + 2000, 1, Payload("two"));
    q.Push(kT0 + 3000, 1, Payload("three"));
    q.Pop(1);  // "one" acknowledged
  }            // no flush or close step: a kill -9 here leaves the same files
  {
    Queue q(path);
    REQUIRE(q.Load() == 2);
    CHECK(q.Oldest(100).payload == Payload("two") + Payload("three"));
    CHECK(q.oldest_timestamp_ms() == kT0 + 2000);
    q.Pop(2);
    q.Push(kT0 + 4000, 1, Payload("four"));
  }
  {
    Queue q(path);
    REQUIRE(q.Load() == 1);
    CHECK(q.Oldest(100).payload == Payload("four"));
    CHECK(q.records_corrupt() == 0);
  }
  // A torn last record (crash mid-append) is dropped and cut off; the rest stays.
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out << std::string("\x40\x00\x00\x00\x01", 5);
  }
  Queue q(path);
  REQUIRE(q.Load() == 1);
  CHECK(q.records_corrupt() == 1);
  q.Push(kT0 + 5000, 1, Payload("five"));
  Queue again(path);
  REQUIRE(again.Load() == 2);
  CHECK(again.records_corrupt() == 0);  // cut before the append: five follows four directly
  CHECK(again.Oldest(100).payload == Payload("four") + Payload("five"));
}

// Every reproduction of issue 30's damaged segment, on a real file: 13
// batches of 7 samples, one damaged, then read back as a restart does.
TEST_CASE("remote_write queue: a damaged record is skipped, never sent, never counted") {
  testing::TempDir dir;
  std::string path = dir.path() + "/q.segment";
  std::vector<size_t> starts;  // where each record begins
  {
    Queue q(path);
    q.Load();
    for (int i = 0; i < 13; ++i) {
      starts.push_back(q.segment_bytes() == 0 ? 8 : q.segment_bytes());
      q.Push(kT0 + i * 1000, 7, Payload("b" + std::to_string(i), 7));
    }
  }
  const std::string good = ReadWholeFile(path);
  auto damaged = [&](const std::function<void(std::string&)>& damage) {
    std::string d = good;
    damage(d);
    WriteAll(path, d);
    ::unlink((path + ".offset").c_str());
    auto q = std::make_unique<Queue>(path);
    q->Load();
    return q;
  };
  auto decodable_and_counted = [](Queue& q) {
    Queue::Front f = q.Oldest(UINT64_MAX);
    CHECK(CountSamples(f.payload) == static_cast<int64_t>(f.samples));
    CHECK(f.samples == q.pending_samples());
    return f.samples;
  };
  SECTION("a flipped payload byte") {
    auto q = damaged([&](std::string& d) { d[starts[5] + 24 + 10] ^= 0x20; });
    CHECK(q->size() == 12);
    CHECK(q->records_corrupt() == 1);
    CHECK(decodable_and_counted(*q) == 12 * 7);
  }
  SECTION("a flipped length byte") {
    auto q = damaged([&](std::string& d) { d[starts[2]] ^= 0x40; });
    CHECK(q->size() == 12);  // not 3: the records after it are found again
    CHECK(q->records_corrupt() == 1);
    CHECK(decodable_and_counted(*q) == 12 * 7);
  }
  SECTION("a changed label byte (a wrong series)") {
    auto q = damaged([&](std::string& d) {
      size_t at = d.find("b7", starts[7]);
      d[at + 1] = '8';
    });
    CHECK(q->size() == 12);
    CHECK(q->Oldest(UINT64_MAX).payload.find("b7") == std::string::npos);
  }
  SECTION("a well-formed record of garbage, even with a right checksum") {
    auto q = damaged([&](std::string& d) {
      std::string garbage(64, '\xff');
      std::string r;
      for (uint64_t v : {uint64_t{64}})
        for (int i = 0; i < 4; ++i) r += static_cast<char>((v >> (8 * i)) & 0xff);
      std::string rest;
      for (int i = 0; i < 8; ++i) rest += static_cast<char>(0xff);  // samples: 2^64-1
      uint64_t ts = kT0 + 20000;
      for (int i = 0; i < 8; ++i) rest += static_cast<char>((ts >> (8 * i)) & 0xff);
      rest += garbage;
      uint32_t crc = Crc32c(rest);
      for (int i = 0; i < 4; ++i) r += static_cast<char>((crc >> (8 * i)) & 0xff);
      d += r + rest;
    });
    CHECK(q->size() == 13);
    CHECK(q->records_corrupt() == 1);
    CHECK(decodable_and_counted(*q) == 13 * 7);
  }
  SECTION("a torn record in the middle (disk full mid-append, then more appended)") {
    auto q = damaged([&](std::string& d) { d.erase(starts[4] + 30, starts[5] - starts[4] - 30); });
    CHECK(q->size() == 12);
    CHECK(q->records_corrupt() == 1);
    CHECK(decodable_and_counted(*q) == 12 * 7);
  }
  // Whatever was damaged, the file was rewritten clean: a second load finds nothing wrong.
  Queue again(path);
  again.Load();
  CHECK(again.records_corrupt() == 0);
}

TEST_CASE("remote_write queue: an offset that is not a record boundary is not trusted") {
  testing::TempDir dir;
  std::string path = dir.path() + "/q.segment";
  std::vector<size_t> starts;
  {
    Queue q(path);
    q.Load();
    for (int i = 0; i < 5; ++i) {
      starts.push_back(q.segment_bytes() == 0 ? 8 : q.segment_bytes());
      q.Push(kT0 + i * 1000, 3, Payload("b" + std::to_string(i), 3));
    }
  }
  const std::string good = ReadWholeFile(path);
  auto with_offset = [&](const std::string& offset) {
    WriteAll(path, good);
    WriteAll(path + ".offset", offset);
    Queue q(path);
    q.Load();
    return q.size();
  };
  CHECK(with_offset(std::to_string(starts[2]) + "\n") == 3);          // a boundary: trusted
  CHECK(with_offset(std::to_string(starts[2] + 5) + "\n") == 3);      // inside record 2: from record 2
  CHECK(with_offset("-20\n") == 5);                                   // not a number: everything again
  CHECK(with_offset(std::to_string(good.size() + 100) + "\n") == 5);  // past the end: everything again
  CHECK(with_offset(std::to_string(good.size()) + "\n") == 0);        // the end: all sent
}

TEST_CASE("remote_write queue: dropped batches are compacted away, so the file stays near the buffer") {
  testing::TempDir dir;
  std::string path = dir.path() + "/q.segment";
  Queue q(path);
  q.Load();
  const std::string p = Payload("x", 200);
  uint64_t max_size = 0;
  for (int i = 0; i < 400; ++i) {
    q.Push(kT0 + i * 1000, 200, p);
    q.DropOlderThan(kT0 + (i - 20) * 1000);  // a 20-interval buffer, nothing ever sent
    max_size = std::max<uint64_t>(max_size, std::filesystem::file_size(path));
  }
  const uint64_t buffer_bytes = 21 * (p.size() + 24);
  INFO("segment peaked at " << max_size << " bytes for a buffer of " << buffer_bytes);
  CHECK(max_size <= 2 * buffer_bytes + 64 * 1024 + 8);
  Queue back(path);
  CHECK(back.Load() == q.size());
}

TEST_CASE("remote_write queue: files are 0600, links are not followed, a failing disk keeps batches in memory") {
  testing::TempDir dir;
  std::string path = dir.path() + "/q.segment";
  std::string victim = dir.Write("victim", "precious\n");
  ::symlink(victim.c_str(), path.c_str());
  ::symlink(victim.c_str(), (path + ".offset").c_str());
  {
    Queue q(path);
    q.Load();
    q.Push(kT0, 1, Payload("a"));
    CHECK(ReadWholeFile(victim) == "precious\n");
    CHECK(q.disk_failing());
    CHECK_THAT(q.disk_error(), Catch::Contains("symbolic link"));
    CHECK(q.size() == 1);  // kept in memory
    // The next batch rewrites the segment: a rename replaces the links
    // themselves (inside the directory), never what they point to.
    q.Push(kT0 + 1000, 1, Payload("b"));
    CHECK_FALSE(q.disk_failing());
    q.Pop(1);
    // A segment removed under botwatch is rewritten whole, not appended to at a wrong offset.
    ::unlink(path.c_str());
    q.Push(kT0 + 2000, 1, Payload("c"));
    CHECK(q.disk_failing());
    q.Push(kT0 + 3000, 1, Payload("d"));
    CHECK_FALSE(q.disk_failing());
  }
  CHECK(ReadWholeFile(victim) == "precious\n");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((path + ".offset").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  Queue back(path);
  REQUIRE(back.Load() == 3);
  CHECK(back.records_corrupt() == 0);
  CHECK(back.Oldest(100).payload == Payload("b") + Payload("c") + Payload("d"));
  CHECK(StateWriteErrors()["q.segment"] >= 1);
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
  CHECK_THAT(
      err("remote_write:\n  - url: http://x/\n    basic_auth: {username: a, password: \"${RW_PASS}\", pasword: x}\n"),
      Catch::Contains("pasword"));
  CHECK_THAT(err("remote_write:\n  - url: http://x/\n    tls_config: {ca_fle: /x}\n"), Catch::Contains("ca_file"));
}
