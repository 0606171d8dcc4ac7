#include "collectors/exec.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/process/args.hpp>
#include <boost/process/async.hpp>
#include <boost/process/async_pipe.hpp>
#include <boost/process/child.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <boost/process/search_path.hpp>
#include <boost/process/start_dir.hpp>
#include <optional>
#include <string_view>
#include <thread>

#include "base/child_reaper.h"
#include "base/config_node.h"
#include "collectors/registry.h"
#include "prom/carried_metrics.h"

namespace botwatch {

BOTWATCH_REGISTER_COLLECTOR("exec", ExecCollector::Create);

namespace bp = boost::process;

namespace {

// Reasons of our own, beyond the shared vocabulary in collector.h.
constexpr const char* kExitCode = "exit_code";
constexpr const char* kOutputTooLarge = "output_too_large";
constexpr const char* kSpawnFailed = "spawn_failed";

// Kills the check's whole process group. `pgid` is the check's own pid (it
// leads its group), never 0 or 1: killpg with those would hit botwatch's own
// group or every process.
void KillGroup(pid_t pgid) {
  if (pgid > 1) ::killpg(pgid, SIGKILL);
}

// The killed group's orphans are re-parented to botwatch when it is PID 1 (a
// container's entrypoint) or a subreaper; reap them, or they stay zombies.
// waitpid(-pgid) touches only children in that group, and when botwatch is not
// their parent it returns ECHILD at once.
void ReapOrphans(pid_t pgid) {
  if (pgid <= 1) return;
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  while (std::chrono::steady_clock::now() < until) {
    pid_t r = ::waitpid(-pgid, nullptr, WNOHANG);
    if (r < 0) return;                                                      // ECHILD: none left
    if (r == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // SIGKILLed, not dead yet
  }
}

}  // namespace

std::unique_ptr<Collector> ExecCollector::Create(const CollectorSpec&, ConfigMap& config) {
  ExecConfig c;
  c.command = config.RequiredString("command");
  if (c.command.empty()) config.FailAt("command", "must not be empty");
  // A relative path with a slash is relative to the config file, like *_file.
  if (c.command.find('/') != std::string::npos && c.command[0] != '/' && !config.source().dir.empty()) {
    c.command = config.source().dir + "/" + c.command;
  }
  c.args = config.StringList("args");
  c.env = config.StringMap("env");
  for (const auto& [k, v] : c.env) {
    if (k.empty() || k.find('=') != std::string::npos) config.FailAt("env", "invalid variable name \"" + k + "\"");
  }
  c.inherit_env = config.Bool("inherit_env", true);
  c.working_dir = config.String("working_dir", "");
  if (!c.working_dir.empty() && c.working_dir[0] != '/' && !config.source().dir.empty()) {
    c.working_dir = config.source().dir + "/" + c.working_dir;
  }
  c.max_output_bytes = static_cast<size_t>(config.Int("max_output_bytes", 256 * 1024, 1, 64 << 20));
  c.output = config.Choice<ExecConfig::Output>("output", "auto", "output",
                                               {{"auto", ExecConfig::Output::kAuto},
                                                {"prometheus", ExecConfig::Output::kPrometheus},
                                                {"ignore", ExecConfig::Output::kIgnore}});
  return std::make_unique<ExecCollector>(std::move(c));
}

ExecCollector::ExecCollector(ExecConfig config) : config_(std::move(config)) {}

namespace {

// The check's environment as execve wants it, and the PATH it sees. Built by
// hand: Boost.Process 1.74's basic_environment::find reads past the end of
// shorter entries (ASan).
struct CheckEnvironment {
  std::vector<std::string> entries;  // "NAME=value"
  std::string path_var;
};

CheckEnvironment BuildCheckEnvironment(const ExecConfig& config) {
  CheckEnvironment env;
  if (config.inherit_env) {
    for (char** e = ::environ; *e != nullptr; ++e) {
      std::string_view entry(*e);
      std::string_view key = entry.substr(0, entry.find('='));
      if (config.env.count(std::string(key)) == 0) env.entries.emplace_back(entry);
      if (key == "PATH") env.path_var = entry.substr(std::min(entry.size(), key.size() + 1));
    }
  }
  for (const auto& [k, v] : config.env) {
    env.entries.push_back(k + "=" + v);
    if (k == "PATH") env.path_var = v;
  }
  return env;
}

// `command` (a name without a slash) looked up in the check's PATH, or in a
// default one when it has none; empty when not found.
boost::filesystem::path FindCheckProgram(const std::string& command, const std::string& path_var) {
  std::vector<boost::filesystem::path> dirs;
  size_t start = 0;
  while (start <= path_var.size() && !path_var.empty()) {
    size_t colon = path_var.find(':', start);
    if (colon == std::string::npos) colon = path_var.size();
    if (colon > start) dirs.emplace_back(path_var.substr(start, colon - start));
    start = colon + 1;
  }
  if (path_var.empty()) dirs = {"/usr/local/bin", "/usr/bin", "/bin"};
  return bp::search_path(command, dirs);
}

// One started check: its stdout is read on an event loop until it exits, the
// deadline passes or the output grows over the bound; then its group is
// killed and everything of it reaped. What happened goes to `run`.
class CheckProcess {
 public:
  CheckProcess(const ExecConfig& config, ExecRun& run) : config_(config), run_(run), pipe_(ioc_) {}
  ~CheckProcess() {
    if (claimed_) child_reaper::Release(*claimed_);  // by then it is reaped (or never ran)
  }
  CheckProcess(const CheckProcess&) = delete;
  CheckProcess& operator=(const CheckProcess&) = delete;

