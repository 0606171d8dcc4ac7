#include "base/config_node.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

namespace botwatch {

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

std::string MarkString(const ConfigSource& src, const YAML::Mark& mark) {
  if (mark.is_null()) return src.file;
  return src.file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

namespace {

// yaml-cpp messages may quote the offending byte; keep error lines printable.
std::string Printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string YamlMessage(const std::string& msg) {
  // yaml-cpp 0.7 guards its recursion depth and reports it with this text.
  if (msg == YAML::ErrorMsg::BAD_FILE) return "nesting too deep";
  return Printable(msg);
}

}  // namespace

namespace {

// yaml-cpp shares an aliased node rather than copying it, but everything that
// walks the tree afterwards (config readers, rule compilers) visits it once
// per alias: `a: &a [x, x]`, `b: &b [*a, *a]`, ... doubles at every line, and
// a 600-byte file becomes billions of nodes. This pass counts the nodes the
// document expands to, from the parser's events and before anything walks it,
// and stops at the alias that crosses the bound.
class AliasExpansionGuard : public YAML::EventHandler {
 public:
  explicit AliasExpansionGuard(const ConfigSource& src) : src_(src) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t anchor) override { Leaf(anchor); }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t anchor, const std::string&) override {
    Leaf(anchor);
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(anchor);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    Open(anchor);
  }
  void OnMapEnd() override { Close(); }
  void OnAnchor(const YAML::Mark&, const std::string& name) override { next_anchor_name_ = name; }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = sizes_.find(anchor);
    if (it == sizes_.end()) {
      // Its node is still open: the alias is inside what it names, a cycle
      // that every reader would follow for ever.
      throw ConfigError(MarkString(src_, mark) + ": invalid YAML: alias *" + Name(anchor) +
                        " refers to a node that contains it");
    }
    Add(it->second);
    ++literal_;
    const uint64_t bound = std::max<uint64_t>(kMinBound, kFactor * literal_);
    if (expanded_ > bound) {
      throw ConfigError(MarkString(src_, mark) + ": invalid YAML: alias *" + Name(anchor) +
                        " expands the document past " + std::to_string(bound) +
                        " nodes (aliases may expand a document to at most " + std::to_string(kFactor) +
                        " times its own nodes, or " + std::to_string(kMinBound) + ")");
    }
  }

  static constexpr uint64_t kMinBound = 10000;
  static constexpr uint64_t kFactor = 16;

 private:
  void Leaf(YAML::anchor_t anchor) {
    NameAnchor(anchor, std::move(next_anchor_name_));
    ++literal_;
    Add(1);
    Remember(anchor, 1);
  }
  void Open(YAML::anchor_t anchor) {
    NameAnchor(anchor, std::move(next_anchor_name_));
    ++literal_;
    Add(1);
    open_.push_back({anchor, 1});
  }
  void Close() {
    if (open_.empty()) return;
    Frame f = open_.back();
    open_.pop_back();
    if (!open_.empty()) open_.back().size += f.size - 1;  // its own 1 was added on open
    Remember(f.anchor, f.size);
  }
  // Counts `n` nodes into the document and every container still open.
  void Add(uint64_t n) {
    expanded_ += n;
    if (!open_.empty()) open_.back().size += n;
  }
  void Remember(YAML::anchor_t anchor, uint64_t size) {
    if (anchor == YAML::NullAnchor) return;
    sizes_[anchor] = size;
  }
  // OnAnchor comes just before the node that carries the anchor.
  void NameAnchor(YAML::anchor_t anchor, std::string name) {
    if (anchor != YAML::NullAnchor && !name.empty()) names_[anchor] = std::move(name);
    next_anchor_name_.clear();
  }
  std::string Name(YAML::anchor_t anchor) const {
    auto it = names_.find(anchor);
    return it == names_.end() ? std::to_string(anchor) : Printable(it->second);
  }

  struct Frame {
    YAML::anchor_t anchor;
    uint64_t size;  // nodes inside it, aliases expanded, itself included
  };
  const ConfigSource& src_;
  std::vector<Frame> open_;
  std::map<YAML::anchor_t, uint64_t> sizes_;
  std::map<YAML::anchor_t, std::string> names_;
  std::string next_anchor_name_;
  uint64_t literal_ = 0;   // nodes as written (an alias counts one)
  uint64_t expanded_ = 0;  // nodes with every alias replaced by what it names
};

}  // namespace

