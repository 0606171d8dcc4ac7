#include "tests/support/postgres_server.h"

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/loopback_server.h"
#include "tests/support/proc_tree.h"

namespace botwatch::testing {

namespace fs = std::filesystem;

namespace {

// The newest /usr/lib/postgresql/<major>/bin.
std::string FindPgBin() {
  if (const char* env = std::getenv("BOTWATCH_PG_BIN"); env && *env) return env;
  int best = -1;
  std::string path;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    int major = std::atoi(entry.path().filename().c_str());
    if (major > best && fs::exists(entry.path() / "bin" / "pg_ctl")) {
      best = major;
      path = (entry.path() / "bin").string();
    }
  }
  if (path.empty()) throw std::runtime_error("no PostgreSQL server in /usr/lib/postgresql/*/bin");
  return path;
}

}  // namespace

PostgresServer::PostgresServer(std::vector<std::string> settings) : bin_(FindPgBin()), settings_(std::move(settings)) {
  // The server user must be able to enter the (0700) temporary directory.
  ::chmod(dir_.path().c_str(), 0755);
  std::string root = dir_.path() + "/pg";
  fs::create_directory(root);
  data_ = root + "/data";
  log_ = root + "/server.log";
  if (::geteuid() == 0) {
    passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) throw std::runtime_error("running as root but there is no postgres user");
    if (::chown(root.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("chown failed");
  }
  CommandResult init = RunCommand(AsServerUser({bin_ + "/initdb", "-D", data_, "-U", "postgres", "-A", "trust", "-E",
                                                "UTF8", "--locale=C.UTF-8", "--no-sync"}),
                                  "", std::chrono::seconds(60));
  if (init.exit_code != 0) throw std::runtime_error("initdb failed: " + init.output);
  // Another test may take a port between UnusedPort() and the bind: retry.
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = UnusedPort();
    if (Start()) return;
  }
  throw std::runtime_error("pg_ctl start failed: " + ServerLog());
}

PostgresServer::~PostgresServer() {
  if (frozen_) Thaw();
  if (running_) {
    RunCommand(AsServerUser({bin_ + "/pg_ctl", "-D", data_, "-m", "immediate", "-w", "-t", "20", "stop"}), "",
               std::chrono::seconds(30));
  }
}

std::vector<std::string> PostgresServer::AsServerUser(std::vector<std::string> argv) const {
  if (::geteuid() != 0) return argv;
  std::vector<std::string> out = {"runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

bool PostgresServer::Start() {
  std::string options = "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) +
                        " -c unix_socket_directories=" + dir_.path() + "/pg -c fsync=off";
  for (const std::string& s : settings_) options += " -c " + s;
  CommandResult r =
      RunCommand(AsServerUser({bin_ + "/pg_ctl", "-D", data_, "-l", log_, "-w", "-t", "30", "-o", options, "start"}),
                 "", std::chrono::seconds(40));
  running_ = r.exit_code == 0;
  return running_;
}

bool PostgresServer::Stop() {
  CommandResult r = RunCommand(AsServerUser({bin_ + "/pg_ctl", "-D", data_, "-m", "fast", "-w", "-t", "30", "stop"}),
                               "", std::chrono::seconds(40));
  if (r.exit_code == 0) running_ = false;
  return r.exit_code == 0;
}

pid_t PostgresServer::postmaster_pid() const {
  std::ifstream in(data_ + "/postmaster.pid");
  pid_t pid = 0;
  in >> pid;
  return pid;
}

std::vector<pid_t> PostgresServer::ClusterPids() const {
  std::vector<pid_t> pids;
  pid_t master = postmaster_pid();
  if (master <= 0) return pids;
  pids.push_back(master);
  for (const ProcEntry& e : ChildrenOf(master)) pids.push_back(e.pid);
  return pids;
}

void PostgresServer::Freeze() {
  for (pid_t p : ClusterPids()) ::kill(p, SIGSTOP);
  frozen_ = true;
}

void PostgresServer::Thaw() {
  for (pid_t p : ClusterPids()) ::kill(p, SIGCONT);
  frozen_ = false;
}

std::string PostgresServer::Dsn(const std::string& user, const std::string& dbname, const std::string& password) const {
  std::string dsn =
      "host=127.0.0.1 port=" + std::to_string(port_) + " user=" + user + " dbname=" + dbname + " sslmode=disable";
  if (!password.empty()) dsn += " password=" + password;
  return dsn;
}

CommandResult PostgresServer::Psql(const std::string& sql, const std::string& dbname) const {
  return RunCommand({bin_ + "/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                     std::to_string(port_), "-U", "postgres", "-d", dbname, "-c", sql},
                    "", std::chrono::seconds(30));
}

bool PostgresServer::PrependHba(const std::string& line) {
  std::string path = data_ + "/pg_hba.conf";
  std::string old = ReadWholeFile(path);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << line << "\n" << old;
  }
  return RunCommand(AsServerUser({bin_ + "/pg_ctl", "-D", data_, "reload"}), "", std::chrono::seconds(20)).exit_code ==
         0;
}

std::string PostgresServer::ServerLog() const { return ReadWholeFile(log_); }

}  // namespace botwatch::testing
