#include "supervise/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <boost/process/pipe.hpp>
#include <boost/process/search_path.hpp>
#include <cerrno>
#include <cstring>

#include "base/child_reaper.h"
#include "base/logging.h"
#include "base/unix_time.h"
#include "collectors/collector.h"
#include "collectors/lib/process_metrics.h"
#include "prom/family_builder.h"

namespace bp = boost::process;

namespace botwatch {
namespace {

using Clock = std::chrono::steady_clock;

// Writes everything, waiting if the target is non-blocking and full. Gives up
// only when the target is gone (EPIPE, EBADF): the child must never block on us.
void WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n > 0) {
      data += n;
      size -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 100);
      continue;
    }
    return;
  }
}

std::string Join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

}  // namespace

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// The same code from waitid's report, before the child is reaped.
int ExitCodeOf(const siginfo_t& exited) {
  if (exited.si_code == CLD_EXITED) return exited.si_status;
  if (exited.si_code == CLD_KILLED || exited.si_code == CLD_DUMPED) return 128 + exited.si_status;
  return 1;
}

Duration RestartBackoff(const SuperviseOptions& o, int n) {
  Duration d = o.backoff_initial;
  for (int i = 1; i < n && d < o.backoff_max; ++i) d *= 2;
  return std::min(d, o.backoff_max);
}

Supervisor::Supervisor(SuperviseOptions options, ChildOutputSink* sink) : options_(std::move(options)), sink_(sink) {}

Supervisor::~Supervisor() {
  if (thread_.joinable()) {
    Signal(SIGTERM);
    thread_.join();
  }
}

Result<pid_t> Supervisor::Spawn(int* out_fd, int* err_fd) {
  if (options_.command.empty()) return Status::Error("no command to run");
  boost::filesystem::path exe = options_.command[0];
  if (options_.command[0].find('/') == std::string::npos) {
    exe = bp::search_path(options_.command[0]);
    if (exe.empty()) return Status::Error("command not found in PATH: " + options_.command[0]);
  }
  bp::pipe out, err;
  // Our read ends must not leak into other processes botwatch starts.
  ::fcntl(out.native_source(), F_SETFD, FD_CLOEXEC);
  ::fcntl(err.native_source(), F_SETFD, FD_CLOEXEC);
  std::vector<std::string> args(options_.command.begin() + 1, options_.command.end());
  std::error_code ec;
  const pid_t parent = ::getpid();
  // Claimed from before the fork until Run() reaps it: the reaper of orphans
  // (base/child_reaper.h) never takes its exit status.
  child_reaper::SpawnGuard spawning;
  bp::child child(
      exe, bp::args(args), bp::std_out > out, bp::std_err > err,
      bp::extend::on_exec_setup =
          [parent](auto&) {
            // The bot never outlives botwatch, even after a kill -9 of it (no
            // chance to forward anything): the kernel sends it SIGTERM when the
            // thread that started it ends, and botwatch starts it from threads
            // that live as long as the supervision. If botwatch is already gone
            // (between fork and here), do not start at all.
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (::getppid() != parent) ::_exit(128 + SIGTERM);
            // botwatch blocks these signals to take them with sigwait, and
            // ignores SIGPIPE; the bot must start with neither.
            sigset_t none;
            sigemptyset(&none);
            ::sigprocmask(SIG_SETMASK, &none, nullptr);
            ::signal(SIGPIPE, SIG_DFL);
            // Its own process group: a terminal's Ctrl-C reaches botwatch only
            // (which forwards it once), and the group can be killed as a whole.
            ::setpgid(0, 0);
          },
      ec);
  if (ec) return Status::Error("cannot start " + Join(options_.command) + ": " + ec.message());
  pid_t pid = child.id();
  spawning.Claim(pid);
  child.detach();  // we reap it ourselves with waitpid
  *out_fd = out.native_source();
  *err_fd = err.native_source();
  out.assign_source(-1);
  err.assign_source(-1);
  return pid;
}

Status Supervisor::Start() {
  int out_fd = -1, err_fd = -1;
  Result<pid_t> pid = Spawn(&out_fd, &err_fd);
  if (!pid.ok()) return pid.status();
  logging::Info("started child", {{"command", Join(options_.command)}, {"pid", std::to_string(pid.value())}});
  thread_ = std::thread(&Supervisor::Run, this, pid.value(), out_fd, err_fd);
  return Status::Ok();
}

void Supervisor::Pump(int fd, int target_fd, ChildOutputSink::Stream stream, const std::atomic<bool>* exited) {
  std::vector<char> buf(64 * 1024);
  std::optional<Clock::time_point> give_up;
  while (true) {
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, 100);
    if (ready == 0) {
      // A grandchild may hold the pipe open after the child exited; do not
      // wait for it forever.
      if (exited->load()) {
        if (!give_up) give_up = Clock::now() + std::chrono::seconds(1);
        if (Clock::now() >= *give_up) break;
      }
      continue;
    }
    if (ready < 0 && errno == EINTR) continue;
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      break;
    }
    WriteAll(target_fd, buf.data(), static_cast<size_t>(n));
    if (sink_) sink_->OnOutput(stream, std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
}

