#pragma once

// The Prometheus text exposition format (version 0.0.4), written: what /metrics
// serves.

#include "prom/family.h"

#include <string>
#include <vector>

namespace botwatch {

// HELP (when there is one), TYPE, then the samples of each family, in order.
// Values are written so they read back bit for bit; le and quantile as the
// producer spelled them (Family::Metric::point_spellings).
std::string SerializeFamilies(const std::vector<Family>& families);

// The text botwatch writes for every value (samples, le, quantile): the
// shortest form that reads back as the same double, "+Inf", "-Inf", "NaN".
void AppendValue(std::string& out, double v);
std::string FormatPointValue(double v);

}  // namespace botwatch
