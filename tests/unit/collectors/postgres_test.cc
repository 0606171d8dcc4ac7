#include "collectors/postgres.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "agent/config.h"

using namespace botwatch;

namespace {

std::string LoadError(const std::string& keys) {
  std::string text = "collectors:\n  - {name: db, type: postgres, " + keys + "}\n";
  auto config = LoadConfigText(text, ConfigSource{"b.yaml", "", &ProcessEnv});
  return config.ok() ? "" : config.status().message();
}

}  // namespace

TEST_CASE("postgres config: custom query names become valid metric names or are rejected") {
  const std::string dsn = "dsn: 'host=127.0.0.1 password=hunter2'";
  CHECK(LoadError(dsn) == "");
  CHECK(LoadError(dsn + ", queries: [{name: q, sql: 'SELECT 1 AS n', metrics: [{column: n}]}]") == "");
  struct Case {
    std::string keys;
    std::string message;
  };
  std::vector<Case> cases = {
      {"queries: [{name: 'bad-name', sql: 'SELECT 1', metrics: [{column: n}]}]",
       "b.yaml:2:89: collectors[0].queries[0].name: \"bad-name\" is not a valid query name"},
      {"queries: [{name: q, sql: 'SELECT 1', metrics: [{column: '1n'}]}]",
       "collectors[0].queries[0].metrics[0].column: \"1n\" is not a valid column name"},
      {"queries: [{name: q, sql: 'SELECT 1', metrics: [{column: n, type: histogram}]}]",
       "collectors[0].queries[0].metrics[0].type: expected gauge or counter, got \"histogram\""},
      {"queries: [{name: q, sql: 'SELECT 1', metrics: [{column: n, labels: [__x]}]}]",
       "\"__x\" is not a valid label name"},
      {"queries: [{name: q, sql: 'SELECT 1', metrics: [{column: n, labels: [collector]}]}]",
       "\"collector\" is reserved"},
      {"queries: [{name: q, sql: 'SELECT 1', metrics: [{column: n, labels: [a, a]}]}]", "duplicate label \"a\""},
      {"queries: [{name: q, sql: 'SELECT 1', metrics: [{column: n}]}, {name: q, sql: 'SELECT 1', metrics: [{column: "
       "n}]}]",
       "duplicate query name \"q\""},
      {"queries: [{name: a_b, sql: 'SELECT 1', metrics: [{column: c}]}, {name: a, sql: 'SELECT 1', metrics: "
       "[{column: b_c}]}]",
       "metric name botwatch_postgres_query_a_b_c is produced twice"},
      {"queries: [{name: q, sql: '  ', metrics: [{column: n}]}]", "sql: must not be empty"},
      {"queries: [{name: q, sql: 'SELECT 1', metrics: []}]", "at least one metric is required"},
      {"queries: [{name: q, sql: 'SELECT 1', metrics: [{column: n, lables: [a]}]}]",
       "unknown key \"lables\" (did you mean \"labels\"?)"},
      {"queries: [{name: q, sql: 'SELECT 1', interval: 10x, metrics: [{column: n}]}]", "invalid duration"},
      {"top_statements: 1000", "top_statements"},
  };
  for (const Case& c : cases) {
    INFO(c.keys);
    std::string err = LoadError(dsn + ", " + c.keys);
    CHECK_THAT(err, Catch::Contains(c.message));
    CHECK(err.find("hunter2") == std::string::npos);
  }
  CHECK_THAT(LoadError("interval: 5s"), Catch::Contains("dsn"));
}

TEST_CASE("postgres config: an invalid DSN is reported without quoting it") {
  std::string err = LoadError("dsn: 'host=x password=s3cr3t-value bogus'");
  CHECK_THAT(err, Catch::Contains("collectors[0].dsn: not a valid libpq connection string"));
  CHECK(err.find("s3cr3t") == std::string::npos);
}