YAML::Node ParseYaml(const std::string& text, const ConfigSource& src) {
  try {
    {
      std::istringstream in(text);
      YAML::Parser parser(in);
      AliasExpansionGuard guard(src);
      parser.HandleNextDocument(guard);
    }
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(MarkString(src, e.mark) + ": invalid YAML: " + YamlMessage(e.msg));
  }
}

namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

const char* KindName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "empty";
    case YAML::NodeType::Scalar:
      return "a scalar";
    default:
      return "undefined";
  }
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t start = 0;
  while (start < s.size() && (s[start] == ' ' || s[start] == '\t')) ++start;
  return s.substr(start);
}

}  // namespace

std::optional<std::string> ClosestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const std::string& c : candidates) {
    size_t d = EditDistance(word, c);
    // A prefix or suffix relation ("interval" vs "intervals") also counts as close.
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

namespace {
thread_local ConfigErrorList* current_error_list = nullptr;

// file:line:col of an error line, for sorting; no position sorts first.
std::tuple<std::string, long, long> ErrorPosition(const std::string& e) {
  size_t colon = e.find(": ");
  std::string head = e.substr(0, colon);
  size_t c2 = head.rfind(':');
  size_t c1 = c2 == std::string::npos || c2 == 0 ? std::string::npos : head.rfind(':', c2 - 1);
  if (c1 == std::string::npos) return {head, -1, -1};
  char* end = nullptr;
  long line = std::strtol(head.c_str() + c1 + 1, &end, 10);
  if (end != head.c_str() + c2) return {head, -1, -1};
  long col = std::strtol(head.c_str() + c2 + 1, &end, 10);
  if (*end != '\0') return {head, -1, -1};
  return {head.substr(0, c1), line, col};
}
}  // namespace

ConfigErrorList::ConfigErrorList() : previous_(current_error_list) { current_error_list = this; }
ConfigErrorList::~ConfigErrorList() { current_error_list = previous_; }
ConfigErrorList* ConfigErrorList::Current() { return current_error_list; }

std::vector<std::string> ConfigErrorList::Sorted() const {
  std::vector<std::string> out = errors_;
  std::stable_sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    auto pa = ErrorPosition(a), pb = ErrorPosition(b);
    if (std::get<1>(pa) < 0 || std::get<1>(pb) < 0) return std::get<1>(pa) < std::get<1>(pb);
    return pa < pb;
  });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void ReadIndependently(const std::function<void()>& read) {
  ConfigErrorList* list = ConfigErrorList::Current();
  if (list == nullptr) {
    read();
    return;
  }
  try {
    read();
  } catch (const ConfigError& e) {
    list->Add(e.what());
  }
}

std::string ExpandEnv(const std::string& text, const ConfigSource& src, const std::string& where) {
  if (text.find('$') == std::string::npos || src.skip_env) return text;
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '$') {
      out += c;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      size_t close = text.find('}', i + 2);
      if (close == std::string::npos) throw ConfigError(where + ": unterminated ${ in value");
      std::string name = text.substr(i + 2, close - i - 2);
      bool valid = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
      for (char ch : name) valid = valid && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
      if (!valid) throw ConfigError(where + ": invalid environment variable name " + Quote(name));
      std::optional<std::string> value = src.env(name);
      if (!value) throw ConfigError(where + ": environment variable " + name + " is not set");
      out += *value;
      i = close;
      continue;
    }
    out += c;
  }
  return out;
}

ConfigMap::ConfigMap(YAML::Node node, std::shared_ptr<const ConfigSource> src, std::string path)
    : node_(std::move(node)), src_(std::move(src)), path_(std::move(path)) {
  if (node_.IsNull()) {
    node_ = YAML::Node(YAML::NodeType::Map);
    return;
  }
  if (!node_.IsMap()) {
    throw ConfigError(MarkString(*src_, node_.Mark()) + ": " + (path_.empty() ? "config" : path_) +
                      ": expected a map, got " + KindName(node_));
  }
  std::set<std::string> seen;
  for (const auto& kv : node_) {
    if (!kv.first.IsScalar()) {
      throw ConfigError(MarkString(*src_, kv.first.Mark()) + ": " + path_ + ": keys must be plain strings");
    }
    if (!seen.insert(kv.first.Scalar()).second) {
      throw ConfigError(MarkString(*src_, kv.first.Mark()) + ": " + FieldPath(kv.first.Scalar()) + ": duplicate key");
    }
  }
}

