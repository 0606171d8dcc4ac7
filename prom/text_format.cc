#include "prom/text_format.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "base/redact.h"
#include "prom/names.h"
#include "prom/series.h"
#include "prom/text_writer.h"

namespace botwatch {

namespace {

using Labels = std::vector<Family::Metric::Label>;

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
  std::optional<int64_t> timestamp_ms;
};

using Secrets = std::vector<std::string>;

std::string Redact(std::string text, const Secrets& secrets) {
  Redactor redactor;
  for (const std::string& v : secrets) redactor.Add(v);
  return redactor.Redact(std::move(text));
}

// A token from the input, quoted for an error message: secrets redacted first,
// then at most 40 bytes, so that a long line never floods a status message,
// and control bytes escaped (a label value may hold a decoded newline), so the
// message stays one line.
std::string Quote(std::string_view raw, const Secrets& secrets) {
  constexpr size_t kMax = 40;
  const std::string redacted = Redact(std::string(raw), secrets);
  std::string_view token = redacted;
  size_t cut = token.size();
  if (cut > kMax) {
    cut = kMax;
    while (cut > 0 && (static_cast<unsigned char>(token[cut]) & 0xC0) == 0x80) --cut;  // UTF-8 boundary
  }
  std::string out = "\"";
  for (char c : token.substr(0, cut)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    } else {
      out += c;
    }
  }
  return out + (cut < token.size() ? "...\"" : "\"");
}

class LineError {
 public:
  explicit LineError(std::string m) : message(std::move(m)) {}
  std::string message;
};

// Go's strconv.ParseFloat spelling is what Prometheus accepts; strtod accepts
// the same forms we care about (decimal, exponent, NaN, [+-]Inf).
std::optional<double> ParseValue(std::string_view token) {
  if (token.empty()) return std::nullopt;
  std::string s(token);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  // As Prometheus (Go's ParseFloat) reads it: an overflow is an error, a
  // subnormal or an underflow to zero is a value. strtod flags all three.
  if (errno == ERANGE && std::isinf(v)) return std::nullopt;
  return v;
}

std::optional<int64_t> ParseTimestamp(std::string_view token) {
  if (token.empty() || token.size() > 20) return std::nullopt;
  std::string s(token);
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (end != s.c_str() + s.size() || errno == ERANGE) return std::nullopt;
  return static_cast<int64_t>(v);
}

// The value of label `name`, from just after its opening quote to just after
// its closing one.
std::string ParseLabelValue(std::string_view line, size_t& i, const std::string& name) {
  std::string value;
  bool closed = false;
  while (i < line.size()) {
    char c = line[i++];
    if (c == '"') {
      closed = true;
      break;
    }
    if (c == '\\') {
      if (i >= line.size()) break;
      char e = line[i++];
      if (e == '\\') {
        value += '\\';
      } else if (e == '"') {
        value += '"';
      } else if (e == 'n') {
        value += '\n';
      } else {
        throw LineError(std::string("invalid escape \\") + e + " in the value of \"" + name + "\"");
      }
      continue;
    }
    value += c;
  }
  if (!closed) throw LineError("unterminated value of label \"" + name + "\"");
  if (!IsValidUtf8(value)) throw LineError("value of label \"" + name + "\" is not valid UTF-8");
  return value;
}

// One name="value" pair, from its name to just after its closing quote.
Family::Metric::Label ParseLabel(std::string_view line, size_t& i, std::set<std::string, std::less<>>& seen) {
  size_t start = i;
  if (i >= line.size() || !IsNameStart(line[i])) throw LineError("expected a label name or '}'");
  while (i < line.size() && IsNameChar(line[i])) ++i;
  std::string name(line.substr(start, i - start));
  if (IsReservedLabelName(name)) throw LineError("label name \"" + name + "\" is reserved (starts with __)");
  if (!seen.insert(name).second) throw LineError("duplicate label \"" + name + "\"");
  while (i < line.size() && IsBlank(line[i])) ++i;
  if (i >= line.size() || line[i] != '=') throw LineError("expected '=' after label \"" + name + "\"");
  ++i;
  while (i < line.size() && IsBlank(line[i])) ++i;
  if (i >= line.size() || line[i] != '"') throw LineError("expected '\"' to open the value of \"" + name + "\"");
  ++i;
  std::string value = ParseLabelValue(line, i, name);
  return {std::move(name), std::move(value)};
}

