#include "collectors/postgres.h"

#include "collectors/lib/lazy_libraries.h"

#include <poll.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <regex>
#include <set>
#include <thread>

#include "base/config_node.h"
#include "base/logging.h"
#include "collectors/registry.h"

namespace botwatch {

BOTWATCH_REGISTER_COLLECTOR("postgres", PostgresCollector::Create);

namespace {

// Reasons of our own, beyond the shared vocabulary in collector.h.
constexpr const char* kQueryError = "query_error";

bool IsIdentifier(const std::string& s) {
  if (s.empty() || s.size() > 100) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

std::string TrimLine(std::string s) {
  // libpq messages end with a newline and may span several lines; we want one.
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

int MillisLeft(const ProbeContext& ctx) {
  auto left = ctx.Remaining().count();
  return left > 1000000 ? 1000000 : static_cast<int>(left);
}

// Waits until the socket is ready for `events`; false at the deadline.
bool WaitSocket(int fd, short events, const ProbeContext& ctx) {
  while (true) {
    int left = MillisLeft(ctx);
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, left);
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return true;  // libpq's next call reports the error
  }
}

double Seconds(SteadyTime since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

std::optional<double> ParseNumber(const std::string& text) {
  if (text == "t") return 1.0;
  if (text == "f") return 0.0;
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE) return std::nullopt;
  return v;
}

void IgnoreNotice(void*, const char*) {}

// pg_stat_activity state names as label values: "idle in transaction (aborted)"
// becomes "idle_in_transaction_aborted".
std::string StateLabel(const std::string& state) {
  std::string out;
  for (char c : state) {
    if (c == ' ') {
      out += '_';
    } else if (c != '(' && c != ')') {
      out += c;
    }
  }
  return out;
}

const char* const kStates[] = {
    "active", "idle", "idle_in_transaction", "idle_in_transaction_aborted", "fastpath_function_call", "disabled"};

}  // namespace

// ---------------------------------------------------------------- helpers

std::string DsnPassword(const std::string& dsn) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (err != nullptr) PQfreemem(err);
  if (opts == nullptr) return "";
  std::string password;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) == "password" && o->val != nullptr) password = o->val;
  }
  PQconninfoFree(opts);
  return password;
}

std::string RedactPassword(const std::string& text, const std::string& password) {
  std::string out = text;
  if (!password.empty()) {
    size_t pos = 0;
    while ((pos = out.find(password, pos)) != std::string::npos) {
      out.replace(pos, password.size(), "<redacted>");
      pos += 10;
    }
  }
  static const std::regex kKeyValue(R"((password\s*=\s*)('([^'\\]|\\.)*'|[^\s]+))", std::regex::icase);
  out = std::regex_replace(out, kKeyValue, "$1<redacted>");
  static const std::regex kUserInfo(R"((://[^:/@\s]*:)[^@\s]*@)");
  out = std::regex_replace(out, kUserInfo, "$1<redacted>@");
  static const std::regex kSqlPassword(R"((password\s+)'([^']|'')*')", std::regex::icase);
  out = std::regex_replace(out, kSqlPassword, "$1'<redacted>'");
  return out;
}

const char* ReasonForSqlState(const std::string& sqlstate) {
  if (sqlstate.size() != 5) return "sql_error";
  std::string cls = sqlstate.substr(0, 2);
  if (sqlstate == "57014") return "timeout";  // statement_timeout or cancel
  if (sqlstate == "42501") return "permission_denied";
  if (sqlstate == "42601") return "syntax_error";
  if (sqlstate == "25006") return "read_only";
  if (cls == "42" || cls == "3D" || cls == "3F") return "undefined_object";
  if (cls == "08" || cls == "57") return "connection";
  if (cls == "22") return "data_exception";
  if (cls == "53") return "insufficient_resources";
  if (cls == "28") return reason::kAuth;
  return "sql_error";
}

int PgRows::ColumnIndex(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return static_cast<int>(i);
  }
  return -1;
}

