#pragma once

// Reaping for botwatch as PID 1 (a container without an init) or as the child
// subreaper of `botwatch run`: orphaned descendants (a bot's `setsid` workers,
// an exec check's detached leftovers) are re-parented to botwatch, and when
// they exit they stay zombies until botwatch waits for them.
//
// The processes botwatch starts itself (the supervised child, each exec check)
// are waited for by their owners, which need their exit status. So a child is
// claimed from before its fork until after its owner reaped it (SpawnGuard,
// then Release), and the reaper waits only for children nobody claimed: a
// blanket waitpid(-1) would steal the owners' statuses.

#include <sys/types.h>

#include <shared_mutex>

namespace botwatch::child_reaper {

// Hold one across the fork that starts a child and Claim() its pid before it
// goes out of scope: ReapUnclaimed never runs in between.
class SpawnGuard {
 public:
  SpawnGuard();
  void Claim(pid_t pid);

 private:
  std::shared_lock<std::shared_mutex> lock_;  // held for the guard's life; never copied
};

// The owner has reaped `pid` (or gave it up): it is no longer claimed.
void Release(pid_t pid);

// Waits (without blocking) for every exited child of this process that is not
// claimed. Returns how many were reaped.
int ReapUnclaimed();

// PR_SET_CHILD_SUBREAPER: orphans below botwatch come to it, not to init.
bool BecomeSubreaper();

// Whether orphans may come to this process: it is PID 1 or a subreaper.
bool InheritsOrphans();

}  // namespace botwatch::child_reaper
