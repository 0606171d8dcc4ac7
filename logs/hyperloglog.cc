#include "logs/hyperloglog.h"

#include <algorithm>
#include <cmath>

namespace botwatch {

uint64_t Hash64(std::string_view s) {
  // FNV-1a, then a splitmix64 finaliser so every output bit depends on every input bit.
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

void HyperLogLog::Add(uint64_t hash) {
  size_t index = hash >> (64 - kPrecision);
  uint64_t rest = (hash << kPrecision) | (uint64_t{1} << (kPrecision - 1));  // guard bit bounds the rank
  uint8_t rank = static_cast<uint8_t>(__builtin_clzll(rest) + 1);
  if (rank > registers_[index]) registers_[index] = rank;
}

void HyperLogLog::Merge(const HyperLogLog& other) {
  for (size_t i = 0; i < kRegisters; ++i) registers_[i] = std::max(registers_[i], other.registers_[i]);
}

bool HyperLogLog::empty() const {
  return std::all_of(registers_.begin(), registers_.end(), [](uint8_t r) { return r == 0; });
}

double HyperLogLog::Estimate() const {
  const double m = static_cast<double>(kRegisters);
  double sum = 0;
  size_t zeros = 0;
  for (uint8_t r : registers_) {
    sum += std::ldexp(1.0, -r);
    if (r == 0) ++zeros;
  }
  const double alpha = 0.7213 / (1 + 1.079 / m);
  double estimate = alpha * m * m / sum;
  if (estimate <= 2.5 * m && zeros > 0) estimate = m * std::log(m / static_cast<double>(zeros));
  return estimate;
}

SlidingDistinct::SlidingDistinct(const std::vector<double>& windows_seconds) {
  for (double w : windows_seconds) windows_.push_back(Window{w, std::max(1.0, w / kSlices), {}});
}

void SlidingDistinct::Add(uint64_t hash, double unix_time) {
  for (Window& w : windows_) {
    int64_t index = static_cast<int64_t>(std::floor(unix_time / w.slice_seconds));
    auto& slices = w.slices;
    if (!slices.empty() && index <= slices.back().index - kSlices) continue;  // older than the window
    auto it =
        std::lower_bound(slices.begin(), slices.end(), index, [](const Slice& s, int64_t i) { return s.index < i; });
    if (it == slices.end() || it->index != index) it = slices.insert(it, Slice{index, HyperLogLog()});
    it->sketch.Add(hash);
    while (slices.front().index <= slices.back().index - kSlices - 1) slices.pop_front();
  }
}

std::vector<double> SlidingDistinct::Estimates(double now) const {
  std::vector<double> out;
  for (const Window& w : windows_) {
    int64_t now_index = static_cast<int64_t>(std::floor(now / w.slice_seconds));
    int64_t first = now_index - kSlices;
    HyperLogLog merged;
    bool any = false;
    for (const Slice& s : w.slices) {
      if (s.index >= first && s.index <= now_index) {
        merged.Merge(s.sketch);
        any = true;
      }
    }
    out.push_back(any ? std::round(merged.Estimate()) : 0);
  }
  return out;
}

}  // namespace botwatch
