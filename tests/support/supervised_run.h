#pragma once

// `botwatch run [flags] -- /bin/sh -c SCRIPT` as a child of the test, with its
// stdout and stderr in separate files (so pass-through can be compared byte
// for byte) and stdin from /dev/null. Killed and reaped when destroyed.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace botwatch::testing {

class SupervisedRun {
 public:
  // Output goes to `out_dir`/stdout and `out_dir`/stderr. `prefix` runs
  // botwatch through another command (e.g. unshare).
  SupervisedRun(const std::string& out_dir, const std::string& config, const std::string& script,
                std::vector<std::string> flags = {}, std::vector<std::string> prefix = {});
  ~SupervisedRun();
  SupervisedRun(const SupervisedRun&) = delete;
  SupervisedRun& operator=(const SupervisedRun&) = delete;

  std::string Stdout() const;
  std::string Stderr() const;
  void Signal(int sig) const;
  pid_t pid() const { return pid_; }
  // Exit status (exit code, or 128+signal) if botwatch exits within `timeout`.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);
  bool WaitStdout(const std::string& what, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The port from botwatch's start-up line; 0 before it is logged.
  int Port() const;
  // http://127.0.0.1:PORT + path; "" before the start-up line.
  std::string Url(const std::string& path) const;

 private:
  std::string out_, err_;
  pid_t pid_ = -1;
  bool reaped_ = false;
};

}  // namespace botwatch::testing