std::optional<PgQueryError> AppendCustomQuerySamples(const PgCustomQuery& query, const PgRows& rows,
                                                     FamilyBuilder& out) {
  if (static_cast<int64_t>(rows.rows.size()) > query.max_rows) {
    return PgQueryError{"too_many_rows", "query returned " + std::to_string(rows.rows.size()) +
                                             " rows, more than max_rows " + std::to_string(query.max_rows)};
  }
  FamilyBuilder& local = out;  // the caller discards it on error
  for (const PgQueryMetric& m : query.metrics) {
    int value_col = rows.ColumnIndex(m.column);
    if (value_col < 0) return PgQueryError{"missing_column", "result has no column \"" + m.column + "\""};
    std::vector<int> label_cols;
    for (const std::string& l : m.label_columns) {
      int c = rows.ColumnIndex(l);
      if (c < 0) return PgQueryError{"missing_column", "result has no label column \"" + l + "\""};
      label_cols.push_back(c);
    }
    std::set<std::vector<std::string>> seen;
    for (const auto& row : rows.rows) {
      const auto& cell = row[static_cast<size_t>(value_col)];
      if (!cell) continue;  // NULL: no sample
      std::optional<double> v = ParseNumber(*cell);
      if (!v) {
        return PgQueryError{"bad_value", "column \"" + m.column + "\" has a non-numeric value"};
      }
      FamilyBuilder::Labels labels;
      std::vector<std::string> key;
      for (size_t i = 0; i < label_cols.size(); ++i) {
        const auto& lc = row[static_cast<size_t>(label_cols[i])];
        labels.emplace_back(m.label_columns[i], lc.value_or(""));
        key.push_back(lc.value_or(""));
      }
      if (!seen.insert(key).second) {
        return PgQueryError{"duplicate_labels", "two rows have the same label values for column \"" + m.column + "\""};
      }
      if (m.counter) {
        local.Counter(m.family_name, m.help, *v, labels);
      } else {
        local.Gauge(m.family_name, m.help, *v, labels);
      }
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- config

namespace {

PgCustomQuery ReadQuery(ConfigMap& q, std::set<std::string>& query_names, std::set<std::string>& family_names) {
  PgCustomQuery query;
  query.name = q.RequiredString("name");
  if (!IsIdentifier(query.name)) {
    q.FailAt("name",
             "\"" + query.name + "\" is not a valid query name (letters, digits and _, not starting with a digit)");
  }
  if (!query_names.insert(query.name).second) q.FailAt("name", "duplicate query name \"" + query.name + "\"");
  query.sql = q.RequiredString("sql");
  if (query.sql.find_first_not_of(" \t\r\n") == std::string::npos) q.FailAt("sql", "must not be empty");
  if (q.Has("interval")) query.interval = q.DurationValue("interval", Duration(0), std::chrono::seconds(1));
  query.max_rows = q.Int("max_rows", 1000, 1, 100000);
  std::vector<ConfigMap> metrics = q.MapList("metrics");
  if (metrics.empty()) q.FailAt("metrics", "at least one metric is required");
  for (ConfigMap& m : metrics) {
    PgQueryMetric metric;
    metric.column = m.RequiredString("column");
    if (!IsIdentifier(metric.column)) {
      m.FailAt("column", "\"" + metric.column + "\" is not a valid column name for a metric (letters, digits and _)");
    }
    std::string type = m.String("type", "gauge");
    if (type != "gauge" && type != "counter") m.FailAt("type", "expected gauge or counter, got \"" + type + "\"");
    metric.counter = type == "counter";
    metric.label_columns = m.StringList("labels");
    std::set<std::string> labels;
    for (const std::string& l : metric.label_columns) {
      if (!IsIdentifier(l) || l.rfind("__", 0) == 0) {
        m.FailAt("labels", "\"" + l + "\" is not a valid label name (letters, digits and _, not starting with __)");
      }
      if (l == "collector") m.FailAt("labels", "\"collector\" is reserved (botwatch adds it)");
      if (!labels.insert(l).second) m.FailAt("labels", "duplicate label \"" + l + "\"");
    }
    metric.help = m.String("help", "Custom query " + query.name + ", column " + metric.column + ".");
    metric.family_name = "botwatch_postgres_query_" + query.name + "_" + metric.column;
    if (metric.counter && (metric.family_name.size() < 6 ||
                           metric.family_name.compare(metric.family_name.size() - 6, 6, "_total") != 0)) {
      metric.family_name += "_total";
    }
    if (!family_names.insert(metric.family_name).second) {
      m.FailAt("column", "metric name " + metric.family_name + " is produced twice");
    }
    m.RejectUnknownKeys();
    query.metrics.push_back(std::move(metric));
  }
  q.RejectUnknownKeys();
  return query;
}

}  // namespace

std::unique_ptr<Collector> PostgresCollector::Create(const CollectorSpec& spec, ConfigMap& config) {
  PostgresConfig c;
  c.collector_name = spec.name;
  c.timeout = spec.timeout;
  c.dsn = config.RequiredSecret("dsn");
  if (std::string missing = LibpqMissing(); !missing.empty()) {
    config.FailAt(config.Has("dsn") ? "dsn" : "dsn_file", missing);
  }
  {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(c.dsn.reveal().c_str(), &err);
    // libpq's parse error quotes the offending part of the string, which may be
    // the password: keep it out of the message.
    if (err != nullptr) PQfreemem(err);
    if (opts == nullptr) {
      config.FailAt(config.Has("dsn") ? "dsn" : "dsn_file",
                    "not a valid libpq connection string (key=value pairs or a postgresql:// URI)");
    }
    PQconninfoFree(opts);
  }
  c.top_statements = config.Int("top_statements", 5, 0, 100);
  std::set<std::string> query_names, family_names;
  for (ConfigMap& q : config.MapList("queries")) c.queries.push_back(ReadQuery(q, query_names, family_names));
  return std::make_unique<PostgresCollector>(std::move(c));
}

PostgresCollector::PostgresCollector(PostgresConfig config)
    : config_(std::move(config)), password_(DsnPassword(config_.dsn.reveal())) {
  query_states_.resize(config_.queries.size());
}

PostgresCollector::~PostgresCollector() { Disconnect(); }

std::string PostgresCollector::Redact(const std::string& text) const {
  return RedactPassword(TrimLine(text), password_);
}

void PostgresCollector::Disconnect() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
  has_stat_statements_.reset();
}

// ---------------------------------------------------------------- libpq I/O

void PostgresCollector::CancelInBackground() {
  // PQcancel opens a new connection and waits for the server to close it, with
  // no timeout of its own (libpq 15 has no non-blocking cancel): it must not
  // run on the probe's thread. At most one per collector is in flight, so a
  // hung server holds at most one extra thread. The server also notices the
  // dropped connection by itself (client_connection_check_interval) and
  // statement_timeout bounds the statement, so a cancel that is skipped or
  // lost costs nothing but promptness.
  if (conn_ == nullptr || cancels_in_flight_->load() > 0) return;
  PGcancel* cancel = PQgetCancel(conn_);
  if (cancel == nullptr) return;
  cancels_in_flight_->fetch_add(1);
  std::thread([cancel, in_flight = cancels_in_flight_] {
    char err[256];
    PQcancel(cancel, err, sizeof err);
    PQfreeCancel(cancel);
    in_flight->fetch_sub(1);
  }).detach();
}

Status PostgresCollector::Connect(const ProbeContext& ctx, const char** why) {
  // PQconnectStart resolves host names synchronously; use an address or an
  // /etc/hosts name where a slow resolver is possible.
  conn_ = PQconnectStart(config_.dsn.reveal().c_str());
  *why = reason::kConnectionRefused;
  if (conn_ == nullptr) {
    *why = reason::kInternal;
    return Status::Error("libpq could not be loaded or could not allocate a connection");
  }
  PQsetNoticeProcessor(conn_, &IgnoreNotice, nullptr);  // default prints to stderr
  PostgresPollingStatusType st = PQstatus(conn_) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED) {
      std::string msg = Redact(PQerrorMessage(conn_));
      if (msg.find("authentication") != std::string::npos || msg.find("password") != std::string::npos) {
        *why = reason::kAuth;
      } else if (msg.find("Connection refused") == std::string::npos) {
        *why = reason::kIo;
      }
      if (msg.find("could not translate host name") != std::string::npos) *why = reason::kDns;
      Disconnect();
      return Status::Error(msg.empty() ? "connection failed" : msg);
    }
    short events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    if (!WaitSocket(PQsocket(conn_), events, ctx)) {
      Disconnect();
      *why = reason::kTimeout;
      return Status::Error("connecting timed out");
    }
    st = PQconnectPoll(conn_);
  }
  if (PQsetnonblocking(conn_, 1) != 0) {
    Disconnect();
    *why = reason::kInternal;
    return Status::Error("cannot make the connection non-blocking");
  }
  ++connections_opened_;
  // Bound the server side too: a statement never outlives the probe by much,
  // and a backend notices within a second that we dropped the connection.
  long statement_ms = std::max<long>(1, static_cast<long>(config_.timeout.count()));
  QueryOutcome setup =
      Run("SET application_name = 'botwatch'; SET client_encoding = 'UTF8';"
          " SET default_transaction_read_only = on;"
          " SET statement_timeout = " +
              std::to_string(statement_ms),
          ctx);
  if (!setup.ok) {
    // A server that dies while answering the setup is an I/O failure like any
    // other lost connection; only a setup the server refuses is "protocol".
    *why = setup.reason == "timeout" ? reason::kTimeout : setup.connection_lost ? reason::kIo : reason::kProtocol;
    Disconnect();
    return Status::Error("session setup failed: " + setup.message);
  }
  // PostgreSQL 14 and later only: older servers just keep running a dropped
  // session's statement until statement_timeout.
  QueryOutcome check = Run("SET client_connection_check_interval = 1000", ctx);
  if (check.connection_lost) {
    *why = check.reason == "timeout" ? reason::kTimeout : reason::kIo;
    return Status::Error("session setup failed: " + check.message);
  }
  return Status::Ok();
}