void Supervisor::ReapOrphans(pid_t child) {
  // As PID 1 of a container, botwatch inherits the bot's orphaned descendants;
  // unreaped they stay zombies for ever. Only the bot's own process group is
  // touched (its descendants keep it unless they move), so children that other
  // parts of botwatch start and wait for are never taken from them.
  for (int i = 0; i < 64; ++i) {
    siginfo_t info{};
    if (::waitid(P_PGID, static_cast<id_t>(child), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return;
    if (info.si_pid == 0 || info.si_pid == child) return;  // nothing, or the child itself (reaped by Run)
    ::waitpid(info.si_pid, nullptr, WNOHANG);
  }
}

void Supervisor::ReapKilledGroup(pid_t pgid) {
  // Only when botwatch is their parent (PID 1, a subreaper) are they ours to
  // reap; otherwise waitpid says ECHILD at once. SIGKILL is not instant, so
  // wait a moment for the last of them.
  auto until = Clock::now() + std::chrono::milliseconds(200);
  while (Clock::now() < until) {
    pid_t r = ::waitpid(-pgid, nullptr, WNOHANG);
    if (r < 0) return;
    if (r == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

bool Supervisor::SleepUnlessStopping(Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stopping_.load(); });
}

void Supervisor::Run(pid_t pid, int out_fd, int err_fd) {
  while (true) {
    MarkStarted(pid);
    std::atomic<bool> exited{false};
    std::thread out(&Supervisor::Pump, this, out_fd, STDOUT_FILENO, ChildOutputSink::Stream::kStdout, &exited);
    std::thread err(&Supervisor::Pump, this, err_fd, STDERR_FILENO, ChildOutputSink::Stream::kStderr, &exited);
    int code = DecodeWaitStatus(WaitForExit(pid));
    bool restart = !stopping_ && options_.restart == SuperviseOptions::Restart::kOnFailure && code != 0;
    Duration ran = RecordExit(code, restart);
    exited = true;
    out.join();
    err.join();
    if (sink_) sink_->OnChildExit();
    logging::Info("child exited",
                  {{"pid", std::to_string(pid)},
                   {"exit_code", std::to_string(code)},
                   {"ran", FormatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(ran))}});
    std::optional<pid_t> next;
    if (restart) next = Respawn(&code, &out_fd, &err_fd);
    if (!next) {
      Finish(code);
      return;
    }
    pid = *next;
  }
}

void Supervisor::MarkStarted(pid_t pid) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    started_at_ = Clock::now();
  }
  std::lock_guard<std::mutex> lock(signal_mu_);
  pid_ = pid;
  if (stopping_) ::kill(pid, SIGTERM);  // a stop that came while it was starting
}

// Notices the exit without reaping, and forgets the pid before reaping it:
// Signal() must never hit a recycled pid.
int Supervisor::WaitForExit(pid_t pid) {
  bool killed = false;
  while (true) {
    siginfo_t info{};
    int r = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
    if (r == 0 && info.si_pid == pid) {
      // How it ended is published before the pid is forgotten: a snapshot
      // that sees the child gone also sees its exit code.
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_exit_code_ = ExitCodeOf(info);
      }
      return ReapExited(pid);
    }
    if (r < 0 && errno != EINTR) {
      child_reaper::Release(pid);
      pid_ = 0;
      return 1 << 8;  // lost (someone else reaped it): report a failure
    }
    ReapOrphans(pid);
    if (stopping_ && !killed) killed = KillIfStopIgnored(pid);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// The child has exited and is not reaped yet: returns its wait status.
int Supervisor::ReapExited(pid_t pid) {
  {
    std::lock_guard<std::mutex> lock(signal_mu_);
    pid_ = 0;
  }
  // What the child left in its group (`sleep 300 &`, a worker) dies with
  // it: otherwise each restart would add a copy of the bot's helpers.
  // While the child is an unreaped zombie the group id cannot be reused.
  ::kill(-pid, SIGKILL);
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) status = 1 << 8;
  child_reaper::Release(pid);
  ReapKilledGroup(pid);
  return status;
}

// Once a stop was asked for: SIGKILL for the child's group when it outlived
// kill_timeout. True when it was killed.
bool Supervisor::KillIfStopIgnored(pid_t pid) {
  Clock::time_point asked;
  {
    std::lock_guard<std::mutex> lock(mu_);
    asked = stop_requested_at_;
  }
  if (Clock::now() - asked < options_.kill_timeout) return false;
  logging::Warn("child ignored the stop signal; killing it",
                {{"pid", std::to_string(pid)}, {"grace", FormatDuration(options_.kill_timeout)}});
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  return true;
}

