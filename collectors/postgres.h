#pragma once

// `type: postgres`: health and load of one PostgreSQL server through libpq, plus
// business metrics from the bot's own tables (custom queries, like sql_exporter).
//
// One connection is kept between probes and replaced after any failure. Every
// step (connect, each query) is non-blocking and polled against the probe's
// deadline; a probe that reaches its deadline sends a cancel request from a
// background thread (PQcancel blocks) and drops the connection instead of
// waiting. The server side is bounded too (statement_timeout and
// client_connection_check_interval are set on the session). The session is
// read-only, so a custom query can never write.

#include <libpq-fe.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/secret.h"
#include "base/status.h"
#include "collectors/collector.h"

namespace botwatch {

class ConfigMap;

// One metric read from a column of a custom query's result.
struct PgQueryMetric {
  std::string column;
  bool counter = false;
  std::vector<std::string> label_columns;
  std::string help;
  std::string family_name;  // botwatch_postgres_query_<query>_<column>[_total]
};

struct PgCustomQuery {
  std::string name;
  std::string sql;
  std::optional<Duration> interval;  // unset: every probe
  int64_t max_rows = 1000;
  std::vector<PgQueryMetric> metrics;
};

struct PostgresConfig {
  std::string collector_name;  // for log lines
  Secret dsn;
  Duration timeout{5000};
  int64_t top_statements = 5;  // 0 turns the pg_stat_statements query off
  std::vector<PgCustomQuery> queries;
};

// Removes every trace of the DSN's password from `text` (libpq and server
// messages), including "password=..." and URI user-info forms.
std::string RedactPassword(const std::string& text, const std::string& password);

// The password a DSN (key=value or URI form) carries, or "".
std::string DsnPassword(const std::string& dsn);

// Bounded reason for a failed custom query from its SQLSTATE ("" = unknown).
const char* ReasonForSqlState(const std::string& sqlstate);

// The rows of one query result as text; NULL is nullopt.
struct PgRows {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
  int ColumnIndex(const std::string& name) const;
};

// Turns the rows of a custom query into samples in `out`; an error value
// carries a bounded reason and a message, and `out` must then be discarded.
struct PgQueryError {
  std::string reason;
  std::string message;
};
std::optional<PgQueryError> AppendCustomQuerySamples(const PgCustomQuery& query, const PgRows& rows,
                                                     FamilyBuilder& out);

class PostgresCollector : public Collector {
 public:
  static std::unique_ptr<Collector> Create(const CollectorSpec& spec, ConfigMap& config);

  explicit PostgresCollector(PostgresConfig config);
  ~PostgresCollector() override;
  ProbeResult Collect(const ProbeContext& ctx) override;

 private:
  struct QueryState {
    bool ran = false;
    bool up = false;
    std::string last_reason;  // to log only when the outcome changes
    SteadyTime last_run{};
    double duration_seconds = 0;
    std::vector<Family> samples;  // last successful result
    std::map<std::string, uint64_t> errors_by_reason;
  };

  // A query's outcome: rows, or an error with a bounded reason.
  struct QueryOutcome {
    bool ok = false;
    PgRows rows;
    std::string reason;
    std::string message;
    bool connection_lost = false;  // the connection must be replaced
  };

  Status Connect(const ProbeContext& ctx, const char** why);
  QueryOutcome Run(const std::string& sql, const ProbeContext& ctx);
  void Disconnect();
  // Asks the server to cancel the running statement, without waiting.
  void CancelInBackground();
  std::string Redact(const std::string& text) const;

  // The built-in views, section by section. Each section is optional: a
  // permission problem on one view must not hide the others. A lost
  // connection ends the probe (CollectTopStatements returns false then).
  void CollectBuiltins(const ProbeContext& ctx, FamilyBuilder& fb);
  bool CollectTopStatements(const ProbeContext& ctx, FamilyBuilder& fb);
  void LogSectionFailure(const char* section, const QueryOutcome& q) const;
  void CollectCustom(const ProbeContext& ctx, FamilyBuilder& fb);

  PostgresConfig config_;
  std::string password_;  // only for redaction
  PGconn* conn_ = nullptr;
  uint64_t connections_opened_ = 0;
  std::optional<bool> has_stat_statements_;  // checked once per connection
  // Shared with detached cancel threads, which may outlive this collector.
  std::shared_ptr<std::atomic<int>> cancels_in_flight_ = std::make_shared<std::atomic<int>>(0);
  std::vector<QueryState> query_states_;
};

}  // namespace botwatch
