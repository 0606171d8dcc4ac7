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

ExecRun ExecCollector::Run(SteadyTime deadline) const {
  ExecRun run;
  auto started = std::chrono::steady_clock::now();
  if (deadline <= started) {
    run.timed_out = true;  // no time left to run it at all
    run.started = true;
    return run;
  }
  auto finish = [&] {
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return run;
  };

  // The environment as execve wants it. Built by hand: Boost.Process 1.74's
  // basic_environment::find reads past the end of shorter entries (ASan).
  std::vector<std::string> env_entries;
  std::string path_var;
  if (config_.inherit_env) {
    for (char** e = ::environ; *e != nullptr; ++e) {
      std::string_view entry(*e);
      std::string_view key = entry.substr(0, entry.find('='));
      if (config_.env.count(std::string(key)) == 0) env_entries.emplace_back(entry);
      if (key == "PATH") path_var = entry.substr(std::min(entry.size(), key.size() + 1));
    }
  }
  for (const auto& [k, v] : config_.env) {
    env_entries.push_back(k + "=" + v);
    if (k == "PATH") path_var = v;
  }
  std::vector<char*> envp;
  envp.reserve(env_entries.size() + 1);
  for (std::string& e : env_entries) envp.push_back(e.data());
  envp.push_back(nullptr);

  boost::filesystem::path exe = config_.command;
  if (config_.command.find('/') == std::string::npos) {
    std::vector<boost::filesystem::path> dirs;
    size_t start = 0;
    while (start <= path_var.size() && !path_var.empty()) {
      size_t colon = path_var.find(':', start);
      if (colon == std::string::npos) colon = path_var.size();
      if (colon > start) dirs.emplace_back(path_var.substr(start, colon - start));
      start = colon + 1;
    }
    if (path_var.empty()) dirs = {"/usr/local/bin", "/usr/bin", "/bin"};
    exe = bp::search_path(config_.command, dirs);
    if (exe.empty()) {
      run.start_error = "\"" + config_.command + "\" not found in PATH";
      return finish();
    }
  }

  boost::asio::io_context ioc;
  bp::async_pipe pipe(ioc);
  std::array<char, 16 * 1024> buf;
  bool exited = false;
  pid_t pgid = -1;

  std::function<void(const boost::system::error_code&, size_t)> on_read = [&](const boost::system::error_code& ec,
                                                                              size_t n) {
    run.output.append(buf.data(), n);
    if (run.output.size() > config_.max_output_bytes) {
      run.output_too_large = true;
      run.output.resize(config_.max_output_bytes);
      KillGroup(pgid);
      pipe.close();
      return;
    }
    if (ec) return;  // EOF (every writer gone) or closed
    pipe.async_read_some(boost::asio::buffer(buf), on_read);
  };

  std::error_code spawn_error;
  // Claimed from before the fork: botwatch's reaper of orphans (base/child_reaper.h)
  // leaves this child's status to on_exit below.
  std::optional<child_reaper::SpawnGuard> spawning(std::in_place);
  bp::child child(exe, bp::args(config_.args), bp::std_in<bp::null, bp::std_out> pipe, bp::std_err > bp::null,
                  bp::start_dir(config_.working_dir.empty() ? std::string(".") : config_.working_dir), ioc,
                  bp::on_exit([&](int code, const std::error_code&) {
                    exited = true;
                    run.exit_code = code;
                    // Whatever the check left behind (a background grandchild holding
                    // stdout open) dies with it.
                    KillGroup(pgid);
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
  struct Unclaim {
    pid_t pid;
    ~Unclaim() { child_reaper::Release(pid); }  // by then it is reaped (or never ran)
  } unclaim{child.valid() ? child.id() : 0};
  spawning->Claim(unclaim.pid);
  spawning.reset();
  if (spawn_error || !child.valid()) {
    run.start_error = "cannot start " + exe.string() + ": " + spawn_error.message();
    return finish();
  }
  run.started = true;
  pgid = child.id();
  ::setpgid(pgid, pgid);  // also from this side, so a kill right away hits the group
  pipe.async_read_some(boost::asio::buffer(buf), on_read);

  auto left = deadline - std::chrono::steady_clock::now();
  if (left > std::chrono::steady_clock::duration::zero()) ioc.run_for(left);
  if (!ioc.stopped()) {
    // Still running at the deadline, or exited while something outside its
    // group (setsid) holds stdout open: stop waiting either way.
    if (!exited) run.timed_out = true;
    KillGroup(pgid);
    boost::system::error_code ignored;
    pipe.close(ignored);
    ioc.restart();
    ioc.run_for(std::chrono::seconds(1));  // SIGKILL is delivered at once; this reaps it
  }
  std::error_code ec;
  if (child.running(ec)) {
    KillGroup(pgid);
    child.wait(ec);
  }
  ReapOrphans(pgid);
  if (run.timed_out || run.output_too_large) run.exit_code = -1;  // meaningless after a kill
  return finish();
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
  std::vector<prometheus::MetricFamily> parsed;
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
