#pragma once

// Approximate distinct counting in bounded memory. HyperLogLog (Flajolet et
// al.) with 2^12 one-byte registers: 4 KiB per sketch, standard error
// 1.04/sqrt(4096) = 1.6 %, exact-ish (linear counting) for small sets.
// SlidingDistinct keeps one sketch per time slice and answers "distinct values
// over the last W" by merging the slices that cover W, so memory is bounded by
// the number of slices, never by the number of users.

#include <array>
#include <cstdint>
#include <deque>
#include <string_view>
#include <vector>

namespace botwatch {

uint64_t Hash64(std::string_view s);

class HyperLogLog {
 public:
  static constexpr int kPrecision = 12;
  static constexpr size_t kRegisters = size_t{1} << kPrecision;

  void Add(uint64_t hash);
  void Merge(const HyperLogLog& other);
  double Estimate() const;
  bool empty() const;
  const std::array<uint8_t, kRegisters>& registers() const { return registers_; }
  std::array<uint8_t, kRegisters>& mutable_registers() { return registers_; }

 private:
  std::array<uint8_t, kRegisters> registers_{};
};

class SlidingDistinct {
 public:
  // `windows_seconds` e.g. {1800, 86400, 604800}. Each window keeps its own
  // ring of slices of 1/12 of its length (13 sketches, 52 KiB), so a window
  // covers between W and W + W/12 of history; memory does not depend on traffic.
  explicit SlidingDistinct(const std::vector<double>& windows_seconds);

  void Add(uint64_t hash, double unix_time);
  // Distinct values in each window ending at `now`, in the order given.
  std::vector<double> Estimates(double now) const;

  struct Slice {
    int64_t index;  // floor(time / slice_seconds)
    HyperLogLog sketch;
  };
  struct Window {
    double seconds;
    double slice_seconds;
    std::deque<Slice> slices;  // ascending index, at most kSlices + 1
  };
  static constexpr int kSlices = 12;
  const std::vector<Window>& windows() const { return windows_; }
  std::vector<Window>& mutable_windows() { return windows_; }

 private:
  std::vector<Window> windows_;
};

}  // namespace botwatch
