#pragma once

// Where log-derived metrics live between events and scrapes. Rules update it
// through pre-resolved metric ids and series indexes (no name lookups per
// line); Expose() turns it into exposition families. Label sets per metric
// are bounded: past `max_series`, new label values fold into "__overflow__"
// and botwatch_log_series_dropped_total{metric} counts them.
//
// Thread safety: the lock is the store's own. Updates go through an Update,
// which holds it for its lifetime (the pipeline opens one per line); Expose(),
// the readers and the state functions take it themselves.

#include <nlohmann/json.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "logs/hyperloglog.h"
#include "prom/family.h"

namespace botwatch {

using Families = std::vector<Family>;

enum class MetricType { kCounter, kGauge, kHistogram, kDistinct };

// Each type by the name a rule's `type:` gives it, so reading and writing the
// names share one list.
struct MetricTypeSpelling {
  MetricType type;
  const char* name;
};
inline constexpr MetricTypeSpelling kMetricTypeNames[] = {{MetricType::kCounter, "counter"},
                                                          {MetricType::kGauge, "gauge"},
                                                          {MetricType::kHistogram, "histogram"},
                                                          {MetricType::kDistinct, "distinct"}};
const char* MetricTypeName(MetricType t);

inline constexpr const char* kOverflowValue = "__overflow__";

struct MetricDef {
  std::string name;
  std::string help;
  MetricType type = MetricType::kCounter;
  std::vector<std::string> label_names;
  std::vector<double> buckets;                          // histogram: upper bounds, ascending
  std::vector<std::pair<std::string, double>> windows;  // distinct: ("30m", 1800)
  size_t max_series = 100;
  // Same signature = same meaning: counts survive reloads and restarts.
  std::string Signature() const;
};

// Per-source self metrics.
struct SourceStats {
  double lines = 0, bytes = 0, parse_errors = 0, unmatched = 0, rotations = 0;
  double files_watched = 0, lag_bytes = 0;
};

class MetricStore {
 public:
  MetricStore(std::vector<MetricDef> defs, std::vector<std::string> sources);
  MetricStore(const MetricStore&) = delete;
  MetricStore& operator=(const MetricStore&) = delete;

  int FindMetric(const std::string& name) const;
  const MetricDef& def(int metric) const { return metrics_[static_cast<size_t>(metric)].def; }
  int FindSource(const std::string& name) const;

  // The one way to change counts: holds the store's lock from construction to
  // destruction, so a line's updates are seen together. Keep it short and
  // never call out (callbacks, I/O) while one is open: scrapes wait on it.
  class Update {
   public:
    explicit Update(MetricStore& store) : store_(store), lock_(store.mu_) {}
    Update(const Update&) = delete;
    Update& operator=(const Update&) = delete;

    // The series for these label values (in def().label_names order), created on
    // first use or folded into the overflow series past the bound.
    size_t Series(int metric, const std::vector<std::string_view>& values) { return store_.Series(metric, values); }
    void Add(int metric, size_t series, double delta) { store_.Add(metric, series, delta); }
    void Set(int metric, size_t series, double value) { store_.Set(metric, series, value); }
    void Observe(int metric, size_t series, double value) { store_.Observe(metric, series, value); }
    void AddDistinct(int metric, size_t series, uint64_t hash, double unix_time) {
      store_.AddDistinct(metric, series, hash, unix_time);
    }
    SourceStats& source(size_t i) { return store_.sources_[i].stats; }
    bool HasHistory(int metric) const { return store_.HasHistory(metric); }
    // Records `delta` at `event_time` if `series` is the tracked one.
    void NoteHistory(int metric, size_t series, double event_time, double delta) {
      store_.NoteHistory(metric, series, event_time, delta);
    }

   private:
    MetricStore& store_;
    std::lock_guard<std::mutex> lock_;
  };