// The label set, from just after its '{' to just after its '}'.
Labels ParseLabels(std::string_view line, size_t& i) {
  Labels labels;
  std::set<std::string, std::less<>> seen;
  while (true) {
    while (i < line.size() && IsBlank(line[i])) ++i;
    if (i < line.size() && line[i] == '}') {
      ++i;
      return labels;
    }
    labels.push_back(ParseLabel(line, i, seen));
    while (i < line.size() && IsBlank(line[i])) ++i;
    if (i < line.size() && line[i] == ',') {
      ++i;
      continue;
    }
    if (i < line.size() && line[i] == '}') {
      ++i;
      return labels;
    }
    throw LineError("expected ',' or '}' after the value of \"" + labels.back().name + "\"");
  }
}

// The value and the optional timestamp, from the blank after the name or the
// label set to the end of the line.
void ParseValueAndTimestamp(std::string_view line, size_t i, Sample& s, const Secrets& secrets) {
  if (i >= line.size() || !IsBlank(line[i])) throw LineError("expected a blank and a value after the name");
  std::vector<std::string_view> tokens;
  while (i < line.size()) {
    while (i < line.size() && IsBlank(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !IsBlank(line[i])) ++i;
    if (i > start) tokens.push_back(line.substr(start, i - start));
  }
  if (tokens.empty()) throw LineError("missing value");
  if (tokens.size() > 2) throw LineError("unexpected text after the timestamp");
  auto v = ParseValue(tokens[0]);
  if (!v) throw LineError("invalid value " + Quote(tokens[0], secrets));
  s.value = *v;
  if (tokens.size() == 2) {
    s.timestamp_ms = ParseTimestamp(tokens[1]);
    if (!s.timestamp_ms) throw LineError("invalid timestamp " + Quote(tokens[1], secrets));
  }
}

// Parses one sample line (already known not to be a comment or blank).
Sample ParseSample(std::string_view line, const Secrets& secrets) {
  Sample s;
  size_t i = 0;
  if (i >= line.size() || !(IsNameStart(line[i]) || line[i] == ':')) throw LineError("expected a metric name");
  while (i < line.size() && (IsNameChar(line[i]) || line[i] == ':')) ++i;
  s.name = std::string(line.substr(0, i));
  if (i < line.size() && line[i] == '{') {
    ++i;
    s.labels = ParseLabels(line, i);
  }
  ParseValueAndTimestamp(line, i, s, secrets);
  return s;
}

std::string UnescapeHelp(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      char e = text[i + 1];
      if (e == '\\') {
        out += '\\';
        ++i;
        continue;
      }
      if (e == 'n') {
        out += '\n';
        ++i;
        continue;
      }
      throw LineError(std::string("invalid escape \\") + e + " in HELP");
    }
    if (text[i] == '\\') throw LineError("HELP ends with a lone backslash");
    out += text[i];
  }
  return out;
}

std::optional<prometheus::MetricType> ParseType(std::string_view t) {
  for (const auto& [type, name] : kFamilyTypeNames) {
    if (t == name) return type;
  }
  return std::nullopt;
}

// One family while it is being read.
struct OpenFamily {
  std::string name;
  std::optional<std::string> help;
  std::optional<prometheus::MetricType> type;
  std::vector<Sample> samples;
};

// Whether a sample of this name belongs to the family.
bool Belongs(const OpenFamily& f, const std::string& sample) {
  prometheus::MetricType t = f.type.value_or(prometheus::MetricType::Untyped);
  if (t == prometheus::MetricType::Histogram) {
    return sample == f.name + "_bucket" || sample == f.name + "_sum" || sample == f.name + "_count";
  }
  if (t == prometheus::MetricType::Summary) {
    return sample == f.name || sample == f.name + "_sum" || sample == f.name + "_count";
  }
  return sample == f.name;
}

