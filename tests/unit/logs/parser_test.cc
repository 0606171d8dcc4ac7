// Parsers and the line splitter: pure functions over literal strings.

#include <catch2/catch.hpp>

#include "logs/line_splitter.h"
#include "logs/parser.h"

using botwatch::Event;
using botwatch::FieldTable;
using botwatch::FieldValue;
using Kind = botwatch::FieldValue::Kind;

namespace {

FieldTable Fields(std::initializer_list<const char*> paths) {
  FieldTable t;
  for (const char* p : paths) t.Intern(p);
  return t;
}

struct Parsed {
  bool ok;
  Event event;
};

template <typename P>
Parsed Run(P& parser, const FieldTable& fields, std::string_view line) {
  Parsed p;
  p.event.Reset(fields.size());
  p.ok = parser.Parse(line, p.event);
  return p;
}

}  // namespace

TEST_CASE("json parser reads strings, numbers, booleans, null and nested paths") {
  FieldTable f = Fields({"message", "responseTime", "cacheHit", "meta.user.id", "gone", "nothing", "meta"});
  botwatch::JsonParser p(f);
  Parsed r = Run(p, f,
                 R"({"level":"info","message":"hi \"there\"","responseTime":12.5,"cacheHit":false,)"
                 R"("meta":{"user":{"id":"u-7","x":[1,{"y":2}]},"z":null},"nothing":null})");
  REQUIRE(r.ok);
  CHECK(r.event.at(0).kind == Kind::kString);
  CHECK(r.event.at(0).text == "hi \"there\"");
  CHECK(r.event.at(1).kind == Kind::kNumber);
  CHECK(r.event.at(1).number == 12.5);
  CHECK(r.event.at(1).text == "12.5");
  CHECK(r.event.at(2).kind == Kind::kBool);
  CHECK(r.event.at(2).text == "false");
  CHECK(r.event.at(3).text == "u-7");
  CHECK(r.event.at(4).kind == Kind::kAbsent);
  CHECK(r.event.at(5).kind == Kind::kNull);
  CHECK(r.event.at(6).kind == Kind::kComposite);
}

TEST_CASE("json parser rejects malformed lines as a whole") {
  FieldTable f = Fields({"message"});
  botwatch::JsonParser p(f);
  const char* bad[] = {
      R"({"message":"truncated)",
      R"({"message":"ok","n":1)",
      R"({"message":"ok"}{"message":"glued"})",
      R"({"message":"ok"} trailing)",
      R"({"message":"ok","a":{"b":[1,2}})",
      R"({"message":"ok","flag":tru})",
      R"({"message":"ok","x":nul})",
      R"(["message","array"])",
      R"("just a string")",
      "Error: connection reset\n    at Socket.onread (net.js:1:1)",
      "",
      "{\"message\":\"bad utf8 \xc3\x28\"}",
      "{\"message\":\"ok\",\"other\":\"bad utf8 \xff\"}",
      R"({"message":1e400})",
  };
  for (const char* line : bad) {
    INFO(line);
    CHECK_FALSE(Run(p, f, line).ok);
  }
  // A wanted-field miss is not an error; an unwanted huge number is tolerated
  // (never read), -0 is a number.
  CHECK(Run(p, f, R"({"other":1})").ok);
  CHECK(Run(p, f, R"({"message":"x","other":1e400})").ok);
  FieldTable g = Fields({"n"});
  botwatch::JsonParser pn(g);
  Parsed z = Run(pn, g, R"({"n":-0})");
  REQUIRE(z.ok);
  CHECK(z.event.at(0).number == 0);
  CHECK(std::signbit(z.event.at(0).number));
  CHECK(z.event.at(0).text == "-0");
  CHECK(Run(pn, g, R"({"n":18446744073709551616})").event.at(0).number == 18446744073709551616.0);
}

TEST_CASE("json parser maps pino numeric levels to names") {
  FieldTable f = Fields({"level", "time"});
  botwatch::JsonParser p(f);
  for (auto [num, name] : std::vector<std::pair<int, std::string>>{
           {10, "trace"}, {20, "debug"}, {30, "info"}, {40, "warn"}, {50, "error"}, {60, "fatal"}}) {
    Parsed r = Run(p, f, R"({"level":)" + std::to_string(num) + R"(,"time":1795341602123,"msg":"x"})");
    REQUIRE(r.ok);
    CHECK(r.event.at(0).kind == Kind::kString);
    CHECK(r.event.at(0).text == name);
    CHECK(botwatch::ParseTimestamp(r.event.at(1)) == Approx(1795341602.123));
  }
  Parsed odd = Run(p, f, R"({"level":35})");
  CHECK(odd.event.at(0).kind == Kind::kNumber);
  // Regression (fuzz_log_json, UBSan): levels outside int's range, and
  // fractions of a level, stay numbers.
  for (const char* level : {"1e10", "-1e10", "1.7e308", "30.5", "-30"}) {
    INFO(level);
    Parsed r = Run(p, f, std::string(R"({"level":)") + level + "}");
    REQUIRE(r.ok);
    CHECK(r.event.at(0).kind == Kind::kNumber);
  }
  Parsed winston = Run(p, f, R"({"level":"warn"})");
  CHECK(winston.event.at(0).text == "warn");
}

