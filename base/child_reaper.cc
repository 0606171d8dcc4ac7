#include "base/child_reaper.h"

#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace botwatch::child_reaper {
namespace {

std::shared_mutex& SpawnMutex() {
  static std::shared_mutex mu;
  return mu;
}

std::mutex claimed_mu;
std::set<pid_t>& Claimed() {
  static std::set<pid_t> claimed;
  return claimed;
}

std::vector<pid_t> NumericEntries(const std::string& dir) {
  std::vector<pid_t> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long v = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == '\0' && v > 0) out.push_back(static_cast<pid_t>(v));
  }
  ::closedir(d);
  return out;
}

// This process's children: /proc/self/task/*/children lists each thread's
// (orphans are adopted by one of them); without that file, every process's
// parent pid from /proc/*/stat.
std::vector<pid_t> Children() {
  std::vector<pid_t> out;
  bool listed = false;
  for (pid_t tid : NumericEntries("/proc/self/task")) {
    std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/children");
    if (!in) continue;
    listed = true;
    pid_t pid;
    while (in >> pid) out.push_back(pid);
  }
  if (listed) return out;
  const pid_t self = ::getpid();
  for (pid_t pid : NumericEntries("/proc")) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    char state = 0;
    long ppid = 0;
    if (std::sscanf(stat.c_str() + paren + 1, " %c %ld", &state, &ppid) == 2 && ppid == self) out.push_back(pid);
  }
  return out;
}

}  // namespace

SpawnGuard::SpawnGuard() : lock_(SpawnMutex()) {}

void SpawnGuard::Claim(pid_t pid) {
  if (pid <= 0) return;
  std::lock_guard<std::mutex> lock(claimed_mu);
  Claimed().insert(pid);
}

void Release(pid_t pid) {
  std::lock_guard<std::mutex> lock(claimed_mu);
  Claimed().erase(pid);
}

int ReapUnclaimed() {
  // No fork is between its start and its claim while this runs.
  std::unique_lock<std::shared_mutex> spawning(SpawnMutex());
  // Most calls find nothing: one peek at whether any child has exited at all
  // (without reaping it) spares the listing.
  siginfo_t info{};
  if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return 0;
  int reaped = 0;
  for (pid_t pid : Children()) {
    {
      std::lock_guard<std::mutex> lock(claimed_mu);
      if (Claimed().count(pid) != 0) continue;
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) ++reaped;
  }
  return reaped;
}

bool BecomeSubreaper() { return ::prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) == 0; }

bool InheritsOrphans() {
  if (::getpid() == 1) return true;
  int on = 0;
  return ::prctl(PR_GET_CHILD_SUBREAPER, &on, 0L, 0L, 0L) == 0 && on != 0;
}

}  // namespace botwatch::child_reaper