// Publishes the exit, and the restart it leads to, at once and before waiting
// for the output to drain: the status API never shows a stale reason.
Duration Supervisor::RecordExit(int code, bool restart) {
  std::lock_guard<std::mutex> lock(mu_);
  Duration ran = std::chrono::duration_cast<Duration>(Clock::now() - started_at_);
  last_exit_code_ = code;
  last_up_unix_ = UnixNow();
  down_message_ = "exited with code " + std::to_string(code) + (restart ? PlanRestart(ran) : "");
  down_unix_ = last_up_unix_;
  return ran;
}

// Counts the failure (a child that ran long enough starts the count again) and
// sets the backoff; returns its words for the status message.
std::string Supervisor::PlanRestart(Duration ran) {
  consecutive_failures_ = ran >= options_.stable_after ? 1 : consecutive_failures_ + 1;
  backoff_ = RestartBackoff(options_, consecutive_failures_);
  return "; restarting in " + FormatDuration(backoff_);
}

// Waits out the backoff and starts the child again, as long as starts fail.
// Returns the new child, or nullopt when a stop came first; *code becomes 127
// once a start failed.
std::optional<pid_t> Supervisor::Respawn(int* code, int* out_fd, int* err_fd) {
  while (true) {
    logging::Warn("child failed; restarting", {{"exit_code", std::to_string(*code)},
                                               {"in", FormatDuration(backoff_)},
                                               {"attempt", std::to_string(consecutive_failures_)}});
    if (!SleepUnlessStopping(backoff_)) return std::nullopt;
    Result<pid_t> next = Spawn(out_fd, err_fd);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++restarts_;
    }
    if (next.ok()) {
      logging::Info("restarted child", {{"pid", std::to_string(next.value())}});
      return next.value();
    }
    logging::Error("cannot restart child", {{"err", next.status().message()}});
    *code = 127;
    std::lock_guard<std::mutex> lock(mu_);
    down_message_ = "cannot restart: " + next.status().message() + PlanRestart(Duration(0));
    down_unix_ = UnixNow();
  }
}

// The child exited for good: botwatch exits with its code.
void Supervisor::Finish(int code) {
  exit_code_ = code;
  done_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  cv_.notify_all();
}

void Supervisor::Signal(int sig) {
  if (sig == SIGTERM || sig == SIGINT) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      stop_requested_at_ = Clock::now();
      stopping_ = true;
      cv_.notify_all();
    }
  }
  std::lock_guard<std::mutex> lock(signal_mu_);
  pid_t pid = pid_.load();
  if (pid > 0) ::kill(pid, sig);
}

bool Supervisor::WaitDone(Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return done_.load(); });
}

// How long the child may sit in uninterruptible sleep (D) before it counts as
// frozen: longer than any ordinary disk wait, shorter than a health check's
// patience (App Platform and Docker fail after about 30 s).
constexpr Duration kFrozenPatience = std::chrono::seconds(10);

std::shared_ptr<const CollectorSnapshot> Supervisor::Snapshot() const {
  const Clock::time_point t0 = Clock::now();
  auto snap = std::make_shared<CollectorSnapshot>();
  // Not scheduled: interval and timeout stay 0, and every read is a check.
  snap->spec.name = options_.name;
  snap->spec.type = "process";
  FamilyBuilder fb;
  pid_t pid = pid_.load();
  int restarts;
  std::optional<int> last;
  Clock::time_point started;
  {
    std::lock_guard<std::mutex> lock(mu_);
    restarts = restarts_;
    last = last_exit_code_;
    started = started_at_;
    snap->has_run = started != Clock::time_point{};
    snap->message = down_message_;
    snap->last_error = down_message_;
    snap->last_error_unix = down_unix_;
    snap->last_success_unix = last_up_unix_;
  }
  std::string frozen;
  if (pid > 0) {
    Result<ProcessSample> s = procfs_.Sample(pid);
    if (s.ok()) {
      AddProcessSampleFamilies(s.value(), fb);
      std::lock_guard<std::mutex> lock(freeze_mu_);
      frozen = freeze_.Check(s.value(), kFrozenPatience);
    }
  }
  snap->up = pid > 0 && frozen.empty();
  if (snap->up) {
    snap->reason = reason::kOk;
    snap->message.clear();
  } else if (pid > 0) {
    snap->reason = reason::kFrozen;
    snap->message = frozen;
    snap->last_error = frozen;
    snap->last_error_unix = UnixNow();
  } else {
    snap->reason = reason::kExited;
  }
  // Whether the child runs is botwatch_collector_up{collector="<name>"}, and
  // its age is botwatch_process_start_time_seconds: no second family for either.
  AddProcessRestartsFamily(restarts, fb);
  if (last) {
    fb.Gauge("botwatch_process_last_exit_code",
             "Exit code of the supervised child's last run; 128 + the signal number if a signal ended it.", *last);
  }
  snap->families = fb.Take();
  AddCollectorLabel(snap->families, options_.name);
  snap->last_check_unix = UnixNow();
  if (snap->up) snap->last_success_unix = snap->last_check_unix;
  snap->duration_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return snap;
}

}  // namespace botwatch
