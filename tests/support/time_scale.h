#pragma once

// One factor for every wall-clock bound in the tests. A sanitizer build runs
// the same code 2-5 times slower (and a 2-core machine running `ctest -j2`
// beside it slower again), so a bound that states a deadline claim is written
// as the claim plus a margin, and the margin is multiplied by this.
// Percentile figures are not bounds: they belong to `make reliability`/bench/.

#include <chrono>

namespace botwatch::testing {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(BOTWATCH_SANITIZE)
inline constexpr int kTimeBoundScale = 4;
#else
inline constexpr int kTimeBoundScale = 1;
#endif

// `claim` (what the code promises) plus `margin` (for a loaded machine), the
// margin scaled for slow builds.
template <typename Rep, typename Period, typename Rep2, typename Period2>
constexpr std::chrono::milliseconds TimeBound(std::chrono::duration<Rep, Period> claim,
                                              std::chrono::duration<Rep2, Period2> margin) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(claim) +
         std::chrono::duration_cast<std::chrono::milliseconds>(margin) * kTimeBoundScale;
}

}  // namespace botwatch::testing
