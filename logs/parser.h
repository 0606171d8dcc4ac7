#pragma once

// Parsers turn one line into an Event holding only the fields some rule reads.
// Each is constructed from the FieldTable of its source's rules, is pure (no
// I/O), and reports a line it cannot parse by returning false.

#include <simdjson.h>

#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "logs/event.h"

namespace botwatch {

class Parser {
 public:
  virtual ~Parser() = default;
  // Fills `event` (already sized to the field table); false = malformed line.
  virtual bool Parse(std::string_view line, Event& event) = 0;
};

// JSON objects (Winston, pino). Dotted paths reach into nested objects. The
// whole line is validated: truncated objects, two objects glued on one line,
// invalid UTF-8 and trailing garbage are all parse errors, as is a wanted
// number outside a double's range. A numeric `level` (pino) becomes its name.
class JsonParser : public Parser {
 public:
  explicit JsonParser(const FieldTable& fields);
  bool Parse(std::string_view line, Event& event) override;

 private:
  struct Node {
    std::string key;
    int slot = -1;
    std::vector<int> children;  // indexes into nodes_
  };
  bool WalkObject(simdjson::ondemand::object obj, int node, Event& event);
  bool Extract(simdjson::ondemand::value value, int slot, bool is_level, Event& event);

  std::vector<Node> nodes_;  // nodes_[0] is the root
  int level_slot_ = -1;
  simdjson::ondemand::parser parser_;
  std::string scratch_;  // the line plus simdjson's padding
};

// logfmt: key=value pairs, values optionally "quoted" with \" \\ \n \t escapes.
// A line without any key=value pair, or with an unterminated quote, is malformed.
class LogfmtParser : public Parser {
 public:
  explicit LogfmtParser(const FieldTable& fields);
  bool Parse(std::string_view line, Event& event) override;

 private:
  const FieldTable& fields_;
  std::vector<std::pair<std::string, int>> wanted_;
  std::string unescaped_;  // reserved per line so views stay valid
};

// A pattern with PCRE-style named groups, `(?<name>...)`, rewritten for
// std::regex (ECMAScript has none): the same pattern with plain groups, and
// the name of every capture group in order ("" for an unnamed one).
struct RegexWithNames {
  std::string ecmascript;
  std::vector<std::string> group_names;
  bool any_named = false;
};
// Errors name the offset of a malformed group name ("(?<1x>" or "(?<x").
Result<RegexWithNames> TranslateNamedGroups(std::string_view pattern);

// A regular expression (ECMAScript syntax) whose capture groups are named by
// `group_names` in order (from TranslateNamedGroups or the source's `fields:`).
// A line the regex does not match is malformed.
class RegexParser : public Parser {
 public:
  RegexParser(const FieldTable& fields, const std::string& pattern, const std::vector<std::string>& group_names);
  bool Parse(std::string_view line, Event& event) override;

 private:
  std::regex re_;
  std::vector<int> group_slots_;  // slot per capture group, -1 if no rule reads it
};

}  // namespace botwatch