TEST_CASE("timestamps parse from RFC 3339 strings and epoch numbers") {
  auto ts = [](std::string_view s) {
    FieldValue v;
    v.kind = Kind::kString;
    v.text = s;
    return botwatch::ParseTimestamp(v);
  };
  CHECK(ts("1970-01-01T00:00:00Z") == 0.0);
  CHECK(ts("2026-11-22T10:00:00.250Z") == Approx(1795341600.25));
  CHECK(ts("2026-11-22T11:00:00.250+01:00") == Approx(1795341600.25));
  CHECK(ts("2026-11-22 10:00:00Z") == Approx(1795341600));
  CHECK_FALSE(ts("2026-13-22T10:00:00Z"));
  CHECK_FALSE(ts("yesterday"));
  CHECK_FALSE(ts("2026-11-22T10:00:00Zjunk"));
}

TEST_CASE("logfmt parser reads bare and quoted values") {
  FieldTable f = Fields({"level", "msg", "user", "dur", "flag", "missing"});
  botwatch::LogfmtParser p(f);
  Parsed r = Run(p, f, R"(level=info msg="hello \"world\" a=b" user=u1 dur=0.25 flag)");
  REQUIRE(r.ok);
  CHECK(r.event.at(0).text == "info");
  CHECK(r.event.at(1).text == "hello \"world\" a=b");
  CHECK(r.event.at(2).text == "u1");
  CHECK(r.event.at(3).AsNumber() == 0.25);
  CHECK(r.event.at(4).kind == Kind::kBool);
  CHECK(r.event.at(5).kind == Kind::kAbsent);
  CHECK_FALSE(Run(p, f, R"(msg="unterminated)").ok);
  CHECK_FALSE(Run(p, f, "plain text without pairs").ok);
  CHECK_FALSE(Run(p, f, "=novalue").ok);
  CHECK(Run(p, f, "a= b=2").ok);
}

TEST_CASE("regex parser names its capture groups by the configured list") {
  FieldTable f = Fields({"status", "path", "ms"});
  botwatch::RegexParser p(f, R"(^(\S+) (\S+) (\d{3}) (\d+)ms$)", {"method", "path", "status", "ms"});
  Parsed r = Run(p, f, "GET /webhook 200 15ms");
  REQUIRE(r.ok);
  CHECK(r.event.at(0).text == "200");
  CHECK(r.event.at(1).text == "/webhook");
  CHECK(r.event.at(2).AsNumber() == 15.0);
  CHECK_FALSE(Run(p, f, "garbage").ok);
}

TEST_CASE("regex parser takes PCRE-style named groups") {
  auto named = botwatch::TranslateNamedGroups(
      R"(^(?<method>\S+) (?:/api)?(?<path>[^ (]+) \((\d+)\) (?<meta.ms>\d+)ms [(?<x>]$)");
  REQUIRE(named.ok());
  // A "(" inside [...] or escaped is a literal; (?:...) captures nothing.
  CHECK(named.value().ecmascript == R"(^(\S+) (?:/api)?([^ (]+) \((\d+)\) (\d+)ms [(?<x>]$)");
  CHECK(named.value().group_names == std::vector<std::string>{"method", "path", "", "meta.ms"});
  FieldTable f = Fields({"path", "meta.ms"});
  botwatch::RegexParser p(f, named.value().ecmascript, named.value().group_names);
  Parsed r = Run(p, f, "POST /api/webhook (7) 15ms x");
  REQUIRE(r.ok);
  CHECK(r.event.at(0).text == "/webhook");
  CHECK(r.event.at(1).AsNumber() == 15.0);

  CHECK(botwatch::TranslateNamedGroups("(?<1x>a)").status().message() ==
        "invalid group name at offset 0: use (?<name>...) with letters, digits, '_' or '.'");
  CHECK_FALSE(botwatch::TranslateNamedGroups("a(?<open").ok());
  CHECK_FALSE(botwatch::TranslateNamedGroups("(?<>x)").ok());
  auto plain = botwatch::TranslateNamedGroups(R"((a)(?=b)(c))");
  REQUIRE(plain.ok());
  CHECK_FALSE(plain.value().any_named);
  CHECK(plain.value().group_names.size() == 2);
}

TEST_CASE("line splitter handles partial lines, CRLF and oversized lines") {
  botwatch::LineSplitter s(10);
  std::vector<std::string> lines;
  int too_long = 0;
  auto ingest = [&](std::string_view chunk) {
    s.Ingest(
        chunk, [&](std::string_view l) { lines.emplace_back(l); }, [&] { ++too_long; });
  };
  ingest("ab");
  CHECK(lines.empty());
  CHECK(s.pending_bytes() == 2);
  ingest("c\r\nde\n\nf");
  CHECK(lines == std::vector<std::string>{"abc", "de", ""});
  CHECK(s.pending_bytes() == 1);
  ingest("0123456789");  // "f" + 10 bytes, no newline yet: over the limit
  CHECK(too_long == 1);
  ingest("more of the same long line");
  CHECK(too_long == 1);
  ingest("\nok\n");
  CHECK(lines.back() == "ok");
  CHECK(too_long == 1);
  ingest("0123456789A\nfine\n");  // oversized line arriving whole
  CHECK(too_long == 2);
  CHECK(lines.back() == "fine");
  ingest("tail");
  CHECK(s.Flush([&](std::string_view l) { lines.emplace_back(l); }));
  CHECK(lines.back() == "tail");
  CHECK(s.pending_bytes() == 0);
}
