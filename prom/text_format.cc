#include "prom/text_format.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "base/redact.h"

namespace botwatch {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }
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

// Parses one sample line (already known not to be a comment or blank).
Sample ParseSample(std::string_view line, const Secrets& secrets) {
  Sample s;
  size_t i = 0;
  if (i >= line.size() || !(IsNameStart(line[i]) || line[i] == ':')) throw LineError("expected a metric name");
  while (i < line.size() && (IsNameChar(line[i]) || line[i] == ':')) ++i;
  s.name = std::string(line.substr(0, i));
  if (i < line.size() && line[i] == '{') {
    ++i;
    std::set<std::string, std::less<>> seen;
    while (true) {
      while (i < line.size() && IsBlank(line[i])) ++i;
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      size_t start = i;
      if (i >= line.size() || !IsNameStart(line[i])) throw LineError("expected a label name or '}'");
      while (i < line.size() && IsNameChar(line[i])) ++i;
      std::string name(line.substr(start, i - start));
      if (name.rfind("__", 0) == 0) throw LineError("label name \"" + name + "\" is reserved (starts with __)");
      if (!seen.insert(name).second) throw LineError("duplicate label \"" + name + "\"");
      while (i < line.size() && IsBlank(line[i])) ++i;
      if (i >= line.size() || line[i] != '=') throw LineError("expected '=' after label \"" + name + "\"");
      ++i;
      while (i < line.size() && IsBlank(line[i])) ++i;
      if (i >= line.size() || line[i] != '"') throw LineError("expected '\"' to open the value of \"" + name + "\"");
      ++i;
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
      s.labels.push_back({name, value});
      while (i < line.size() && IsBlank(line[i])) ++i;
      if (i < line.size() && line[i] == ',') {
        ++i;
        continue;
      }
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      throw LineError("expected ',' or '}' after the value of \"" + name + "\"");
    }
  }
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

std::optional<MetricType> ParseType(std::string_view t) {
  if (t == "counter") return MetricType::Counter;
  if (t == "gauge") return MetricType::Gauge;
  if (t == "histogram") return MetricType::Histogram;
  if (t == "summary") return MetricType::Summary;
  if (t == "untyped") return MetricType::Untyped;
  return std::nullopt;
}

// One family while it is being read.
struct OpenFamily {
  std::string name;
  std::optional<std::string> help;
  std::optional<MetricType> type;
  std::vector<Sample> samples;
};

// Whether a sample of this name belongs to the family.
bool Belongs(const OpenFamily& f, const std::string& sample) {
  MetricType t = f.type.value_or(MetricType::Untyped);
  if (t == MetricType::Histogram) {
    return sample == f.name + "_bucket" || sample == f.name + "_sum" || sample == f.name + "_count";
  }
  if (t == MetricType::Summary) {
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

MetricFamily Finish(OpenFamily&& open, const Secrets& secrets) {
  MetricFamily f;
  f.name = open.name;
  f.help = open.help.value_or("");
  f.type = open.type.value_or(MetricType::Untyped);
  if (f.type != MetricType::Histogram && f.type != MetricType::Summary) {
    std::set<std::string> seen;
    for (auto& s : open.samples) {
      Labels sorted = s.labels;
      std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
      if (!seen.insert(Key(sorted)).second) throw LineError("duplicate series in family " + f.name);
      ClientMetric m;
      m.label = std::move(s.labels);
      if (s.timestamp_ms) m.timestamp_ms = *s.timestamp_ms;
      if (f.type == MetricType::Counter) {
        if (s.value < 0) throw LineError("counter " + f.name + " has a negative value");
        m.counter.value = s.value;
      } else if (f.type == MetricType::Gauge) {
        m.gauge.value = s.value;
      } else {
        m.untyped.value = s.value;
      }
      f.metric.push_back(std::move(m));
    }
    return f;
  }
  bool histogram = f.type == MetricType::Histogram;
  const std::string point_label = histogram ? "le" : "quantile";
  std::map<std::string, Group> groups;
  std::vector<std::string> order;
  for (const auto& s : open.samples) {
    std::optional<std::string> point;
    Labels rest = Without(s.labels, point_label, &point);
    std::string key = Key(rest);
    auto [it, inserted] = groups.try_emplace(key);
    if (inserted) order.push_back(key);
    Group& g = it->second;
    g.labels = rest;
    if (s.timestamp_ms) g.timestamp_ms = s.timestamp_ms;
    bool is_sum = s.name.ends_with("_sum") && s.name == f.name + "_sum";
    bool is_count = s.name == f.name + "_count";
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
      if (existing.at == *p) {
        throw LineError("duplicate " + point_label + "=" + Quote(*point, secrets) + " in " + f.name);
      }
    }
    g.points.push_back({*p, s.value, *point});
  }
  for (const std::string& key : order) {
    Group& g = groups[key];
    ClientMetric m;
    m.label = g.labels;
    if (g.timestamp_ms) m.timestamp_ms = *g.timestamp_ms;
    std::stable_sort(g.points.begin(), g.points.end());
    // A series is named by its label strings: keep le="1.6384e+06" as written
    // when the writer would spell the same double otherwise ("1638400").
    std::string spellings;
    bool respelled = false;
    for (const auto& pt : g.points) {
      if (!spellings.empty()) spellings += kPointSpellingSeparator;
      spellings += pt.spelling;
      respelled = respelled || pt.spelling != FormatPointValue(pt.at);
    }
    if (histogram) {
      if (g.points.empty() || !std::isinf(g.points.back().at)) {
        throw LineError("histogram " + f.name + " has no le=\"+Inf\" bucket");
      }
      double last = 0;
      for (const auto& [le, n, spelling] : g.points) {
        auto count = AsCount(n);
        if (!count) throw LineError("histogram " + f.name + " has a bucket count out of range");
        if (n < last) throw LineError("histogram " + f.name + " buckets are not cumulative");
        last = n;
        if (!std::isinf(le)) m.histogram.bucket.push_back({*count, le});
      }
      if (g.count && *g.count != g.points.back().value) {
        throw LineError("histogram " + f.name + "_count differs from its +Inf bucket");
      }
      m.histogram.sample_count = static_cast<uint64_t>(g.points.back().value);
      m.histogram.sample_sum = g.sum.value_or(0);
    } else {
      for (const auto& [q, v, spelling] : g.points) {
        if (q < 0 || q > 1) throw LineError("summary " + f.name + " has a quantile outside [0, 1]");
        m.summary.quantile.push_back({q, v});
      }
      auto count = AsCount(g.count.value_or(0));
      if (!count) throw LineError("summary " + f.name + "_count out of range");
      m.summary.sample_count = *count;
      m.summary.sample_sum = g.sum.value_or(0);
    }
    if (respelled) m.label.push_back({kPointSpellingsLabel, std::move(spellings)});
    f.metric.push_back(std::move(m));
  }
  return f;
}

}  // namespace

void AppendValue(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    // Without a precision, to_chars gives the shortest text that reads back
    // as the same double: values survive the trip bit for bit.
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, ec == std::errc() ? end : buf);
  }
}

