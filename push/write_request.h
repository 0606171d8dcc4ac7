#pragma once

// Prometheus remote write 1.0 payloads: the families /metrics shows, flattened
// into one WriteRequest (one sample per series, all at one timestamp), and
// snappy block compression.
//
// The four messages (WriteRequest, TimeSeries, Label, Sample) are encoded by
// hand rather than with libprotobuf: they are write-only, flat and tiny, so the
// encoder is ~60 lines, while libprotobuf would add a 3 MB shared library
// (libprotobuf.so.32), generated code and its descriptor pool to every
// botwatch process for no gain.

#include "prom/family.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace botwatch {

using LabelPairs = std::vector<std::pair<std::string, std::string>>;

// Encodes every sample of `families` as one WriteRequest at `timestamp_ms`.
// `external` labels are added to each series that lacks a label of that name
// (as Prometheus does); labels are sorted by name, as the spec requires.
// Histograms and summaries become their _bucket/_sum/_count (quantile) series.
// `samples`, when given, receives the number of samples encoded.
// Two encoded WriteRequests concatenated are one valid WriteRequest holding
// both sets of series (repeated fields append), which the queue relies on.
std::string EncodeWriteRequest(const std::vector<Family>& families, const LabelPairs& external, int64_t timestamp_ms,
                               uint64_t* samples = nullptr);

std::string SnappyCompress(const std::string& raw);
// false when `compressed` is not a valid snappy block.
bool SnappyUncompress(const std::string& compressed, std::string* raw);

}  // namespace botwatch
