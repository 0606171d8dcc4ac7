#include "base/logging.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "base/json_escape.h"
#include "base/unix_time.h"

namespace botwatch::logging {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<Format> g_format{Format::kLogfmt};
std::mutex g_mu;
std::string* g_sink = nullptr;

const char* LevelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

void AppendLogfmtValue(std::string& out, std::string_view v) {
  bool quote = v.empty();
  for (char c : v) {
    if (c == ' ' || c == '=' || c == '"' || static_cast<unsigned char>(c) < 0x20) quote = true;
  }
  if (!quote) {
    out.append(v);
    return;
  }
  // JSON string escaping is a valid logfmt quoting and keeps lines single.
  AppendJsonString(out, v);
}

std::string Now() { return Iso8601Millis(UnixNow()); }

}  // namespace

bool ParseLevel(std::string_view text, Level* out) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (text == LevelName(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

bool ParseFormat(std::string_view text, Format* out) {
  if (text == "logfmt")
    *out = Format::kLogfmt;
  else if (text == "json")
    *out = Format::kJson;
  else
    return false;
  return true;
}

void Configure(Level level, Format format) {
  g_level = level;
  g_format = format;
}

void SetSinkForTesting(std::string* sink) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_sink = sink;
}

std::string FormatLine(Level level, Format format, std::string_view timestamp, std::string_view msg,
                       std::initializer_list<Field> fields) {
  std::string out;
  out.reserve(128);
  if (format == Format::kJson) {
    out += "{\"ts\":";
    AppendJsonString(out, timestamp);
    out += ",\"level\":";
    AppendJsonString(out, LevelName(level));
    out += ",\"msg\":";
    AppendJsonString(out, msg);
    for (const auto& [k, v] : fields) {
      out += ',';
      AppendJsonString(out, k);
      out += ':';
      AppendJsonString(out, v);
    }
    out += "}\n";
    return out;
  }
  out += "ts=";
  out.append(timestamp);
  out += " level=";
  out += LevelName(level);
  out += " msg=";
  AppendLogfmtValue(out, msg);
  for (const auto& [k, v] : fields) {
    out += ' ';
    out.append(k);
    out += '=';
    AppendLogfmtValue(out, v);
  }
  out += '\n';
  return out;
}

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (level < g_level.load(std::memory_order_relaxed)) return;
  std::string line = FormatLine(level, g_format.load(std::memory_order_relaxed), Now(), msg, fields);
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_sink != nullptr) {
    *g_sink += line;
    return;
  }
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace botwatch::logging
