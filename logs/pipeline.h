#pragma once

// The log pipeline: sources -> line splitter -> parser -> rule engine -> metric
// store. One thread polls the file sources; other sources (a child's stdout,
// HTTP intake) call Ingest() from their own threads. Counts and file positions
// are saved together, atomically, so a restart (even kill -9) resumes exactly
// where the saved counts end: nothing is lost and nothing is counted twice.

#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/state_file.h"
#include "base/status.h"
#include "logs/current_pipeline.h"
#include "logs/file_tailer.h"
#include "logs/file_waker.h"
#include "logs/http_intake.h"
#include "logs/log_config.h"
#include "logs/metric_store.h"
#include "logs/parser.h"
#include "logs/rule_engine.h"

namespace botwatch {

// Receives the events that a rule set's feed rules match. Called on the thread
// that delivered the line, after the store is unlocked (scrapes never wait on
// it) but while the source holds its next line back: it must be quick and
// never block.
using FeedSink = std::function<void(const RuleSet& rules, const FeedRule& rule, const Event& event, double event_time)>;

// Parse + rules + self metrics of one source: the LineSink every kind of source ingests into.
class SourceInput : public LineSink {
 public:
  SourceInput(const LogSourceConfig& config, size_t index, MetricStore& store, const FeedSink* feed = nullptr);
  void Line(std::string_view line) override;
  void TooLong() override;
  // One-shot mode reads it after the lines are in (no line in flight).
  double latest_event_time() const { return latest_event_time_; }
  // Duration rules' open starts: saved with the counts, expired on the event
  // clock (RuleEngine::Tick) by the polling thread.
  bool has_pending_rules() const { return engine_.has_pending_rules(); }
  nlohmann::json SavePending();
  void RestorePending(const nlohmann::json& saved, double wall_now);
  void Tick(double wall_now);

 private:
  std::mutex mu_;  // one line at a time through parser_, event_, engine_ and the feed
  std::shared_ptr<const RuleSet> rules_;
  size_t index_;
  MetricStore& store_;
  std::unique_ptr<Parser> parser_;
  RuleEngine engine_;
  const FeedSink* feed_;
  std::vector<signed char> feed_memo_;
  Event event_;
  double latest_event_time_ = 0;
};

class LogPipeline {
 public:
  // `feed`, when given, receives feed events (see FeedSink).
  explicit LogPipeline(std::shared_ptr<const LogsConfig> config, FeedSink feed = nullptr);
  ~LogPipeline();
  LogPipeline(const LogPipeline&) = delete;
  LogPipeline& operator=(const LogPipeline&) = delete;

  // Restores counts and positions from `previous` (a reload hands over the old
  // pipeline's state) or else from the state file, then starts following.
  void Start(const nlohmann::json* previous);
  // Stops following, writes the state file, and returns the state.
  nlohmann::json Stop();

  // One-shot mode: reads every matching file from its beginning to its end,
  // including an unterminated last line. Distinct windows then end at the
  // latest event time seen rather than the wall clock.
  void RunOnce();

  // A line from a source that is not a file (stdout of a child, HTTP intake).
  Status Ingest(std::string_view source, std::string_view line);
  // The sink of a source by name (nullptr if there is none), for sources that
  // deliver many lines; valid as long as this pipeline. Thread-safe.
  LineSink* Sink(std::string_view source);
  // The HTTP intake state of a `type: http` source (nullptr for other types).
  HttpIntake* Intake(std::string_view source);
  const LogsConfig& config() const { return *config_; }

  Families Expose() const;
  const MetricStore& store() const { return *store_; }
  // Before Start(): keep a per-minute history of one counter series (MetricStore::TrackHistory).
  void TrackHistory(const std::string& metric, const std::vector<std::string>& labels) {
    store_->TrackHistory(metric, labels);
  }
  std::string state_file() const;

 private:
  struct Source {
    const LogSourceConfig* config;
    std::unique_ptr<SourceInput> input;
    std::unique_ptr<FileTailer> tailer;  // type: file only
    std::unique_ptr<HttpIntake> intake;  // type: http only
  };
  // Saved file positions per source, and whether a source had any saved.
  struct SavedPositions {
    explicit SavedPositions(size_t sources) : files(sources), known(sources, false) {}
    std::vector<std::vector<FilePosition>> files;
    std::vector<bool> known;
  };
  // Start's steps, in order.
  void CheckStateDir(const nlohmann::json* previous) const;
  SavedPositions RestoreState(const nlohmann::json& state, bool positions_trusted);
  void RestoreCounts(const nlohmann::json& state);
  SavedPositions ReadPositions(const nlohmann::json& state) const;
  void StartTailers(SavedPositions positions, bool positions_trusted);
  void Loop();
  void PollAll();
  nlohmann::json State() const;
  void WriteState(const nlohmann::json& state) const;

  std::shared_ptr<const LogsConfig> config_;
  FeedSink feed_;
  std::unique_ptr<MetricStore> store_;
  std::vector<Source> sources_;
  bool one_shot_ = false;
  double one_shot_now_ = 0;

  // Only the polling thread (or Stop) writes the state file.
  mutable StateWriteHealth state_health_{"logs-state.json"};

  std::mutex mu_;
  std::unique_ptr<FileWaker> waker_;  // inotify on the globs' directories; the poll interval as fallback
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace botwatch
