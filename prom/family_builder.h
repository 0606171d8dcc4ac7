#pragma once

// Families built sample by sample, as collectors and botwatch's own metrics
// produce them.

#include "prom/family.h"

#include <string>
#include <utility>
#include <vector>

namespace botwatch {

// Appends samples to families by name, keeping one family per name.
class FamilyBuilder {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  void Gauge(const std::string& name, const std::string& help, double value, const Labels& labels = {});
  void Counter(const std::string& name, const std::string& help, double value, const Labels& labels = {});
  std::vector<Family> Take() { return std::move(families_); }

 private:
  Family& FamilyNamed(const std::string& name, const std::string& help, prometheus::MetricType type);
  std::vector<Family> families_;
};

}  // namespace botwatch
