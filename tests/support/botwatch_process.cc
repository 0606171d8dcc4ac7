#include "tests/support/botwatch_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/http_client.h"

namespace botwatch::testing {
namespace {

std::vector<char*> CStrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log_path,
                           const std::vector<std::string>& extra_env)
    : log_path_(log_path) {
  int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + log_path);
  std::vector<std::string> env;
  // getenv() takes the first of duplicate names, so an override must replace.
  auto overridden = [&](const char* e) {
    for (const std::string& x : extra_env) {
      size_t eq = x.find('=');
      if (eq != std::string::npos && std::strncmp(e, x.c_str(), eq + 1) == 0) return true;
    }
    return false;
  };
  for (char** e = environ; *e; ++e) {
    if (!overridden(*e)) env.emplace_back(*e);
  }
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  auto cargv = CStrings(argv);
  auto cenv = CStrings(env);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  ::close(fd);
  if (pid_ < 0) throw std::runtime_error("fork failed");
}

ChildProcess::~ChildProcess() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
}

void ChildProcess::Signal(int sig) const {
  if (!reaped_) ::kill(pid_, sig);
}

std::optional<int> ChildProcess::WaitExit(std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return DecodeStatus(status);
    }
    if (std::chrono::steady_clock::now() >= end) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string ChildProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Botwatch::Botwatch(const std::string& config_path, const std::string& work_dir, std::vector<std::string> extra_args,
                   std::vector<std::string> extra_env)
    : process_(
          [&] {
            std::vector<std::string> argv = {BOTWATCH_BINARY, "--config.file=" + config_path,
                                             "--web.listen-address=127.0.0.1:0"};
            argv.insert(argv.end(), extra_args.begin(), extra_args.end());
            return argv;
          }(),
          work_dir + "/botwatch.log", extra_env) {}

bool Botwatch::WaitStarted(std::chrono::milliseconds timeout) {
  static const std::regex kStarted("msg=\"botwatch started\".* port=([0-9]+)");
  return Eventually(
      [&] {
        std::smatch m;
        std::string log = process_.Log();
        if (std::regex_search(log, m, kStarted)) {
          port_ = std::stoi(m[1]);
          return true;
        }
        return false;
      },
      timeout);
}

bool Botwatch::WaitReady(std::chrono::milliseconds timeout) {
  if (port_ == 0 && !WaitStarted(timeout)) return false;
  return Eventually([&] { return HttpGet(Url("/-/ready"), 1000).status == 200; }, timeout);
}

std::string Botwatch::Url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_data,
                         std::chrono::milliseconds timeout) {
  int in_pipe[2], out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0) return {};
  auto cargv = CStrings(argv);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(out_pipe[1], 2);
    ::execvp(cargv[0], cargv.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  // Feed stdin from a thread so a large input cannot deadlock against a full stdout pipe.
  std::thread writer([fd = in_pipe[1], &stdin_data] {
    size_t off = 0;
    while (off < stdin_data.size()) {
      ssize_t n = ::write(fd, stdin_data.data() + off, stdin_data.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(fd);
  });
  CommandResult result;
  auto end = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  ::fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
  while (std::chrono::steady_clock::now() < end) {
    ssize_t n = ::read(out_pipe[0], buf, sizeof buf);
    if (n > 0) {
      result.output.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::close(out_pipe[0]);
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == 0) {
    auto wait_end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > wait_end) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  writer.join();
  result.exit_code = DecodeStatus(status);
  return result;
}

}  // namespace botwatch::testing
