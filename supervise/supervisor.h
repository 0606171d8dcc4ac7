#pragma once

// Supervise mode (`botwatch run -- COMMAND ARGS...`): botwatch runs the bot as
// its child, passes the child's stdout and stderr through to its own unchanged
// (byte for byte, so the platform's log stream still sees them), forwards
// signals, restarts it on failure if asked, and reports its exit code.
//
// The log pipeline attaches through ChildOutputSink: it receives the same
// bytes that are passed through, per stream, in order.
//
// The child is also a collector of type `process` (named by
// SuperviseOptions::name): Snapshot() reports from memory whether it runs, so
// botwatch_collector_up, /api/v1/status, the status page and the summary see
// it go down the moment it exits and up the moment it is restarted.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/duration.h"
#include "base/status.h"
#include "collectors/lib/process_metrics.h"
#include "collectors/lib/procfs.h"
#include "collectors/snapshot.h"

namespace botwatch {

class ChildOutputSink {
 public:
  enum class Stream { kStdout, kStderr };
  virtual ~ChildOutputSink() = default;
  // Called from that stream's reader thread with bytes exactly as read (not
  // split into lines); must not block for long, the child waits on its pipe.
  virtual void OnOutput(Stream stream, std::string_view bytes) = 0;
  // The child exited and both streams reached their end: flush partial lines.
  virtual void OnChildExit() {}
};

struct SuperviseOptions {
  enum class Restart { kNever, kOnFailure };
  std::vector<std::string> command;  // argv; [0] is looked up in PATH if it has no '/'
  Restart restart = Restart::kNever;
  Duration backoff_initial = std::chrono::seconds(1);
  Duration backoff_max = std::chrono::seconds(30);
  // After forwarding SIGTERM/SIGINT on shutdown, how long the child may take
  // before its process group is killed.
  Duration kill_timeout = std::chrono::seconds(10);
  // A child that ran this long before failing restarts after backoff_initial again.
  Duration stable_after = std::chrono::seconds(60);
  // The child's collector name: the `collector` label of its
  // botwatch_collector_* and botwatch_process_* series, its entry in /api/v1/status.
  std::string name = "supervised";  // agent/config.h kSupervisedName: configs may not use it
  // SIGHUP reloads botwatch; the child gets it too only when asked, because
  // Node.js (like most programs without a handler) exits on SIGHUP.
  bool forward_sighup = false;
};

// Exit status as a shell reports it: the code, or 128 + signal number.
int DecodeWaitStatus(int status);

// Backoff before restart number `n` (1-based): initial * 2^(n-1), capped.
Duration RestartBackoff(const SuperviseOptions& options, int n);

class Supervisor {
 public:
  Supervisor(SuperviseOptions options, ChildOutputSink* sink = nullptr);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Starts the child (and the thread that watches it). An error here means the
  // first start failed (e.g. command not found).
  Status Start();

  // Forwards `sig` to the running child. SIGTERM and SIGINT also mean shutdown:
  // no more restarts, and after kill_timeout the child's group gets SIGKILL.
  void Signal(int sig);

  // True once the child has exited for good (no restart coming).
  bool Done() const { return done_.load(); }
  // Waits up to `timeout` for Done().
  bool WaitDone(Duration timeout);
  // The exit status botwatch should exit with (valid once Done()).
  int ExitCode() const { return exit_code_.load(); }

  // The child as a `process` collector, read on every scrape (from memory, plus
  // one read of its /proc entries): up while it runs, down with reason
  // `exited` (or pending before the first start) otherwise. Its families are
  // botwatch_process_*{collector=<name>}.
  std::shared_ptr<const CollectorSnapshot> Snapshot() const;

 private:
  Result<pid_t> Spawn(int* out_fd, int* err_fd);
  // The watching thread: the child's lives, one after another, until it is done.
  void Run(pid_t pid, int out_fd, int err_fd);
  // The steps of Run(), on its thread.
  void MarkStarted(pid_t pid);
  int WaitForExit(pid_t pid);  // the wait status
  int ReapExited(pid_t pid);
  bool KillIfStopIgnored(pid_t pid);
  Duration RecordExit(int code, bool restart);  // how long it ran
  std::string PlanRestart(Duration ran);        // under mu_
  std::optional<pid_t> Respawn(int* code, int* out_fd, int* err_fd);
  void Finish(int code);
  void Pump(int fd, int target_fd, ChildOutputSink::Stream stream, const std::atomic<bool>* exited);
  bool SleepUnlessStopping(Duration d);
  void ReapOrphans(pid_t child);
  // After the child exited and its group was killed: reaps what was ours.
  void ReapKilledGroup(pid_t pgid);

  const SuperviseOptions options_;
  ChildOutputSink* const sink_;
  ProcFs procfs_;
  // Snapshot() is const and read by concurrent scrapes: the watch has its lock.
  mutable std::mutex freeze_mu_;
  mutable FreezeWatch freeze_;
  std::thread thread_;

  std::atomic<pid_t> pid_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> done_{false};
  std::atomic<int> exit_code_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_;  // wakes backoff sleeps and WaitDone
  int restarts_ = 0;
  int consecutive_failures_ = 0;  // Run()'s own, like backoff_
  Duration backoff_{0};           // before the next restart
  std::optional<int> last_exit_code_;
  std::string down_message_;  // why it is not running, for the status API
  double last_up_unix_ = 0;   // when it was last seen running (its exit)
  double down_unix_ = 0;      // when down_message_ was last set
  std::chrono::steady_clock::time_point started_at_{};
  std::chrono::steady_clock::time_point stop_requested_at_{};
  std::mutex signal_mu_;  // orders kill() against the child being reaped
};

}  // namespace botwatch