  // Starts the check in a process group of its own; false (with
  // run.start_error) when it cannot start.
  bool Start(const boost::filesystem::path& exe, std::vector<char*>& envp) {
    std::error_code spawn_error;
    // Claimed from before the fork: botwatch's reaper of orphans (base/child_reaper.h)
    // leaves this child's status to on_exit below.
    std::optional<child_reaper::SpawnGuard> spawning(std::in_place);
    child_.emplace(exe, bp::args(config_.args), bp::std_in<bp::null, bp::std_out> pipe_, bp::std_err > bp::null,
                   bp::start_dir(config_.working_dir.empty() ? std::string(".") : config_.working_dir), ioc_,
                   bp::on_exit([this](int code, const std::error_code&) {
                     exited_ = true;
                     run_.exit_code = code;
                     // Whatever the check left behind (a background grandchild holding
                     // stdout open) dies with it.
                     KillGroup(pgid_);
                   }),
                   bp::extend::on_setup([&envp](auto& exec) { exec.env = envp.data(); }),
                   bp::extend::on_exec_setup([](auto&) {
                     // In the child, between fork and exec: lead a new process group, and
                     // do not inherit the signal mask of botwatch's worker thread.
                     ::setpgid(0, 0);
                     sigset_t none;
                     sigemptyset(&none);
                     ::sigprocmask(SIG_SETMASK, &none, nullptr);
                   }),
                   spawn_error);
    claimed_ = child_->valid() ? child_->id() : 0;
    spawning->Claim(*claimed_);
    spawning.reset();
    if (spawn_error || !child_->valid()) {
      run_.start_error = "cannot start " + exe.string() + ": " + spawn_error.message();
      return false;
    }
    run_.started = true;
    pgid_ = child_->id();
    ::setpgid(pgid_, pgid_);  // also from this side, so a kill right away hits the group
    ReadMore();
    return true;
  }

  // Reads until the check is done with its output or `deadline`, then kills
  // its group and reaps the check and the group's orphans.
  void WaitAndReap(SteadyTime deadline) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left > std::chrono::steady_clock::duration::zero()) ioc_.run_for(left);
    if (!ioc_.stopped()) {
      // Still running at the deadline, or exited while something outside its
      // group (setsid) holds stdout open: stop waiting either way.
      if (!exited_) run_.timed_out = true;
      KillGroup(pgid_);
      boost::system::error_code ignored;
      pipe_.close(ignored);
      ioc_.restart();
      ioc_.run_for(std::chrono::seconds(1));  // SIGKILL is delivered at once; this reaps it
    }
    std::error_code ec;
    if (child_->running(ec)) {
      KillGroup(pgid_);
      child_->wait(ec);
    }
    ReapOrphans(pgid_);
    if (run_.timed_out || run_.output_too_large) run_.exit_code = -1;  // meaningless after a kill
  }

 private:
  void ReadMore() {
    pipe_.async_read_some(boost::asio::buffer(buf_),
                          [this](const boost::system::error_code& ec, size_t n) { OnRead(ec, n); });
  }

  void OnRead(const boost::system::error_code& ec, size_t n) {
    run_.output.append(buf_.data(), n);
    if (run_.output.size() > config_.max_output_bytes) {
      run_.output_too_large = true;
      run_.output.resize(config_.max_output_bytes);
      KillGroup(pgid_);
      pipe_.close();
      return;
    }
    if (ec) return;  // EOF (every writer gone) or closed
    ReadMore();
  }

