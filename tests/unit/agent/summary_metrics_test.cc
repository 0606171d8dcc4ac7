// The summary reads log-derived metrics by the names the shipped preset gives
// them: a rename on either side must fail here, not turn the summary's
// numbers into null in production.

#include <catch2/catch.hpp>

#include <algorithm>

#include "agent/config.h"
#include "agent/summary_metrics.h"
#include "logs/log_config.h"
#include "tests/support/temp_dir.h"

namespace names = botwatch::summary_metrics;
using botwatch::MetricDef;
using botwatch::MetricType;

namespace {

std::shared_ptr<const botwatch::Config> LoadPreset(botwatch::testing::TempDir& dir) {
  std::string path = dir.Write("botwatch.yaml", "logs:\n  - {name: bot, path: '" + dir.path() + "/*.log', rules: " +
                                                    BOTWATCH_SOURCE_DIR "/config/presets/messenger-bot.yaml}\n");
  auto config = botwatch::LoadConfigFile(path);
  INFO(config.status().message());
  REQUIRE(config.ok());
  return config.value();
}

const MetricDef* Find(const botwatch::Config& config, const std::string& name) {
  for (const MetricDef& m : config.logs->metrics) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("the shipped preset defines every log metric the summary reads") {
  botwatch::testing::TempDir dir;
  auto config = LoadPreset(dir);

  const MetricDef* messages = Find(*config, names::kMessages);
  INFO(names::kMessages);
  REQUIRE(messages != nullptr);
  CHECK(messages->type == MetricType::kCounter);
  REQUIRE(messages->label_names == std::vector<std::string>{names::kMessagesDirectionLabel});
  // Some rule counts into the series the summary reads ({direction="inbound"}).
  const auto& rules = config->logs->sources.at(0).rules->rules;
  bool inbound = std::any_of(rules.begin(), rules.end(), [](const botwatch::Rule& r) {
    return r.metric == names::kMessages && r.labels.size() == 1 && r.labels[0].field < 0 &&
           std::vector<std::string>{r.labels[0].constant} == names::kInboundLabels;
  });
  CHECK(inbound);

  const MetricDef* response = Find(*config, names::kResponseTime);
  INFO(names::kResponseTime);
  REQUIRE(response != nullptr);
  CHECK(response->type == MetricType::kHistogram);

  const MetricDef* users = Find(*config, names::kActiveUsers);
  INFO(names::kActiveUsers);
  REQUIRE(users != nullptr);
  CHECK(users->type == MetricType::kDistinct);
  for (const char* window : {names::kUsersTotalWindow, names::kUsersTodayWindow, names::kUsersWeekWindow}) {
    INFO(window);
    CHECK(std::any_of(users->windows.begin(), users->windows.end(), [&](const auto& w) { return w.first == window; }));
  }
}