PostgresCollector::QueryOutcome PostgresCollector::Run(const std::string& sql, const ProbeContext& ctx) {
  QueryOutcome out;
  auto lost = [&](const char* why, std::string message) {
    out.ok = false;
    out.reason = why;
    out.message = std::move(message);
    out.connection_lost = true;
    Disconnect();  // a query may still be in flight on it: never reuse
    return out;
  };
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) return lost("connection", "not connected");
  if (PQsendQuery(conn_, sql.c_str()) == 0) return lost("connection", Redact(PQerrorMessage(conn_)));
  while (true) {
    int f = PQflush(conn_);
    if (f == 0) break;
    if (f < 0) return lost("connection", Redact(PQerrorMessage(conn_)));
    if (!WaitSocket(PQsocket(conn_), POLLOUT | POLLIN, ctx)) {
      CancelInBackground();
      return lost("timeout", "query timed out");
    }
    if (PQconsumeInput(conn_) == 0) return lost("connection", Redact(PQerrorMessage(conn_)));
  }
  bool have_error = false;
  while (true) {
    while (PQisBusy(conn_)) {
      if (!WaitSocket(PQsocket(conn_), POLLIN, ctx)) {
        CancelInBackground();
        return lost("timeout", "query timed out");
      }
      if (PQconsumeInput(conn_) == 0) return lost("connection", Redact(PQerrorMessage(conn_)));
    }
    PGresult* res = PQgetResult(conn_);
    if (res == nullptr) break;
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK) {
      out.rows = PgRows{};
      int ncols = PQnfields(res);
      int nrows = PQntuples(res);
      for (int c = 0; c < ncols; ++c) out.rows.columns.emplace_back(PQfname(res, c));
      out.rows.rows.reserve(static_cast<size_t>(nrows));
      for (int r = 0; r < nrows; ++r) {
        std::vector<std::optional<std::string>> row;
        row.reserve(static_cast<size_t>(ncols));
        for (int c = 0; c < ncols; ++c) {
          if (PQgetisnull(res, r, c)) {
            row.emplace_back(std::nullopt);
          } else {
            row.emplace_back(std::string(PQgetvalue(res, r, c), static_cast<size_t>(PQgetlength(res, r, c))));
          }
        }
        out.rows.rows.push_back(std::move(row));
      }
    } else if (st != PGRES_COMMAND_OK && st != PGRES_EMPTY_QUERY && !have_error) {
      have_error = true;
      const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
      const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
      std::string sqlstate = state ? state : "";
      out.reason = ReasonForSqlState(sqlstate);
      out.message = Redact((sqlstate.empty() ? "" : "SQLSTATE " + sqlstate + ": ") +
                           (primary ? primary : PQresultErrorMessage(res)));
    }
    PQclear(res);
  }
  if (PQstatus(conn_) != CONNECTION_OK) {
    return lost("connection", out.message.empty() ? Redact(PQerrorMessage(conn_)) : out.message);
  }
  out.ok = !have_error;
  return out;
}