  // Exposition of every metric, distinct windows ending at `now` (Unix seconds),
  // plus the botwatch_log_* self metrics.
  Families Expose(double now) const;

  // Counts as JSON (for the state file and reloads), and back. Restore keeps
  // only metrics and sources whose signature/name still exists.
  nlohmann::json Save() const;
  void Restore(const nlohmann::json& state);
  // ---- read side of /api/v1/summary and the status page (each takes the mutex) ----
  // A counter/gauge series' value: NaN if the metric does not exist, 0 if the series does not yet.
  double Value(const std::string& metric, const std::vector<std::string>& labels) const;
  // Sum and count of a histogram over all its series; false if there is no such histogram.
  bool HistogramTotals(const std::string& metric, double* sum, double* count) const;
  // A distinct metric's estimate for `window` ("24h") at `now`, summed over series; NaN if absent.
  double DistinctEstimate(const std::string& metric, const std::string& window, double now) const;

  // Per-minute history, by event time, of one counter series over the last
  // kHistoryMinutes (the summary's last hour / 24 h and the status page chart).
  // Register before lines flow; costs 1440 doubles per tracked series.
  static constexpr int kHistoryMinutes = 1440;
  void TrackHistory(const std::string& metric, const std::vector<std::string>& labels);
  // Counts per minute, oldest first, the last one being the minute of `now`; empty if not tracked.
  std::vector<double> History(const std::string& metric, double now) const;

  // Test helper: the value of a counter/gauge series, NaN if absent.
  double ValueForTesting(const std::string& metric, const std::vector<std::string>& labels) const;

 private:
  struct SeriesData {
    std::vector<std::string> labels;
    double value = 0;
    std::vector<uint64_t> bucket_counts;  // histogram: per bucket, last is +Inf
    double sum = 0;
    uint64_t count = 0;
    std::unique_ptr<SlidingDistinct> distinct;
  };
  struct MinuteHistory {
    std::vector<std::string> labels;
    size_t series = SIZE_MAX;  // resolved on first match
    std::vector<double> counts = std::vector<double>(kHistoryMinutes, 0);
    std::vector<int64_t> minute = std::vector<int64_t>(kHistoryMinutes, -1);  // which minute each slot holds
  };
  static nlohmann::json SaveHistory(const MinuteHistory& h);
  static void RestoreHistory(const nlohmann::json& saved, MinuteHistory& h);
  struct Metric {
    MetricDef def;
    std::unique_ptr<MinuteHistory> history;
    std::vector<SeriesData> series;
    std::unordered_map<std::string, size_t> index;  // joined label values -> series
    size_t overflow = SIZE_MAX;
    double dropped = 0;
  };
  struct Source {
    std::string name;
    SourceStats stats;
  };
  size_t NewSeries(Metric& m, std::vector<std::string> labels);
  // Collect's families, with mu_ held: one rule's metric, the per-source self
  // metrics, and the series each metric dropped past its bound.
  static Family RuleFamily(const Metric& m, double now);
  void AppendSourceFamilies(Families& out) const;
  Family DroppedFamily() const;
  // With mu_ held: the series with these label values, nullptr if there is none yet.
  const SeriesData* FindSeries(int metric, const std::vector<std::string>& labels) const;
  // The updates behind Update, with mu_ held.
  size_t Series(int metric, const std::vector<std::string_view>& values);
  void Add(int metric, size_t series, double delta);
  void Set(int metric, size_t series, double value);
  void Observe(int metric, size_t series, double value);
  void AddDistinct(int metric, size_t series, uint64_t hash, double unix_time);
  bool HasHistory(int metric) const { return metrics_[static_cast<size_t>(metric)].history != nullptr; }
  void NoteHistory(int metric, size_t series, double event_time, double delta);

  mutable std::mutex mu_;
  std::vector<Metric> metrics_;
  std::vector<Source> sources_;
  std::string key_;  // reused lookup key
};

}  // namespace botwatch
