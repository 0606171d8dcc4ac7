// FreezeWatch: a stopped process is frozen at once; one in D state only once it
// has stayed there longer than the probe's patience, counted per process
// identity (a new process with the same pid starts over).

#include <catch2/catch.hpp>

#include "collectors/lib/process_metrics.h"

using botwatch::FreezeWatch;
using botwatch::ProcessSample;
using namespace std::chrono_literals;

namespace {
ProcessSample Sample(char state, uint64_t start_ticks = 100) {
  ProcessSample s;
  s.pid = 42;
  s.starttime_ticks = start_ticks;
  s.state = state;
  return s;
}
}  // namespace

TEST_CASE("FreezeWatch: state T is frozen at once, and running again clears it") {
  FreezeWatch w;
  auto t0 = FreezeWatch::Clock::time_point{} + 1h;
  CHECK(w.Check(Sample('S'), 2s, t0) == "");
  CHECK(w.Check(Sample('T'), 2s, t0) == "process 42 is stopped (state T: SIGSTOP or a debugger); it runs no code");
  CHECK(w.Check(Sample('t'), 2s, t0).find("state t") != std::string::npos);
  CHECK(w.Check(Sample('R'), 2s, t0) == "");
}

TEST_CASE("FreezeWatch: state D is frozen only past the patience, per process identity") {
  FreezeWatch w;
  auto t0 = FreezeWatch::Clock::time_point{} + 1h;
  CHECK(w.Check(Sample('D'), 2s, t0) == "");
  CHECK(w.Check(Sample('D'), 2s, t0 + 1999ms) == "");
  CHECK(w.Check(Sample('D'), 2s, t0 + 2s) ==
        "process 42 has been in uninterruptible sleep (state D) for over 2s (stuck in I/O)");
  // Leaving D (even briefly) restarts the count.
  CHECK(w.Check(Sample('S'), 2s, t0 + 3s) == "");
  CHECK(w.Check(Sample('D'), 2s, t0 + 4s) == "");
  CHECK(w.Check(Sample('D'), 2s, t0 + 5s) == "");
  // The same pid as a new process (other start time) is not charged the old D time.
  CHECK(w.Check(Sample('D', 200), 2s, t0 + 7s) == "");
  CHECK(w.Check(Sample('D', 200), 2s, t0 + 9s) != "");
}