// ---------------------------------------------------------------- probe

namespace {

std::optional<double> Cell(const PgRows& rows, size_t r, size_t c) {
  if (r >= rows.rows.size() || c >= rows.rows[r].size() || !rows.rows[r][c]) return std::nullopt;
  return ParseNumber(*rows.rows[r][c]);
}

constexpr const char* kScalarsSql =
    "SELECT current_setting('max_connections')::float8,"
    " coalesce((SELECT extract(epoch FROM max(clock_timestamp() - query_start))::float8"
    "   FROM pg_stat_activity WHERE state = 'active' AND backend_type = 'client backend'"
    "   AND pid <> pg_backend_pid()), 0),"
    " coalesce((SELECT extract(epoch FROM max(clock_timestamp() - state_change))::float8"
    "   FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'), 0)";

constexpr const char* kStatesSql =
    "SELECT state, count(*) FROM pg_stat_activity"
    " WHERE backend_type = 'client backend' AND state IS NOT NULL GROUP BY state";

constexpr const char* kDatabasesSql =
    "SELECT datname, xact_commit, xact_rollback, deadlocks, blks_hit, blks_read,"
    " CASE WHEN has_database_privilege(datname, 'CONNECT') THEN pg_database_size(datname) END"
    " FROM pg_stat_database WHERE datname IS NOT NULL AND datname NOT IN ('template0', 'template1')";

// kScalarsSql: server settings and the longest waits.
void EmitPgSettings(const PgRows& rows, FamilyBuilder& fb) {
  if (auto v = Cell(rows, 0, 0)) {
    fb.Gauge("botwatch_postgres_max_connections", "The server's max_connections setting.", *v);
  }
  if (auto v = Cell(rows, 0, 1)) {
    fb.Gauge("botwatch_postgres_longest_query_seconds",
             "Age of the longest-running active query of another session (0: none).", *v);
  }
  if (auto v = Cell(rows, 0, 2)) {
    fb.Gauge("botwatch_postgres_oldest_idle_in_transaction_seconds",
             "How long the oldest idle-in-transaction session has been idle (0: none).", *v);
  }
}

// kStatesSql: client connections by state.
void EmitPgActivity(const PgRows& rows, FamilyBuilder& fb) {
  std::map<std::string, double> by_state;
  for (const char* s : kStates) by_state[s] = 0;
  for (size_t r = 0; r < rows.rows.size(); ++r) {
    const auto& name = rows.rows[r][0];
    auto n = Cell(rows, r, 1);
    if (name && n) by_state[StateLabel(*name)] += *n;
  }
  for (const auto& [state, n] : by_state) {
    fb.Gauge("botwatch_postgres_connections", "Client connections by state (pg_stat_activity).", n, {{"state", state}});
  }
}

// kDatabasesSql: per database.
void EmitPgDatabases(const PgRows& rows, FamilyBuilder& fb) {
  for (size_t r = 0; r < rows.rows.size(); ++r) {
    if (!rows.rows[r][0]) continue;
    FamilyBuilder::Labels l = {{"datname", *rows.rows[r][0]}};
    if (auto v = Cell(rows, r, 1)) {
      fb.Counter("botwatch_postgres_transactions_committed_total", "Transactions committed, per database.", *v, l);
    }
    if (auto v = Cell(rows, r, 2)) {
      fb.Counter("botwatch_postgres_transactions_rolled_back_total", "Transactions rolled back, per database.", *v, l);
    }
    if (auto v = Cell(rows, r, 3)) {
      fb.Counter("botwatch_postgres_deadlocks_total", "Deadlocks detected, per database.", *v, l);
    }
    auto hit = Cell(rows, r, 4), read = Cell(rows, r, 5);
    if (hit && read && *hit + *read > 0) {
      fb.Gauge("botwatch_postgres_buffer_cache_hit_ratio",
               "Share of block reads served from shared buffers since the stats reset, per database.",
               *hit / (*hit + *read), l);
    }
    if (auto v = Cell(rows, r, 6)) {
      fb.Gauge("botwatch_postgres_database_size_bytes", "Disk space used by the database.", *v, l);
    }
  }
}

}  // namespace

