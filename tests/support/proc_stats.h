#pragma once

// Resource figures of a running process from /proc, for reliability tests
// that bound memory and file descriptors of the real binary.

#include <sys/types.h>

namespace botwatch::testing {

// ASan's quarantine keeps freed memory resident (up to 256 MiB), so under it
// RSS tracks churn, not what is kept: memory bounds there only catch gross
// growth and are scaled by this factor.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr long kRssBoundScale = 12;
#else
inline constexpr long kRssBoundScale = 1;
#endif

// Resident set size in KiB (VmRSS), or -1 if the process is gone.
long RssKiB(pid_t pid);
// Peak resident set size in KiB (VmHWM), or -1.
long PeakRssKiB(pid_t pid);
// Open file descriptors, or -1.
int OpenFds(pid_t pid);
// CPU time (user + system) the process has used, in seconds; -1 if gone.
// For claims about work done, which a loaded machine does not inflate the
// way it inflates wall-clock time.
double CpuSeconds(pid_t pid);

}  // namespace botwatch::testing