Labels Without(const Labels& labels, const std::string& name, std::optional<std::string>* removed) {
  Labels out;
  for (const auto& l : labels) {
    if (l.name == name) {
      *removed = l.value;
    } else {
      out.push_back(l);
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

// prometheus-cpp keeps bucket and sample counts as uint64_t: a count that does
// not fit (NaN, infinite, negative, 2^64 or more) cannot be re-exported.
std::optional<uint64_t> AsCount(double v) {
  if (!(v >= 0) || v >= 18446744073709551616.0) return std::nullopt;
  return static_cast<uint64_t>(v);
}

std::string Key(const Labels& sorted) {
  std::string k;
  for (const auto& l : sorted) k += l.name + '\x01' + l.value + '\x02';
  return k;
}

// Histogram and summary samples grouped into one metric per label set.
struct Group {
  Labels labels;
  struct Point {
    double at;  // le or quantile
    double value;
    std::string spelling;  // `at` as the producer wrote it
    bool operator<(const Point& o) const { return at < o.at; }
  };
  std::vector<Point> points;
  std::optional<double> sum, count;
  std::optional<int64_t> timestamp_ms;
};

// A counter, gauge or untyped family: one metric per sample.
void FinishSimple(OpenFamily& open, Family& f) {
  std::set<std::string> seen;
  for (auto& s : open.samples) {
    Labels sorted = s.labels;
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    if (!seen.insert(Key(sorted)).second) throw LineError("duplicate series in family " + f.name);
    Family::Metric m;
    m.label = std::move(s.labels);
    if (s.timestamp_ms) m.timestamp_ms = *s.timestamp_ms;
    if (f.type == prometheus::MetricType::Counter) {
      if (s.value < 0) throw LineError("counter " + f.name + " has a negative value");
      m.counter.value = s.value;
    } else if (f.type == prometheus::MetricType::Gauge) {
      m.gauge.value = s.value;
    } else {
      m.untyped.value = s.value;
    }
    f.metric.push_back(std::move(m));
  }
}

// The samples of histogram or summary `name` grouped by their labels other
// than `point_label` (le or quantile), in the order each group first appears.
std::vector<Group> GroupPoints(const OpenFamily& open, const std::string& name, const std::string& point_label,
                               const Secrets& secrets) {
  std::vector<Group> groups;
  std::map<std::string, size_t> index;
  for (const auto& s : open.samples) {
    std::optional<std::string> point;
    Labels rest = Without(s.labels, point_label, &point);
    auto [it, inserted] = index.try_emplace(Key(rest), groups.size());
    if (inserted) groups.emplace_back();
    Group& g = groups[it->second];
    g.labels = rest;
    if (s.timestamp_ms) g.timestamp_ms = s.timestamp_ms;
    bool is_sum = s.name.ends_with("_sum") && s.name == name + "_sum";
    bool is_count = s.name == name + "_count";
    if (is_sum || is_count) {
      if (point) throw LineError(s.name + " must not have a \"" + point_label + "\" label");
      auto& slot = is_sum ? g.sum : g.count;
      if (slot) throw LineError("duplicate series " + s.name);
      slot = s.value;
      continue;
    }
    if (!point) throw LineError(s.name + " needs a \"" + point_label + "\" label");
    auto p = ParseValue(*point);
    if (!p || std::isnan(*p)) throw LineError("invalid " + point_label + " value " + Quote(*point, secrets));
    for (const auto& existing : g.points) {
      if (existing.at == *p) throw LineError("duplicate " + point_label + "=" + Quote(*point, secrets) + " in " + name);
    }
    g.points.push_back({*p, s.value, *point});
  }
  return groups;
}

void FinishHistogram(const Group& g, const std::string& name, Family::Metric& m) {
  if (g.points.empty() || !std::isinf(g.points.back().at)) {
    throw LineError("histogram " + name + " has no le=\"+Inf\" bucket");
  }
  double last = 0;
  for (const auto& [le, n, spelling] : g.points) {
    auto count = AsCount(n);
    if (!count) throw LineError("histogram " + name + " has a bucket count out of range");
    if (n < last) throw LineError("histogram " + name + " buckets are not cumulative");
    last = n;
    if (!std::isinf(le)) m.histogram.bucket.push_back({*count, le});
  }
  if (g.count && *g.count != g.points.back().value) {
    throw LineError("histogram " + name + "_count differs from its +Inf bucket");
  }
  m.histogram.sample_count = static_cast<uint64_t>(g.points.back().value);
  m.histogram.sample_sum = g.sum.value_or(0);
}

void FinishSummary(const Group& g, const std::string& name, Family::Metric& m) {
  for (const auto& [q, v, spelling] : g.points) {
    if (q < 0 || q > 1) throw LineError("summary " + name + " has a quantile outside [0, 1]");
    m.summary.quantile.push_back({q, v});
  }
  auto count = AsCount(g.count.value_or(0));
  if (!count) throw LineError("summary " + name + "_count out of range");
  m.summary.sample_count = *count;
  m.summary.sample_sum = g.sum.value_or(0);
}

// A series is named by its label strings: keep le="1.6384e+06" as written
// when the writer would spell the same double otherwise ("1638400").
void KeepSpellings(const Group& g, Family::Metric& m) {
  std::vector<std::string> spellings;
  bool respelled = false;
  for (const auto& pt : g.points) {
    spellings.push_back(pt.spelling);
    respelled = respelled || pt.spelling != FormatPointValue(pt.at);
  }
  if (respelled) m.point_spellings = std::move(spellings);
}

Family Finish(OpenFamily&& open, const Secrets& secrets) {
  Family f;
  f.name = open.name;
  f.help = open.help.value_or("");
  f.type = open.type.value_or(prometheus::MetricType::Untyped);
  if (f.type != prometheus::MetricType::Histogram && f.type != prometheus::MetricType::Summary) {
    FinishSimple(open, f);
    return f;
  }
  bool histogram = f.type == prometheus::MetricType::Histogram;
  for (Group& g : GroupPoints(open, f.name, histogram ? "le" : "quantile", secrets)) {
    Family::Metric m;
    m.label = g.labels;
    if (g.timestamp_ms) m.timestamp_ms = *g.timestamp_ms;
    std::stable_sort(g.points.begin(), g.points.end());
    if (histogram) {
      FinishHistogram(g, f.name, m);
    } else {
      FinishSummary(g, f.name, m);
    }
    KeepSpellings(g, m);
    f.metric.push_back(std::move(m));
  }
  return f;
}

// Reads the text a line at a time. A family stays open until a line of
// another family closes it; a closed family may not open again.
class FamilyReader {
 public:
  explicit FamilyReader(const TextFormatLimits& limits) : limits_(limits) {}

  // One line, without its newline.
  void ReadLine(std::string_view line);
  std::vector<Family> Take() {
    CloseOpen();
    return std::move(out_);
  }

 private:
  void ReadComment(std::string_view rest);
  void ReadHelp(const std::string& name, std::string_view arg);
  void ReadType(const std::string& name, std::string_view arg);
  void ReadSample(std::string_view line);
  // Starts family `name` (from a comment or an untyped sample).
  void Start(const std::string& name);
  void CloseOpen();

  const TextFormatLimits& limits_;
  std::vector<Family> out_;
  std::set<std::string, std::less<>> closed_;  // families already finished
  std::optional<OpenFamily> open_;
  size_t samples_ = 0;
};

void FamilyReader::ReadLine(std::string_view line) {
  if (line.size() > limits_.max_line_bytes)
    throw LineError("line longer than " + std::to_string(limits_.max_line_bytes) + " bytes");
  if (line.find('\r') != std::string_view::npos) throw LineError("carriage return in line");
  if (line.find('\0') != std::string_view::npos) throw LineError("NUL byte in line");
  size_t first = 0;
  while (first < line.size() && IsBlank(line[first])) ++first;
  if (first == line.size()) return;
  line = line.substr(first);
  if (line[0] == '#') {
    ReadComment(line.substr(1));
  } else {
    ReadSample(line);
  }
}

// `rest`: a comment line after its '#'. Only HELP and TYPE lines mean anything.
void FamilyReader::ReadComment(std::string_view rest) {
  size_t i = 0;
  while (i < rest.size() && IsBlank(rest[i])) ++i;
  size_t kw_start = i;
  while (i < rest.size() && !IsBlank(rest[i])) ++i;
  std::string_view keyword = rest.substr(kw_start, i - kw_start);
  if (keyword != "HELP" && keyword != "TYPE") return;  // a plain comment
  while (i < rest.size() && IsBlank(rest[i])) ++i;
  size_t name_start = i;
  while (i < rest.size() && !IsBlank(rest[i])) ++i;
  std::string name(rest.substr(name_start, i - name_start));
  if (!IsValidMetricName(name))
    throw LineError("invalid metric name " + Quote(name, limits_.secrets) + " in " + std::string(keyword));
  if (i < rest.size()) ++i;  // exactly one blank separates the name from the text
  std::string_view arg = rest.substr(std::min(i, rest.size()));
  Start(name);
  if (keyword == "HELP") {
    ReadHelp(name, arg);
  } else {
    ReadType(name, arg);
  }
}

void FamilyReader::ReadHelp(const std::string& name, std::string_view arg) {
  if (open_->help) throw LineError("second HELP for " + name);
  std::string help = UnescapeHelp(arg);
  if (!IsValidUtf8(help)) throw LineError("HELP of " + name + " is not valid UTF-8");
  open_->help = std::move(help);
}

void FamilyReader::ReadType(const std::string& name, std::string_view arg) {
  if (open_->type) throw LineError("second TYPE for " + name);
  if (!open_->samples.empty()) throw LineError("TYPE for " + name + " after its samples");
  while (!arg.empty() && IsBlank(arg.back())) arg.remove_suffix(1);
  auto t = ParseType(arg);
  if (!t) throw LineError("unknown type " + Quote(arg, limits_.secrets) + " for " + name);
  open_->type = t;
}

void FamilyReader::ReadSample(std::string_view line) {
  Sample s = ParseSample(line, limits_.secrets);
  if (++samples_ > limits_.max_samples) {
    throw LineError("more than " + std::to_string(limits_.max_samples) + " samples");
  }
  if (!open_ || !Belongs(*open_, s.name)) Start(s.name);
  open_->samples.push_back(std::move(s));
}

void FamilyReader::Start(const std::string& name) {
  if (open_ && open_->name == name) return;
  if (closed_.count(name) != 0) throw LineError("family " + name + " appears twice (its lines must be together)");
  CloseOpen();
  open_.emplace();
  open_->name = name;
}

void FamilyReader::CloseOpen() {
  if (!open_) return;
  closed_.insert(open_->name);
  out_.push_back(Finish(std::move(*open_), limits_.secrets));
  open_.reset();
}

// Names in the message come from the input too: redact, then bound the whole
// line.
Status LineErrorStatus(size_t line_no, const std::string& what, const Secrets& secrets) {
  std::string message = Redact(what, secrets);
  if (message.size() > 200) {
    size_t cut = 200;
    while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
    message = message.substr(0, cut) + "...";
  }
  return Status::Error("line " + std::to_string(line_no) + ": " + message);
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static const uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

Result<std::vector<Family>> ParseTextFormat(std::string_view text, const TextFormatLimits& limits) {
  FamilyReader reader(limits);
  size_t line_no = 0;
  try {
    size_t pos = 0;
    while (pos < text.size()) {
      ++line_no;
      size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) throw LineError("the last line has no trailing newline");
      reader.ReadLine(text.substr(pos, nl - pos));
      pos = nl + 1;
    }
    return reader.Take();
  } catch (const LineError& e) {
    return LineErrorStatus(line_no, e.message, limits.secrets);
  }
}

}  // namespace botwatch
