// HyperLogLog distinct counts against the true count, and sliding windows.

#include <catch2/catch.hpp>

#include <cmath>
#include <set>
#include <string>

#include "logs/hyperloglog.h"
#include "logs/metric_store.h"

using botwatch::Hash64;
using botwatch::HyperLogLog;
using botwatch::SlidingDistinct;

TEST_CASE("HyperLogLog estimates stay within three standard errors of the true count") {
  // Standard error 1.04/sqrt(4096) = 1.625 %.
  for (int n : {1, 10, 100, 1000, 10000, 100000, 300000}) {
    HyperLogLog h;
    std::set<std::string> truth;
    for (int i = 0; i < n * 3; ++i) {  // each value seen three times
      std::string id = "user-" + std::to_string((int64_t{i} * 7919) % n);
      truth.insert(id);
      h.Add(Hash64(id));
    }
    double est = h.Estimate();
    INFO("n=" << n << " estimate=" << est);
    CHECK(truth.size() == static_cast<size_t>(n));
    CHECK(std::abs(est - n) <= std::max(1.0, 3 * 0.01625 * n));
  }
}

TEST_CASE("sliding distinct windows forget old users and merge slices") {
  SlidingDistinct d({1800, 86400});
  const double t0 = 1795341600;
  // 500 users two days ago, 200 users in the last hour, 50 in the last 10 minutes.
  for (int i = 0; i < 500; ++i) d.Add(Hash64("old-" + std::to_string(i)), t0 - 2 * 86400);
  for (int i = 0; i < 200; ++i) d.Add(Hash64("hour-" + std::to_string(i)), t0 - 3000 + i);
  for (int i = 0; i < 50; ++i) d.Add(Hash64("recent-" + std::to_string(i)), t0 - 600 + i);
  std::vector<double> est = d.Estimates(t0);
  REQUIRE(est.size() == 2);
  CHECK(std::abs(est[0] - 50) <= 2);   // 30m (+ at most one 150 s slice): only the recent ones
  CHECK(std::abs(est[1] - 250) <= 8);  // 24h: recent + last hour, not two days ago
  // Memory is bounded by slices, not users.
  for (const auto& w : d.windows()) CHECK(w.slices.size() <= SlidingDistinct::kSlices + 1);
  // Far in the future every window is empty.
  for (double e : d.Estimates(t0 + 30 * 86400)) CHECK(e == 0);
}

TEST_CASE("distinct sketches survive a save and restore, sparse and dense") {
  botwatch::MetricDef def;
  def.name = "active_users";
  def.type = botwatch::MetricType::kDistinct;
  def.windows = {{"30m", 1800}, {"24h", 86400}};
  botwatch::MetricStore before({def}, {"bot"});
  const double t0 = 1795341600;
  {
    botwatch::MetricStore::Update update(before);
    size_t s = update.Series(0, {});
    for (int i = 0; i < 20000; ++i) update.AddDistinct(0, s, Hash64("u" + std::to_string(i)), t0 - (i % 2) * 7200);
  }
  nlohmann::json state = before.Save();
  std::string text = state.dump();
  CHECK(text.find("\"dense\"") != std::string::npos);  // the 24h slices hold 10000 users each
  CHECK(text.size() < 13 * 2 * 4200 + 4096);           // about one byte per register at most
  botwatch::MetricStore after({def}, {"bot"});
  after.Restore(state);
  auto value = [](const botwatch::Families& fams, const std::string& window) {
    for (const auto& f : fams) {
      if (f.name != "active_users") continue;
      for (const auto& m : f.metric) {
        if (m.label.back().value == window) return m.gauge.value;
      }
    }
    return -1.0;
  };
  auto a = before.Expose(t0), b = after.Expose(t0);
  CHECK(value(a, "30m") == value(b, "30m"));
  CHECK(value(a, "24h") == value(b, "24h"));
  CHECK(std::abs(value(b, "30m") - 10000) <= 10000 * 3 * 0.0163);
  CHECK(std::abs(value(b, "24h") - 20000) <= 20000 * 3 * 0.0163);
}