  const ExecConfig& config_;
  ExecRun& run_;
  boost::asio::io_context ioc_;
  bp::async_pipe pipe_;
  std::array<char, 16 * 1024> buf_;
  bool exited_ = false;
  pid_t pgid_ = -1;
  std::optional<pid_t> claimed_;  // from the fork until the check is reaped
  std::optional<bp::child> child_;
};

// Looks the command up, starts it and waits for it.
void RunCheck(const ExecConfig& config, SteadyTime deadline, ExecRun& run) {
  CheckEnvironment env = BuildCheckEnvironment(config);
  std::vector<char*> envp;
  envp.reserve(env.entries.size() + 1);
  for (std::string& e : env.entries) envp.push_back(e.data());
  envp.push_back(nullptr);

  boost::filesystem::path exe = config.command;
  if (config.command.find('/') == std::string::npos) {
    exe = FindCheckProgram(config.command, env.path_var);
    if (exe.empty()) {
      run.start_error = "\"" + config.command + "\" not found in PATH";
      return;
    }
  }
  CheckProcess check(config, run);
  if (check.Start(exe, envp)) check.WaitAndReap(deadline);
}

}  // namespace

ExecRun ExecCollector::Run(SteadyTime deadline) const {
  ExecRun run;
  auto started = std::chrono::steady_clock::now();
  if (deadline <= started) {
    run.timed_out = true;  // no time left to run it at all
    run.started = true;
    return run;
  }
  RunCheck(config_, deadline, run);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return run;
}

ProbeResult ExecCollector::Evaluate(const ExecRun& run) const {
  FamilyBuilder fb;
  fb.Gauge("botwatch_exec_duration_seconds", "How long the check ran.", run.seconds);
  fb.Gauge("botwatch_exec_exit_code", "Exit code of the check (-1: killed or not started).", run.exit_code);
  fb.Gauge("botwatch_exec_output_bytes", "Bytes the check wrote to stdout (up to max_output_bytes).",
           static_cast<double>(run.output.size()));
  auto with = [&](ProbeResult r) {
    r.families = fb.Take();
    return r;
  };
  if (!run.started) return with(ProbeResult::Down(kSpawnFailed, run.start_error));
  if (run.timed_out) {
    return with(ProbeResult::Down(reason::kTimeout, "check killed at its timeout (process group)"));
  }
  if (run.output_too_large) {
    return with(ProbeResult::Down(kOutputTooLarge, "check wrote more than max_output_bytes (" +
                                                       std::to_string(config_.max_output_bytes) + ") to stdout"));
  }
  std::vector<Family> parsed;
  if (config_.output != ExecConfig::Output::kIgnore && !run.output.empty()) {
    // The check may print its env values (credentials); an error quoting
    // them is redacted inside the parser, before it cuts the token short.
    TextFormatLimits limits;
    for (const auto& [k, v] : config_.env) limits.secrets.push_back(v);
    auto families = CarryTextFormat(run.output, {"botwatch_exec_"}, "Reported by an exec check.", limits);
    std::string problem;
    if (families.ok()) {
      parsed = std::move(families.value());
    } else {
      problem = families.status().message();
    }
    if (!problem.empty() && config_.output == ExecConfig::Output::kPrometheus) {
      return with(ProbeResult::Down(reason::kInvalidOutput, "stdout is not valid Prometheus text: " + problem));
    }
    fb.Gauge("botwatch_exec_output_parsed", "Whether stdout was valid Prometheus text and was exported.",
             problem.empty() ? 1 : 0);
  }
  ProbeResult r = run.exit_code == 0
                      ? ProbeResult::Up()
                      : ProbeResult::Down(kExitCode, "check exited with code " + std::to_string(run.exit_code));
  r.families = fb.Take();
  for (auto& f : parsed) r.families.push_back(std::move(f));
  return r;
}

ProbeResult ExecCollector::Collect(const ProbeContext& ctx) {
  // Keep a little of the budget for killing and reaping, so that a timeout is
  // reported by this probe (with its reason) rather than by the scheduler.
  auto budget = ctx.Remaining();
  auto margin = std::min<Duration>(std::chrono::milliseconds(50), budget / 10);
  return Evaluate(Run(ctx.deadline - margin));
}

}  // namespace botwatch
