#include "tests/support/supervised_run.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <thread>

#include "tests/support/botwatch_process.h"
#include "tests/support/temp_dir.h"

namespace botwatch::testing {

SupervisedRun::SupervisedRun(const std::string& out_dir, const std::string& config, const std::string& script,
                             std::vector<std::string> flags, std::vector<std::string> prefix)
    : out_(out_dir + "/stdout"), err_(out_dir + "/stderr") {
  std::vector<std::string> argv = std::move(prefix);
  argv.insert(argv.end(), {BOTWATCH_BINARY, "run", "--config.file=" + config, "--web.listen-address=127.0.0.1:0"});
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.insert(argv.end(), {"--", "/bin/sh", "-c", script});
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  int out = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(out, 1);
    ::dup2(err, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    // The test runner may block signals botwatch must forward: start clean.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  ::close(out);
  ::close(err);
}

SupervisedRun::~SupervisedRun() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string SupervisedRun::Stdout() const { return ReadWholeFile(out_); }
std::string SupervisedRun::Stderr() const { return ReadWholeFile(err_); }
void SupervisedRun::Signal(int sig) const { ::kill(pid_, sig); }

std::optional<int> SupervisedRun::WaitExit(std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() >= end) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool SupervisedRun::WaitStdout(const std::string& what, std::chrono::milliseconds timeout) {
  return Eventually([&] { return Stdout().find(what) != std::string::npos; }, timeout);
}

int SupervisedRun::Port() const {
  static const std::regex kStarted("msg=\"botwatch started\".* port=([0-9]+)");
  std::smatch m;
  std::string log = Stderr();
  return std::regex_search(log, m, kStarted) ? std::stoi(m[1]) : 0;
}

std::string SupervisedRun::Url(const std::string& path) const {
  int port = Port();
  return port == 0 ? "" : "http://127.0.0.1:" + std::to_string(port) + path;
}

}  // namespace botwatch::testing
