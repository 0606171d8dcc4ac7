#include "logs/parser.h"

#include <algorithm>
#include <cctype>

#include <cstring>

namespace botwatch {

// ---- json ----

JsonParser::JsonParser(const FieldTable& fields) {
  nodes_.emplace_back();
  for (size_t slot = 0; slot < fields.size(); ++slot) {
    const std::string& path = fields.paths()[slot];
    int node = 0;
    size_t start = 0;
    while (true) {
      size_t dot = path.find('.', start);
      std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      int child = -1;
      for (int c : nodes_[node].children) {
        if (nodes_[c].key == part) child = c;
      }
      if (child < 0) {
        child = static_cast<int>(nodes_.size());
        nodes_.push_back(Node{part, -1, {}});
        nodes_[node].children.push_back(child);
      }
      node = child;
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    nodes_[node].slot = static_cast<int>(slot);
    if (path == "level") level_slot_ = static_cast<int>(slot);
  }
}

namespace {

std::string_view PinoLevelName(double level) {
  // Only pino's exact levels: a cast of 1e10 (or NaN) to int is undefined
  // behaviour (found by fuzz_log_json), and 30.5 is no level at all.
  if (!(level >= 10 && level <= 60) || level != static_cast<double>(static_cast<int>(level))) return {};
  switch (static_cast<int>(level)) {
    case 10:
      return "trace";
    case 20:
      return "debug";
    case 30:
      return "info";
    case 40:
      return "warn";
    case 50:
      return "error";
    case 60:
      return "fatal";
    default:
      return {};
  }
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

bool JsonParser::Extract(simdjson::ondemand::value value, int slot, bool is_level, Event& event) {
  using simdjson::ondemand::json_type;
  FieldValue& out = event.fields[static_cast<size_t>(slot)];
  json_type type;
  if (value.type().get(type)) return false;
  switch (type) {
    case json_type::string: {
      std::string_view s;
      if (value.get_string().get(s)) return false;
      out.kind = FieldValue::Kind::kString;
      out.text = s;
      return true;
    }
    case json_type::number: {
      std::string_view raw = TrimRight(value.raw_json_token());
      std::optional<double> n = ParseNumber(raw);
      if (!n) return false;  // 1e400 and friends: not representable
      out.kind = FieldValue::Kind::kNumber;
      out.text = raw;
      out.number = *n;
      if (is_level) {
        std::string_view name = PinoLevelName(*n);
        if (!name.empty()) {
          out.kind = FieldValue::Kind::kString;
          out.text = name;
        }
      }
      return true;
    }
    case json_type::boolean: {
      bool b;
      if (value.get_bool().get(b)) return false;
      out.kind = FieldValue::Kind::kBool;
      out.text = b ? "true" : "false";
      out.number = b ? 1 : 0;
      return true;
    }
    case json_type::null: {
      bool is_null = false;
      if (value.is_null().get(is_null) || !is_null) return false;
      out.kind = FieldValue::Kind::kNull;
      return true;
    }
    default:
      // An object or array wanted as a value: skipping it still validates its
      // structure.
      out.kind = FieldValue::Kind::kComposite;
      return true;
  }
}

bool JsonParser::WalkObject(simdjson::ondemand::object obj, int node, Event& event) {
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    simdjson::ondemand::value value;
    if (field.value().get(value)) return false;
    int child = -1;
    for (int c : nodes_[node].children) {
      if (nodes_[c].key == key) {
        child = c;
        break;
      }
    }
    if (child >= 0 && !nodes_[child].children.empty()) {
      simdjson::ondemand::json_type type;
      if (value.type().get(type)) return false;
      if (type == simdjson::ondemand::json_type::object) {
        simdjson::ondemand::object inner;
        if (value.get_object().get(inner)) return false;
        if (!WalkObject(inner, child, event)) return false;
        if (nodes_[child].slot >= 0) event.fields[nodes_[child].slot].kind = FieldValue::Kind::kComposite;
        continue;
      }
    }
    if (child >= 0 && nodes_[child].slot >= 0) {
      if (!Extract(value, nodes_[child].slot, nodes_[child].slot == level_slot_ && node == 0, event)) return false;
      continue;
    }
    // Unwanted value: literals are checked (simdjson would skip "tru"); strings
    // were validated (closed, UTF-8) by the structural pass; containers are
    // skipped by depth, which catches truncation.
    const char* loc;
    if (value.current_location().get(loc)) return false;
    if (*loc == 't' || *loc == 'f') {
      bool b;
      if (value.get_bool().get(b)) return false;
    } else if (*loc == 'n') {
      bool is_null = false;
      if (value.is_null().get(is_null) || !is_null) return false;
    }
  }
  return true;
}

bool JsonParser::Parse(std::string_view line, Event& event) {
  // simdjson reads up to SIMDJSON_PADDING bytes past the end; a copy of a
  // few hundred bytes is cheaper than proving the caller's buffer has them.
  size_t need = line.size() + simdjson::SIMDJSON_PADDING;
  if (scratch_.size() < need) scratch_.resize(need);
  std::memcpy(scratch_.data(), line.data(), line.size());
  simdjson::ondemand::document doc;
  if (parser_.iterate(scratch_.data(), line.size(), scratch_.size()).get(doc)) return false;
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj)) return false;
  if (!WalkObject(obj, 0, event)) return false;
  // Anything after the object (a second object glued on) is an error.
  const char* rest;
  return doc.current_location().get(rest) != simdjson::SUCCESS;
}

// ---- logfmt ----

LogfmtParser::LogfmtParser(const FieldTable& fields) : fields_(fields) {
  for (size_t i = 0; i < fields.size(); ++i) wanted_.emplace_back(fields.paths()[i], static_cast<int>(i));
}

bool LogfmtParser::Parse(std::string_view line, Event& event) {
  unescaped_.clear();
  unescaped_.reserve(line.size());  // never reallocates below: views stay valid
  size_t i = 0, pairs = 0;
  const size_t n = line.size();
  while (i < n) {
    while (i < n && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= n) break;
    size_t key_start = i;
    while (i < n && line[i] != '=' && line[i] != ' ' && line[i] != '\t' && line[i] != '"') ++i;
    std::string_view key = line.substr(key_start, i - key_start);
    if (key.empty()) return false;
    std::string_view value;
    bool has_value = i < n && line[i] == '=';
    if (has_value) {
      ++i;
      if (i < n && line[i] == '"') {
        ++i;
        size_t start = unescaped_.size();
        bool closed = false;
        while (i < n) {
          char c = line[i++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\') {
            if (i >= n) return false;
            char e = line[i++];
            switch (e) {
              case 'n':
                c = '\n';
                break;
              case 't':
                c = '\t';
                break;
              case 'r':
                c = '\r';
                break;
              default:
                c = e;
            }
          }
          unescaped_.push_back(c);
        }
        if (!closed) return false;
        value = std::string_view(unescaped_).substr(start);
      } else {
        size_t start = i;
        while (i < n && line[i] != ' ' && line[i] != '\t') ++i;
        value = line.substr(start, i - start);
      }
      ++pairs;
    } else if (i < n && line[i] == '"') {
      return false;
    }
    for (const auto& [path, slot] : wanted_) {
      if (path == key) {
        FieldValue& out = event.fields[static_cast<size_t>(slot)];
        out.kind = has_value ? FieldValue::Kind::kString : FieldValue::Kind::kBool;
        out.text = has_value ? value : std::string_view("true");
        out.number = 1;
      }
    }
  }
  return pairs > 0;
}

// ---- regex ----

Result<RegexWithNames> TranslateNamedGroups(std::string_view pattern) {
  RegexWithNames out;
  out.ecmascript.reserve(pattern.size());
  bool in_class = false;  // inside [...], where '(' is a literal
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      out.ecmascript += c;
      out.ecmascript += pattern[++i];
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out.ecmascript += c;
      continue;
    }
    if (c == '[') in_class = true;
    out.ecmascript += c;
    if (c != '(') continue;
    if (pattern.substr(i + 1, 2) == "?<" && i + 3 < pattern.size() && pattern[i + 3] != '=' && pattern[i + 3] != '!') {
      size_t start = i + 3;
      size_t end = pattern.find('>', start);
      std::string_view name = end == std::string_view::npos ? std::string_view() : pattern.substr(start, end - start);
      bool valid = !name.empty() && (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_') &&
                   std::all_of(name.begin(), name.end(), [](char n) {
                     return std::isalnum(static_cast<unsigned char>(n)) || n == '_' || n == '.';
                   });
      if (!valid) {
        return Status::Error("invalid group name at offset " + std::to_string(i) +
                             ": use (?<name>...) with letters, digits, '_' or '.'");
      }
      out.group_names.emplace_back(name);
      out.any_named = true;
      i = end;  // the group continues as a plain "(" in ECMAScript
    } else if (pattern.substr(i + 1, 1) != "?") {
      out.group_names.emplace_back();  // unnamed capture group
    }
  }
  return out;
}

RegexParser::RegexParser(const FieldTable& fields, const std::string& pattern,
                         const std::vector<std::string>& group_names)
    : re_(pattern, std::regex::ECMAScript | std::regex::optimize) {
  for (const std::string& name : group_names) group_slots_.push_back(fields.Find(name));
}

bool RegexParser::Parse(std::string_view line, Event& event) {
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_search(line.begin(), line.end(), m, re_)) return false;
  for (size_t g = 0; g < group_slots_.size() && g + 1 < m.size(); ++g) {
    int slot = group_slots_[g];
    if (slot < 0 || !m[g + 1].matched) continue;
    FieldValue& out = event.fields[static_cast<size_t>(slot)];
    out.kind = FieldValue::Kind::kString;
    out.text = line.substr(static_cast<size_t>(m[g + 1].first - line.begin()), static_cast<size_t>(m[g + 1].length()));
  }
  return true;
}

}  // namespace botwatch