std::string ConfigMap::FieldPath(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  if (!key.empty() && key[0] == '[') return path_ + std::string(key);
  return path_ + "." + std::string(key);
}

std::string ConfigMap::Location(std::string_view key) const {
  for (const auto& kv : node_) {
    if (kv.first.Scalar() == key) return MarkString(*src_, kv.second.Mark());
  }
  return MarkString(*src_, node_.Mark());
}

void ConfigMap::FailAt(std::string_view key, const std::string& message) const {
  throw ConfigError(Location(key) + ": " + FieldPath(key) + ": " + message);
}

void ConfigMap::FailMissing(std::string_view key, const std::string& message) const {
  for (const auto& kv : node_) {
    const std::string& present = kv.first.Scalar();
    if (read_.count(present) || present == key) continue;
    if (ClosestMatch(present, {std::string(key)})) {
      throw ConfigError(MarkString(*src_, kv.first.Mark()) + ": " + (path_.empty() ? std::string("config") : path_) +
                        ": unknown key " + Quote(present) + " (did you mean " + Quote(std::string(key)) + "?)");
    }
  }
  FailAt(key, message);
}

void ConfigMap::Fail(const std::string& message) const {
  throw ConfigError(MarkString(*src_, node_.Mark()) + ": " + (path_.empty() ? "config" : path_) + ": " + message);
}

bool ConfigMap::Has(std::string_view key) const {
  for (const auto& kv : node_) {
    if (kv.first.Scalar() == key) return true;
  }
  return false;
}

bool ConfigMap::IsList(std::string_view key) const {
  for (const auto& kv : node_) {
    if (kv.first.Scalar() == key) return kv.second.IsSequence();
  }
  return false;
}

YAML::Node ConfigMap::Get(std::string_view key) {
  read_.insert(std::string(key));
  for (const auto& kv : node_) {
    if (kv.first.Scalar() == key) return kv.second;
  }
  return YAML::Node();
}

std::string ConfigMap::ScalarString(std::string_view key, const YAML::Node& n) const {
  if (!n.IsScalar()) FailAt(key, std::string("expected a scalar value, got ") + KindName(n));
  return ExpandEnv(n.Scalar(), *src_, Location(key) + ": " + FieldPath(key));
}

std::string ConfigMap::RequiredString(std::string_view key) {
  std::optional<std::string> v = OptionalString(key);
  if (!v) FailMissing(key, "missing required field");
  return *v;
}

std::optional<std::string> ConfigMap::OptionalString(std::string_view key) {
  YAML::Node n = Get(key);
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  return ScalarString(key, n);
}

std::string ConfigMap::String(std::string_view key, std::string def) {
  std::optional<std::string> v = OptionalString(key);
  return v ? *v : def;
}

bool ConfigMap::Bool(std::string_view key, bool def) {
  std::optional<std::string> v = OptionalString(key);
  if (!v) return def;
  if (*v == "true") return true;
  if (*v == "false") return false;
  FailAt(key, "expected true or false, got " + Quote(*v));
}

std::optional<int64_t> ConfigMap::OptionalInt(std::string_view key, int64_t min, int64_t max) {
  std::optional<std::string> v = OptionalString(key);
  if (!v) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long parsed = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno == ERANGE) {
    FailAt(key, "expected an integer, got " + Quote(*v));
  }
  if (parsed < min || parsed > max) {
    FailAt(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + *v);
  }
  return parsed;
}

int64_t ConfigMap::Int(std::string_view key, int64_t def, int64_t min, int64_t max) {
  std::optional<int64_t> v = OptionalInt(key, min, max);
  return v ? *v : def;
}