TEST_CASE("postgres: passwords are redacted from messages in every form") {
  CHECK(DsnPassword("host=h user=u password='p w'") == "p w");
  CHECK(DsnPassword("postgresql://u:pa%40ss@h:5432/db") == "pa@ss");
  CHECK(DsnPassword("host=h") == "");
  CHECK(RedactPassword("failed for pw hunter2 here", "hunter2") == "failed for pw <redacted> here");
  CHECK(RedactPassword("host=h password=abc user=u", "") == "host=h password=<redacted> user=u");
  CHECK(RedactPassword("dsn password = 'a b\\'c' x", "") == "dsn password = <redacted> x");
  CHECK(RedactPassword("postgresql://bot:xyz@h/db", "") == "postgresql://bot:<redacted>@h/db");
  CHECK(RedactPassword("ALTER ROLE x PASSWORD 'it''s'", "") == "ALTER ROLE x PASSWORD '<redacted>'");
  CHECK(RedactPassword("nothing to hide", "") == "nothing to hide");
}

TEST_CASE("postgres: SQLSTATEs map to a bounded reason") {
  CHECK(std::string(ReasonForSqlState("42601")) == "syntax_error");
  CHECK(std::string(ReasonForSqlState("42P01")) == "undefined_object");
  CHECK(std::string(ReasonForSqlState("42501")) == "permission_denied");
  CHECK(std::string(ReasonForSqlState("57014")) == "timeout");
  CHECK(std::string(ReasonForSqlState("25006")) == "read_only");
  CHECK(std::string(ReasonForSqlState("22P02")) == "data_exception");
  CHECK(std::string(ReasonForSqlState("08006")) == "connection");
  CHECK(std::string(ReasonForSqlState("XX000")) == "sql_error");
  CHECK(std::string(ReasonForSqlState("")) == "sql_error");
}

TEST_CASE("postgres: custom query rows become samples, bad rows an error") {
  PgCustomQuery q;
  q.name = "funnel";
  q.max_rows = 3;
  q.metrics.push_back({"users", false, {"step"}, "Users per funnel step.", "botwatch_postgres_query_funnel_users"});
  PgRows rows;
  rows.columns = {"step", "users"};
  rows.rows = {{"greeting", "100"}, {"catalog", "40.5"}, {"booked", std::nullopt}};
  FamilyBuilder fb;
  REQUIRE_FALSE(AppendCustomQuerySamples(q, rows, fb));
  auto families = fb.Take();
  REQUIRE(families.size() == 1);
  CHECK(families[0].metric.size() == 2);  // NULL value: no sample
  CHECK(families[0].metric[1].gauge.value == 40.5);

  rows.rows.push_back({"extra", "1"});
  FamilyBuilder too_many;
  auto err = AppendCustomQuerySamples(q, rows, too_many);
  REQUIRE(err);
  CHECK(err->reason == "too_many_rows");

  rows.rows = {{"a", "1"}, {"a", "2"}};
  FamilyBuilder dup;
  err = AppendCustomQuerySamples(q, rows, dup);
  REQUIRE(err);
  CHECK(err->reason == "duplicate_labels");

  rows.rows = {{"a", "1e"}};
  FamilyBuilder bad;
  err = AppendCustomQuerySamples(q, rows, bad);
  REQUIRE(err);
  CHECK(err->reason == "bad_value");

  rows.rows = {{"a", "t"}};
  FamilyBuilder boolean;
  CHECK_FALSE(AppendCustomQuerySamples(q, rows, boolean));
}

namespace {

// The commented example starting at `first_line` in config/botwatch.yaml,
// uncommented, up to the next blank line.
std::string DocumentedExample(const std::string& first_line) {
  std::ifstream in(std::string(BOTWATCH_SOURCE_DIR) + "/config/botwatch.yaml");
  std::string line, out;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line == first_line) inside = true;
    if (!inside) continue;
    if (line.empty()) break;
    out += (line.size() > 4 ? "  " + line.substr(4) : "") + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("the documented postgres and exec examples in config/botwatch.yaml are valid") {
  for (const char* first : {"  # - name: db", "  # - name: backup-check"}) {
    std::string example = DocumentedExample(first);
    INFO(example);
    REQUIRE(example.size() > 200);
    ConfigSource src{"botwatch.yaml", "", [](const std::string&) -> std::optional<std::string> {
                       return std::string("host=127.0.0.1 password=x");
                     }};
    auto config = LoadConfigText("collectors:\n" + example, src);
    INFO(config.status().message());
    CHECK(config.ok());
  }
}
