#pragma once

// A throwaway PostgreSQL cluster for tests: initdb in a temporary directory,
// started with pg_ctl on 127.0.0.1 and an ephemeral port (fsync off, trust
// authentication). As root it runs the server as the `postgres` user (initdb
// refuses root); otherwise as the current user. Set BOTWATCH_PG_BIN to pick
// a server other than the newest in /usr/lib/postgresql/*/bin.

#include <sys/types.h>

#include <string>
#include <vector>

#include "tests/support/botwatch_process.h"
#include "tests/support/temp_dir.h"

namespace botwatch::testing {

class PostgresServer {
 public:
  // Runs initdb and starts the server; throws std::runtime_error (with the
  // tool's output) if either fails. `settings` are extra "name=value" server
  // settings, e.g. "shared_preload_libraries=pg_stat_statements".
  explicit PostgresServer(std::vector<std::string> settings = {});
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Start again on the same port after Stop(); "fast" shutdown mode.
  bool Start();
  bool Stop();
  bool running() const { return running_; }

  // Stops (SIGSTOP) or resumes (SIGCONT) the postmaster and all its children:
  // a server that accepts connections but never answers.
  void Freeze();
  void Thaw();

  int port() const { return port_; }
  // A libpq key=value connection string for 127.0.0.1.
  std::string Dsn(const std::string& user = "postgres", const std::string& dbname = "postgres",
                  const std::string& password = "") const;
  // Runs SQL through psql as the superuser; output is unaligned, tuples only.
  CommandResult Psql(const std::string& sql, const std::string& dbname = "postgres") const;
  // Puts `line` first in pg_hba.conf and reloads the server, e.g.
  // "host all bot 127.0.0.1/32 scram-sha-256" to make one role need a password.
  bool PrependHba(const std::string& line);
  std::string ServerLog() const;
  pid_t postmaster_pid() const;

 private:
  std::vector<std::string> AsServerUser(std::vector<std::string> argv) const;
  std::vector<pid_t> ClusterPids() const;

  TempDir dir_;
  std::string bin_;
  std::string data_;
  std::string log_;
  std::vector<std::string> settings_;
  int port_ = 0;
  bool running_ = false;
  bool frozen_ = false;
};

}  // namespace botwatch::testing
