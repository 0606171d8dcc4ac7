#include "tests/support/proc_tree.h"

#include <filesystem>
#include <sstream>

#include "tests/support/botwatch_process.h"
#include "tests/support/temp_dir.h"

namespace botwatch::testing {

std::vector<ProcEntry> ChildrenOf(pid_t parent) {
  std::vector<ProcEntry> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = ReadWholeFile(entry.path().string() + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state = 0;
    pid_t ppid = 0, pgrp = 0, session = 0;
    rest >> state >> ppid >> pgrp >> session;
    if (ppid == parent) out.push_back({std::stoi(name), state, session});
  }
  return out;
}

pid_t WaitForChild(pid_t parent, std::chrono::milliseconds timeout) {
  pid_t child = 0;
  Eventually(
      [&] {
        for (const ProcEntry& e : ChildrenOf(parent)) child = e.pid;
        return child != 0;
      },
      timeout);
  return child;
}

size_t Zombies(pid_t parent) {
  size_t n = 0;
  for (const ProcEntry& e : ChildrenOf(parent)) n += e.state == 'Z';
  return n;
}

bool Exited(pid_t pid) {
  std::string stat = ReadWholeFile("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  return close == std::string::npos || stat.substr(close + 2, 1) == "Z";
}

std::vector<pid_t> Pids(const std::string& file) {
  std::vector<pid_t> out;
  std::istringstream in(ReadWholeFile(file));
  for (pid_t p; in >> p;) out.push_back(p);
  return out;
}

}  // namespace botwatch::testing
