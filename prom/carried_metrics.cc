#include "prom/carried_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <unordered_map>

#include "prom/text_format.h"

namespace botwatch {
namespace {

bool HasLabel(const Family::Metric& m, const std::string& name) {
  return std::any_of(m.label.begin(), m.label.end(), [&](const auto& l) { return l.name == name; });
}

// The first of exported_collector, exported_exported_collector, ... that the
// sample does not carry yet.
std::string ExportedName(const Family::Metric& m) {
  std::string name = "exported_collector";
  while (HasLabel(m, name)) name = "exported_" + name;
  return name;
}

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

// Where the value part of a sample line starts: after the name and the label
// set, whose quoted values may hold '#', '}' or spaces.
size_t ValueStart(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ' && line[i] != '\t') ++i;
  if (i < line.size() && line[i] == '{') {
    bool quoted = false;
    for (++i; i < line.size(); ++i) {
      if (quoted && line[i] == '\\') {
        ++i;
      } else if (line[i] == '"') {
        quoted = !quoted;
      } else if (!quoted && line[i] == '}') {
        return i + 1;
      }
    }
  }
  return i;
}

std::string OpenMetricsLineError(size_t index, const std::string& what) {
  return "line " + std::to_string(index + 1) + ": " + what;
}

using OpenMetricsTypes = std::unordered_map<std::string, std::string>;  // family -> OpenMetrics type

OpenMetricsTypes ReadOpenMetricsTypes(const std::vector<std::string_view>& lines, size_t eof) {
  OpenMetricsTypes types;
  for (size_t i = 0; i < eof; ++i) {
    std::string_view l = lines[i];
    if (l.rfind("# TYPE ", 0) != 0) continue;
    l.remove_prefix(7);
    size_t sp = l.find(' ');
    if (sp == std::string_view::npos) continue;  // the parser names the error
    types[std::string(l.substr(0, sp))] = std::string(l.substr(sp + 1));
  }
  return types;
}

// The name a family is served under: a counter with its _total, info with _info.
std::string ServedName(const OpenMetricsTypes& types, const std::string& family) {
  auto it = types.find(family);
  if (it == types.end()) return family;
  if (it->second == "counter" && !family.ends_with("_total")) return family + "_total";
  if (it->second == "info") return family + "_info";
  return family;
}

// A "# TYPE " or "# HELP " line (line `i`) as the Prometheus format writes it.
Status ConvertMetadata(std::string_view l, size_t i, const OpenMetricsTypes& types, std::string& out) {
  bool is_type = l[2] == 'T';
  std::string_view rest = l.substr(7);
  size_t sp = rest.find(' ');
  std::string family(rest.substr(0, sp));
  std::string_view tail = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
  out += is_type ? "# TYPE " : "# HELP ";
  out += ServedName(types, family);
  out += ' ';
  if (is_type) {
    if (tail == "gaugehistogram") {
      return Status::Error(OpenMetricsLineError(i, "OpenMetrics type gaugehistogram (family " + family +
                                                       ") has no equivalent in the Prometheus text format"));
    }
    out += tail == "info" || tail == "stateset" ? "gauge" : tail == "unknown" ? "untyped" : std::string(tail);
  } else {
    // OpenMetrics escapes '"' in HELP; the Prometheus format does not.
    for (size_t k = 0; k < tail.size(); ++k) {
      if (tail[k] == '\\' && k + 1 < tail.size() && tail[k + 1] == '"') continue;
      out += tail[k];
    }
  }
  out += '\n';
  return Status::Ok();
}

// A _created sample of a counter, histogram or summary: the 0.0.4 format has
// no place for it.
bool IsCreatedSample(const std::string& name, const OpenMetricsTypes& types) {
  if (!name.ends_with("_created")) return false;
  std::string base = name.substr(0, name.size() - 8);
  auto it = types.find(base);
  if (it == types.end() && base.ends_with("_total")) it = types.find(base.substr(0, base.size() - 6));
  return it != types.end() && (it->second == "counter" || it->second == "histogram" || it->second == "summary");
}

// A sample line (line `i`) without its exemplar, its timestamp in milliseconds.
Status ConvertSample(std::string_view l, size_t i, std::string& out) {
  size_t value_at = ValueStart(l);
  std::string_view rest = l.substr(value_at);
  if (size_t ex = rest.find(" # "); ex != std::string_view::npos) rest = rest.substr(0, ex);  // exemplar
  // " value [timestamp]": the timestamp in seconds, possibly fractional.
  std::string_view trimmed = rest;
  while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\t')) trimmed.remove_prefix(1);
  size_t sp = trimmed.find(' ');
  out += l.substr(0, value_at);
  out += ' ';
  out += trimmed.substr(0, sp);
  if (sp != std::string_view::npos) {
    std::string ts(trimmed.substr(sp + 1));
    char* end = nullptr;
    double seconds = std::strtod(ts.c_str(), &end);
    if (ts.empty() || end != ts.c_str() + ts.size() || !std::isfinite(seconds)) {
      return Status::Error(OpenMetricsLineError(i, "invalid OpenMetrics timestamp"));
    }
    out += ' ';
    out += std::to_string(static_cast<long long>(std::llround(seconds * 1000)));
  }
  out += '\n';
  return Status::Ok();
}

// OpenMetrics 1.0 text (it ends with "# EOF") rewritten as the Prometheus text
// format that /metrics serves: counters are named with their _total, info
// becomes a gauge named _info, stateset a gauge, unknown untyped; # UNIT,
// _created samples and exemplars are dropped (the 0.0.4 format has no place
// for them); timestamps go from seconds to milliseconds. Dropped lines become
// blank so errors keep the producer's line numbers. A type that has no
// equivalent (gaugehistogram) is refused by name.
Result<std::string> FromOpenMetrics(const std::vector<std::string_view>& lines, size_t eof) {
  OpenMetricsTypes types = ReadOpenMetricsTypes(lines, eof);
  std::string out;
  for (size_t i = 0; i < eof; ++i) {
    std::string_view l = lines[i];
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    bool metadata = l.rfind("# TYPE ", 0) == 0 || l.rfind("# HELP ", 0) == 0;
    Status converted;
    if (metadata) {
      converted = ConvertMetadata(l, i, types, out);
    } else if (l.rfind("#", 0) == 0 || IsCreatedSample(std::string(l.substr(0, l.find_first_of("{ \t"))), types)) {
      out += '\n';  // # UNIT, a plain comment, a _created sample
    } else {
      converted = ConvertSample(l, i, out);
    }
    if (!converted.ok()) return converted;
  }
  return out;
}

}  // namespace

Result<std::vector<Family>> CarryTextFormat(std::string_view text, const std::vector<std::string>& reserved_prefixes,
                                            const std::string& default_help, const TextFormatLimits& limits) {
  // OpenMetrics is recognised by its mandatory last line, "# EOF"; without it,
  // its constructs are named rather than half-read.
  std::vector<std::string_view> lines = SplitLines(text);
  size_t eof = lines.size();
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l == "# EOF") {
      eof = i;
      break;
    }
  }
  std::string converted;
  if (eof < lines.size()) {
    for (size_t i = eof + 1; i < lines.size(); ++i) {
      if (!lines[i].empty()) return Status::Error(OpenMetricsLineError(i, "text after OpenMetrics' # EOF"));
    }
    auto om = FromOpenMetrics(lines, eof);
    if (!om.ok()) return om.status();
    converted = std::move(om.value());
    text = converted;
  } else {
    for (size_t i = 0; i < lines.size(); ++i) {
      std::string_view l = lines[i];
      if (l.rfind("#", 0) == 0) continue;
      if (l.substr(ValueStart(l)).find(" # ") != std::string_view::npos) {
        return Status::Error(
            OpenMetricsLineError(i, "an exemplar (OpenMetrics) in Prometheus text; end OpenMetrics text with # EOF"));
      }
    }
  }
  auto parsed = ParseTextFormat(text, limits);
  if (!parsed.ok()) return parsed.status();
  std::vector<Family> families = std::move(parsed.value());
  for (auto& f : families) {
    bool reserved = f.name.rfind("botwatch_collector_", 0) == 0;
    for (const auto& prefix : reserved_prefixes) reserved = reserved || f.name.rfind(prefix, 0) == 0;
    if (reserved) return Status::Error("family " + f.name + " uses a name reserved for botwatch");
    for (auto& m : f.metric) {
      for (auto& l : m.label) {
        if (l.name == "collector") l.name = ExportedName(m);
      }
    }
    if (f.help.empty()) f.help = default_help;
  }
  return families;
}

}  // namespace botwatch
