#include "prom/text_writer.h"

#include <charconv>
#include <cmath>
#include <string_view>

#include "prom/series.h"

namespace botwatch {
namespace {

void AppendEscaped(std::string& out, std::string_view text, bool quotes) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quotes && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// name{labels,point} value [timestamp]
void AppendSeries(std::string& out, const std::string& name, const Family::Metric& m, const Series& s) {
  out += name;
  out += s.suffix;
  size_t labels = m.label.size();
  if (labels > 0 || s.point) {
    out += '{';
    for (size_t i = 0; i < labels; ++i) {
      if (i > 0) out += ',';
      out += m.label[i].name;
      out += "=\"";
      AppendEscaped(out, m.label[i].value, true);
      out += '"';
    }
    if (s.point) {
      if (labels > 0) out += ',';
      out += s.point->name;
      out += "=\"";
      if (s.point->spelling.empty()) {
        AppendValue(out, s.point->value);
      } else {
        AppendEscaped(out, s.point->spelling, true);
      }
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  AppendValue(out, s.value);
  if (m.timestamp_ms != 0) {
    out += ' ';
    out += std::to_string(m.timestamp_ms);
  }
  out += '\n';
}

const char* TypeName(prometheus::MetricType t) {
  for (const auto& [type, name] : kFamilyTypeNames) {
    if (type == t) return name;
  }
  return "untyped";
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

// Our own writer instead of prometheus::TextSerializer, whose 16 significant
// digits change values that need 17 (a carried 1.7963948071449037e+09 came
// out as 1796394807.144904) and which writes HELP text unescaped (one newline
// in a user's help text broke the whole scrape). The layout is otherwise the
// same: HELP (when there is one), TYPE, then the samples.
std::string SerializeFamilies(const std::vector<Family>& families) {
  std::string out;
  size_t samples = 0;
  for (const auto& f : families) samples += f.metric.size();
  out.reserve(samples * 96 + families.size() * 128);
  for (const auto& f : families) {
    if (!f.help.empty()) {
      out += "# HELP ";
      out += f.name;
      out += ' ';
      AppendEscaped(out, f.help, false);
      out += '\n';
    }
    out += "# TYPE ";
    out += f.name;
    out += ' ';
    out += TypeName(f.type);
    out += '\n';
    for (const auto& m : f.metric) {
      ForEachSeries(f.type, m, [&](const Series& s) { AppendSeries(out, f.name, m, s); });
    }
  }
  return out;
}

}  // namespace botwatch
