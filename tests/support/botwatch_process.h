#pragma once

// Runs the real botwatch binary for integration tests: stderr goes to a file,
// the port comes from its "botwatch started" log line (it listens on port 0).

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace botwatch::testing {

class ChildProcess {
 public:
  // Starts `argv` with stdout and stderr appended to `log_path`. `extra_env`
  // ("NAME=value") replaces any inherited variable of that name.
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path,
               const std::vector<std::string>& extra_env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig) const;
  // Exit status (exit code, or 128+signal) if it exits within `timeout`.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  bool reaped_ = false;
};

class Botwatch {
 public:
  // `extra_env` ("NAME=value") replaces any inherited variable of that name.
  explicit Botwatch(const std::string& config_path, const std::string& work_dir,
                    std::vector<std::string> extra_args = {}, std::vector<std::string> extra_env = {});

  // Waits for the start-up line; false if botwatch exited or did not start in time.
  bool WaitStarted(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Waits until /-/ready answers 200.
  bool WaitReady(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::string Url(const std::string& path) const;
  int port() const { return port_; }
  ChildProcess& process() { return process_; }

 private:
  ChildProcess process_;
  int port_ = 0;
};

// Runs a command to completion, feeding `stdin_data`; returns exit code and output.
struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_data = "",
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Waits for `predicate` to hold, polling; bounded by `timeout`.
template <typename Predicate>
bool Eventually(Predicate predicate, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(20));

}  // namespace botwatch::testing

#include <thread>

template <typename Predicate>
bool botwatch::testing::Eventually(Predicate predicate, std::chrono::milliseconds timeout,
                                   std::chrono::milliseconds step) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (predicate()) return true;
    std::this_thread::sleep_for(step);
  }
  return predicate();
}
