#pragma once

// Resource figures of a running process from /proc, for reliability tests
// that bound memory and file descriptors of the real binary.

#include <sys/types.h>

namespace botwatch::testing {

// Resident set size in KiB (VmRSS), or -1 if the process is gone.
long RssKiB(pid_t pid);
// Peak resident set size in KiB (VmHWM), or -1.
long PeakRssKiB(pid_t pid);
// Open file descriptors, or -1.
int OpenFds(pid_t pid);

}  // namespace botwatch::testing