double ConfigMap::Double(std::string_view key, double def) {
  std::optional<std::string> v = OptionalString(key);
  if (!v) return def;
  char* end = nullptr;
  double parsed = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || !std::isfinite(parsed)) {
    FailAt(key, "expected a number, got " + Quote(*v));
  }
  return parsed;
}

Duration ConfigMap::DurationValue(std::string_view key, Duration def, Duration min) {
  std::optional<std::string> v = OptionalString(key);
  if (!v) return def;
  Result<Duration> d = ParseDuration(*v);
  if (!d.ok()) FailAt(key, d.status().message());
  if (d.value() < min) FailAt(key, "must be at least " + FormatDuration(min) + ", got " + *v);
  return d.value();
}

void ConfigMap::ForEachItem(std::string_view key,
                            const std::function<void(const YAML::Node&, const std::string&, size_t)>& each) {
  YAML::Node n = Get(key);
  if (!n.IsDefined() || n.IsNull()) return;
  if (!n.IsSequence()) FailAt(key, std::string("expected a list, got ") + KindName(n));
  size_t i = 0;
  for (const auto& item : n) each(item, MarkString(*src_, item.Mark()) + ": " + FieldPath(key), i++);
}

std::vector<std::string> ConfigMap::StringList(std::string_view key) {
  std::vector<std::string> out;
  ForEachItem(key, [&](const YAML::Node& item, const std::string& at, size_t i) {
    std::string where = at + "[" + std::to_string(i) + "]";
    if (!item.IsScalar()) throw ConfigError(where + ": expected a scalar value, got " + KindName(item));
    out.push_back(ExpandEnv(item.Scalar(), *src_, where));
  });
  return out;
}

std::vector<int64_t> ConfigMap::IntList(std::string_view key, int64_t min, int64_t max) {
  std::vector<int64_t> out;
  ForEachItem(key, [&](const YAML::Node& item, const std::string& where, size_t) {
    char* end = nullptr;
    errno = 0;
    std::string s = item.IsScalar() ? item.Scalar() : "";
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno == ERANGE) {
      throw ConfigError(where + ": expected an integer, got " + Quote(s));
    }
    if (v < min || v > max) {
      throw ConfigError(where + ": must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                        s);
    }
    out.push_back(v);
  });
  return out;
}

std::vector<double> ConfigMap::DoubleList(std::string_view key) {
  std::vector<double> out;
  ForEachItem(key, [&](const YAML::Node& item, const std::string& where, size_t) {
    std::string s = item.IsScalar() ? item.Scalar() : "";
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || std::isnan(v)) {
      throw ConfigError(where + ": expected a number, got " + Quote(s));
    }
    out.push_back(v);
  });
  return out;
}

std::map<std::string, std::string> ConfigMap::StringMap(std::string_view key) {
  YAML::Node n = Get(key);
  std::map<std::string, std::string> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsMap()) FailAt(key, std::string("expected a map, got ") + KindName(n));
  for (const auto& kv : n) {
    std::string where = MarkString(*src_, kv.second.Mark()) + ": " + FieldPath(key) + "." + kv.first.Scalar();
    if (!kv.second.IsScalar()) {
      throw ConfigError(where + ": expected a scalar value, got " + KindName(kv.second));
    }
    out[kv.first.Scalar()] = ExpandEnv(kv.second.Scalar(), *src_, where);
  }
  return out;
}

std::optional<Secret> ConfigMap::OptionalSecret(std::string_view key) {
  std::string file_key = std::string(key) + "_file";
  bool has_value = Has(key);
  bool has_file = Has(file_key);
  if (has_value && has_file) FailAt(file_key, "set either " + std::string(key) + " or " + file_key + ", not both");
  if (has_value) {
    std::optional<std::string> v = OptionalString(key);
    read_.insert(file_key);
    if (!v) return std::nullopt;
    // `api_key: ${GEMINI_KEY}` with GEMINI_KEY set but empty: an empty secret
    // is never meant, and the peer's "unauthorized" later would hide why.
    if (v->empty()) FailAt(key, "is empty (an environment variable it names may be set but empty)");
    return Secret(*v);
  }
  read_.insert(std::string(key));
  std::optional<std::string> path = OptionalString(file_key);
  if (!path) return std::nullopt;
  std::string full = (!path->empty() && (*path)[0] != '/' && !src_->dir.empty()) ? src_->dir + "/" + *path : *path;
  std::ifstream in(full, std::ios::binary);
  if (!in) FailAt(file_key, "cannot read secret file " + Quote(full) + ": " + std::strerror(errno));
  std::stringstream buf;
  buf << in.rdbuf();
  std::string value = Trim(buf.str());
  if (value.empty()) FailAt(file_key, "secret file " + Quote(full) + " is empty");
  return Secret(value);
}