void PostgresCollector::CollectBuiltins(const ProbeContext& ctx, FamilyBuilder& fb) {
  struct Section {
    const char* name;
    const char* sql;
    void (*emit)(const PgRows& rows, FamilyBuilder& fb);
  };
  static constexpr Section kSections[] = {
      {"settings", kScalarsSql, EmitPgSettings},
      {"activity", kStatesSql, EmitPgActivity},
      {"databases", kDatabasesSql, EmitPgDatabases},
  };
  for (const Section& section : kSections) {
    QueryOutcome q = Run(section.sql, ctx);
    if (q.connection_lost) return;
    if (q.ok) {
      section.emit(q.rows, fb);
    } else {
      LogSectionFailure(section.name, q);
    }
  }
  if (config_.top_statements > 0) CollectTopStatements(ctx, fb);
}

void PostgresCollector::LogSectionFailure(const char* section, const QueryOutcome& q) const {
  logging::Debug(
      "postgres builtin query failed",
      {{"collector", config_.collector_name}, {"section", section}, {"reason", q.reason}, {"err", q.message}});
}

bool PostgresCollector::CollectTopStatements(const ProbeContext& ctx, FamilyBuilder& fb) {
  if (!has_stat_statements_) {
    QueryOutcome ext = Run("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'", ctx);
    if (ext.connection_lost) return false;
    if (ext.ok) has_stat_statements_ = Cell(ext.rows, 0, 0).value_or(0) > 0;
  }
  bool available = false;
  if (has_stat_statements_.value_or(false)) {
    // Grouped by queryid: the view has one row per (user, database, query), and
    // two samples with the same labels would make the exposition invalid.
    // Utility statements keep their literal text, so passwords are masked.
    std::string sql =
        "SELECT queryid::text,"
        " left(regexp_replace(regexp_replace(min(query), '\\s+', ' ', 'g'),"
        "   '(password\\s+)''([^'']|'''')*''', '\\1''<redacted>''', 'gi'), 120),"
        " sum(calls)::float8, (sum(total_exec_time) / nullif(sum(calls), 0) / 1000)::float8 AS mean_s"
        " FROM pg_stat_statements WHERE queryid IS NOT NULL GROUP BY queryid"
        " ORDER BY mean_s DESC NULLS LAST LIMIT " +
        std::to_string(config_.top_statements);
    QueryOutcome top = Run(sql, ctx);
    if (top.connection_lost) return false;
    if (top.ok) {
      available = true;
      for (size_t r = 0; r < top.rows.rows.size(); ++r) {
        const auto& id = top.rows.rows[r][0];
        const auto& text = top.rows.rows[r][1];
        auto calls = Cell(top.rows, r, 2);
        auto mean = Cell(top.rows, r, 3);
        if (!id || !mean) continue;
        FamilyBuilder::Labels l = {{"queryid", *id}, {"query", Redact(text.value_or(""))}};
        fb.Gauge("botwatch_postgres_statement_mean_seconds",
                 "Mean execution time of the slowest statements (top_statements, pg_stat_statements).", *mean, l);
        if (calls) {
          fb.Counter("botwatch_postgres_statement_calls_total",
                     "Calls of the slowest statements (top_statements, pg_stat_statements).", *calls, l);
        }
      }
    } else {
      LogSectionFailure("pg_stat_statements", top);
    }
  }
  fb.Gauge("botwatch_postgres_stat_statements_available",
           "Whether pg_stat_statements is installed and readable in the connected database.", available ? 1 : 0);
  return true;
}

