#pragma once

// Resource figures of a running process from /proc, for reliability tests
// that bound memory and file descriptors of the real binary.

#include <sys/types.h>

#include <string>
#include <vector>

namespace botwatch::testing {

// ASan's redzones, shadow memory and quarantine inflate RSS: memory bounds
// there only catch gross growth and are scaled by this factor. Start the
// measured botwatch with MemoryBoundEnv() so the quarantine (256 MiB by
// default) does not count churn as growth.
#if defined(__SANITIZE_ADDRESS__)
// Measured beside a make test on 2 cores: the cardinality test grows 100-118 MB
// under ASan (even with MemoryBoundEnv) for under 8 MB in the normal build.
inline constexpr long kRssBoundScale = 24;
#else
inline constexpr long kRssBoundScale = 1;
#endif

// The environment for a botwatch whose memory a test bounds: under ASan, a
// small quarantine (ASAN_OPTIONS kept otherwise), so RSS follows what botwatch
// keeps rather than the 256 MiB of freed blocks ASan holds back; empty otherwise.
std::vector<std::string> MemoryBoundEnv();

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