Secret ConfigMap::RequiredSecret(std::string_view key) {
  std::optional<Secret> s = OptionalSecret(key);
  if (!s) FailMissing(key, "missing required field (set " + std::string(key) + " or " + std::string(key) + "_file)");
  return *s;
}

std::optional<ConfigMap> ConfigMap::OptionalMap(std::string_view key) {
  YAML::Node n = Get(key);
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  if (!n.IsMap()) FailAt(key, std::string("expected a map, got ") + KindName(n));
  return ConfigMap(n, src_, FieldPath(key));
}

std::vector<ConfigMap> ConfigMap::MapList(std::string_view key) {
  YAML::Node n = Get(key);
  std::vector<ConfigMap> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsSequence()) FailAt(key, std::string("expected a list, got ") + KindName(n));
  size_t i = 0;
  for (const auto& item : n) {
    std::string child = FieldPath(key) + "[" + std::to_string(i) + "]";
    if (!item.IsMap()) {
      throw ConfigError(MarkString(*src_, item.Mark()) + ": " + child + ": expected a map, got " + KindName(item));
    }
    out.emplace_back(item, src_, child);
    ++i;
  }
  return out;
}

std::string ConfigMap::OneOf(const std::vector<std::string>& keys) {
  std::string found;
  for (const std::string& k : keys) {
    if (!Has(k)) continue;
    if (!found.empty()) FailAt(k, "set only one of " + found + " and " + k);
    found = k;
  }
  if (found.empty()) {
    // "equal: x" is a typo of one of the keys, not a missing key: say so.
    for (const auto& kv : node_) {
      const std::string& present = kv.first.Scalar();
      if (read_.count(present)) continue;
      if (std::optional<std::string> close = ClosestMatch(present, keys)) {
        throw ConfigError(MarkString(*src_, kv.first.Mark()) + ": " + (path_.empty() ? std::string("config") : path_) +
                          ": unknown key " + Quote(present) + " (did you mean " + Quote(*close) + "?)");
      }
    }
    std::string list;
    for (const std::string& k : keys) list += (list.empty() ? "" : ", ") + k;
    Fail("one of " + list + " is required");
  }
  return found;
}

void ConfigMap::RejectUnknownKeys() const {
  std::vector<std::string> valid(read_.begin(), read_.end());
  std::vector<std::string> unknown;
  for (const auto& kv : node_) {
    const std::string& key = kv.first.Scalar();
    if (read_.count(key)) continue;
    std::string msg = MarkString(*src_, kv.first.Mark()) + ": " + (path_.empty() ? std::string("config") : path_) +
                      ": unknown key " + Quote(key);
    if (std::optional<std::string> close = ClosestMatch(key, valid)) {
      msg += " (did you mean " + Quote(*close) + "?)";
    }
    unknown.push_back(std::move(msg));
  }
  if (unknown.empty()) return;
  // Two typos in one map are independent mistakes: list both when collecting.
  if (ConfigErrorList* list = ConfigErrorList::Current()) {
    for (size_t i = 1; i < unknown.size(); ++i) list->Add(unknown[i]);
  }
  throw ConfigError(unknown.front());
}

std::string JoinChoices(const std::vector<std::string_view>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

Result<ConfigFileText> ReadConfigFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(path + ": cannot open " + what + ": " + std::strerror(errno));
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Status::Error(path + ": cannot read " + what + ": " + std::strerror(errno));
  ConfigFileText file;
  file.text = buf.str();
  file.source.file = path;
  size_t slash = path.rfind('/');
  file.source.dir = slash == std::string::npos ? "." : path.substr(0, slash);
  return file;
}

}  // namespace botwatch