void PostgresCollector::CollectCustom(const ProbeContext& ctx, FamilyBuilder& fb) {
  auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < config_.queries.size(); ++i) {
    const PgCustomQuery& q = config_.queries[i];
    QueryState& st = query_states_[i];
    bool due = !st.ran || !q.interval || now - st.last_run >= *q.interval;
    if (due && conn_ != nullptr) {
      auto started = std::chrono::steady_clock::now();
      QueryOutcome out = Run(q.sql, ctx);
      st.ran = true;
      st.last_run = started;
      st.duration_seconds = Seconds(started);
      std::string why, message;
      if (out.ok) {
        FamilyBuilder samples;
        if (auto err = AppendCustomQuerySamples(q, out.rows, samples)) {
          why = err->reason;
          message = err->message;
        } else {
          st.samples = samples.Take();
        }
      } else {
        why = out.reason;
        message = out.message;
      }
      st.up = why.empty();
      if (!st.up) {
        st.samples.clear();
        ++st.errors_by_reason[why];
      }
      if (why != st.last_reason) {
        if (st.up) {
          logging::Info("postgres query recovered", {{"collector", config_.collector_name}, {"query", q.name}});
        } else {
          logging::Warn("postgres query failed",
                        {{"collector", config_.collector_name}, {"query", q.name}, {"reason", why}, {"err", message}});
        }
        st.last_reason = why;
      }
      if (out.connection_lost) Disconnect();  // the rest waits for the next probe
    }
    if (!st.ran) continue;
    FamilyBuilder::Labels l = {{"query", q.name}};
    fb.Gauge("botwatch_postgres_custom_query_up", "Whether the custom query's last run succeeded.", st.up ? 1 : 0, l);
    fb.Gauge("botwatch_postgres_custom_query_duration_seconds", "Duration of the custom query's last run.",
             st.duration_seconds, l);
    for (const auto& [why, n] : st.errors_by_reason) {
      fb.Counter("botwatch_postgres_custom_query_errors_total", "Failed runs of the custom query, by reason.",
                 static_cast<double>(n), {{"query", q.name}, {"reason", why}});
    }
  }
}