std::string FormatPointValue(double v) {
  std::string out;
  AppendValue(out, v);
  return out;
}

bool IsValidMetricName(std::string_view name) {
  if (name.empty() || !(IsNameStart(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsNameChar(c) || c == ':'; });
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || !IsNameStart(name[0])) return false;
  return std::all_of(name.begin(), name.end(), IsNameChar);
}

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

Result<std::vector<MetricFamily>> ParseTextFormat(std::string_view text, const TextFormatLimits& limits) {
  std::vector<MetricFamily> out;
  std::set<std::string, std::less<>> closed;  // families already finished
  std::optional<OpenFamily> open;
  size_t samples = 0;
  size_t line_no = 0;
  auto close_open = [&] {
    if (!open) return;
    closed.insert(open->name);
    out.push_back(Finish(std::move(*open), limits.secrets));
    open.reset();
  };
  // Starts family `name` (from a comment or an untyped sample).
  auto start = [&](const std::string& name) {
    if (open && open->name == name) return;
    if (closed.count(name) != 0) throw LineError("family " + name + " appears twice (its lines must be together)");
    close_open();
    open.emplace();
    open->name = name;
  };
  try {
    size_t pos = 0;
    while (pos < text.size()) {
      ++line_no;
      size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) throw LineError("the last line has no trailing newline");
      std::string_view line = text.substr(pos, nl - pos);
      pos = nl + 1;
      if (line.size() > limits.max_line_bytes)
        throw LineError("line longer than " + std::to_string(limits.max_line_bytes) + " bytes");
      if (line.find('\r') != std::string_view::npos) throw LineError("carriage return in line");
      if (line.find('\0') != std::string_view::npos) throw LineError("NUL byte in line");
      size_t first = 0;
      while (first < line.size() && IsBlank(line[first])) ++first;
      if (first == line.size()) continue;
      line = line.substr(first);
      if (line[0] == '#') {
        std::string_view rest = line.substr(1);
        size_t i = 0;
        while (i < rest.size() && IsBlank(rest[i])) ++i;
        size_t kw_start = i;
        while (i < rest.size() && !IsBlank(rest[i])) ++i;
        std::string_view keyword = rest.substr(kw_start, i - kw_start);
        if (keyword != "HELP" && keyword != "TYPE") continue;  // a plain comment
        while (i < rest.size() && IsBlank(rest[i])) ++i;
        size_t name_start = i;
        while (i < rest.size() && !IsBlank(rest[i])) ++i;
        std::string name(rest.substr(name_start, i - name_start));
        if (!IsValidMetricName(name))
          throw LineError("invalid metric name " + Quote(name, limits.secrets) + " in " + std::string(keyword));
        if (i < rest.size()) ++i;  // exactly one blank separates the name from the text
        std::string_view arg = rest.substr(std::min(i, rest.size()));
        start(name);
        if (keyword == "HELP") {
          if (open->help) throw LineError("second HELP for " + name);
          std::string help = UnescapeHelp(arg);
          if (!IsValidUtf8(help)) throw LineError("HELP of " + name + " is not valid UTF-8");
          open->help = std::move(help);
        } else {
          if (open->type) throw LineError("second TYPE for " + name);
          if (!open->samples.empty()) throw LineError("TYPE for " + name + " after its samples");
          while (!arg.empty() && IsBlank(arg.back())) arg.remove_suffix(1);
          auto t = ParseType(arg);
          if (!t) throw LineError("unknown type " + Quote(arg, limits.secrets) + " for " + name);
          open->type = t;
        }
        continue;
      }
      Sample s = ParseSample(line, limits.secrets);
      if (++samples > limits.max_samples) {
        throw LineError("more than " + std::to_string(limits.max_samples) + " samples");
      }
      if (!open || !Belongs(*open, s.name)) start(s.name);
      open->samples.push_back(std::move(s));
    }
    close_open();
  } catch (const LineError& e) {
    // Names in the message come from the input too: redact, then bound the
    // whole line.
    std::string message = Redact(e.message, limits.secrets);
    if (message.size() > 200) {
      size_t cut = 200;
      while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
      message = message.substr(0, cut) + "...";
    }
    return Status::Error("line " + std::to_string(line_no) + ": " + message);
  }
  return out;
}

}  // namespace botwatch
