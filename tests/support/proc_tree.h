#pragma once

// Processes as /proc shows them, for tests about who reaps whom: children and
// their states, zombies, and pids a test's child wrote down.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace botwatch::testing {

struct ProcEntry {
  pid_t pid;
  char state;  // 'Z' for a zombie
  pid_t session;
};

// Children of `parent`, from /proc/*/stat.
std::vector<ProcEntry> ChildrenOf(pid_t parent);

// A child of `parent` once it has one (the last /proc lists), waiting up to
// `timeout`: botwatch under `unshare --fork`. 0 if none came.
pid_t WaitForChild(pid_t parent, std::chrono::milliseconds timeout);

// How many children of `parent` are zombies.
size_t Zombies(pid_t parent);

// True once `pid` has exited (gone, or a zombie waiting for its parent).
bool Exited(pid_t pid);

// The pids written to `file`, whitespace-separated.
std::vector<pid_t> Pids(const std::string& file);

}  // namespace botwatch::testing