ProbeResult PostgresCollector::Collect(const ProbeContext& ctx) {
  FamilyBuilder fb;
  auto down = [&](const char* why, const std::string& message) {
    Disconnect();
    // Fresh families: whatever this probe gathered before failing is dropped.
    FamilyBuilder out;
    // Up or down is botwatch_collector_up{collector=...}: not repeated here.
    out.Counter("botwatch_postgres_connections_opened_total", "Connections botwatch opened to the server.",
                static_cast<double>(connections_opened_));
    ProbeResult r = ProbeResult::Down(why, message);
    r.families = out.Take();
    return r;
  };
  if (conn_ != nullptr && PQstatus(conn_) != CONNECTION_OK) Disconnect();
  bool reused = conn_ != nullptr;
  if (conn_ == nullptr) {
    const char* why = reason::kInternal;
    Status st = Connect(ctx, &why);
    if (!st.ok()) return down(why, st.message());
  }
  auto ping_start = std::chrono::steady_clock::now();
  QueryOutcome ping = Run("SELECT 1", ctx);
  if (!ping.ok && reused && ping.connection_lost && ping.reason != "timeout") {
    // The kept connection died since the last probe (server restart, idle
    // timeout): one fresh attempt before reporting the server down.
    Disconnect();
    const char* why = reason::kInternal;
    Status st = Connect(ctx, &why);
    if (!st.ok()) return down(why, st.message());
    ping_start = std::chrono::steady_clock::now();
    ping = Run("SELECT 1", ctx);
  }
  if (!ping.ok) {
    const char* why = ping.reason == "timeout" ? reason::kTimeout : ping.connection_lost ? reason::kIo : kQueryError;
    return down(why, "SELECT 1 failed: " + ping.message);
  }
  double round_trip = Seconds(ping_start);
  fb.Gauge("botwatch_postgres_round_trip_seconds", "Round-trip time of SELECT 1.", round_trip);

  CollectBuiltins(ctx, fb);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    return down(ctx.Remaining().count() == 0 ? reason::kTimeout : reason::kIo, "connection lost during the probe");
  }
  CollectCustom(ctx, fb);
  fb.Counter("botwatch_postgres_connections_opened_total", "Connections botwatch opened to the server.",
             static_cast<double>(connections_opened_));
  ProbeResult r = ProbeResult::Up();
  r.families = fb.Take();
  for (const auto& st : query_states_) {
    if (st.up) r.families.insert(r.families.end(), st.samples.begin(), st.samples.end());
  }
  return r;
}

}  // namespace botwatch
