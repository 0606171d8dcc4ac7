#include "tests/support/proc_stats.h"

#include <filesystem>
#include <fstream>
#include <string>

namespace botwatch::testing {
namespace {

long StatusField(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

}  // namespace

long RssKiB(pid_t pid) { return StatusField(pid, "VmRSS"); }
long PeakRssKiB(pid_t pid) { return StatusField(pid, "VmHWM"); }

int OpenFds(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return ec ? -1 : n;
}

}  // namespace botwatch::testing
