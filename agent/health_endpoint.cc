#include "agent/health_endpoint.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>

namespace botwatch {
namespace {

HttpResponse Text(int status, std::string body) { return {status, "text/plain; charset=utf-8", std::move(body)}; }

// Percent-decoding of one query value ("%2C" for the comma some clients
// escape); nullopt on a malformed escape.
std::optional<std::string> Unescape(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] != '%') {
      out += in[i];
    } else {
      if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
        return std::nullopt;
      }
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    }
  }
  return out;
}

// Collector names are 1-64 of [A-Za-z0-9_.-] (agent/config.cc); anything else
// is not a name and is not echoed back.
bool PlausibleName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-' || c == '.'; });
}

}  // namespace

HttpResponse ServeHealthy(const HttpRequest& req, const std::vector<std::shared_ptr<const CollectorSnapshot>>& all) {
  // The path form /-/healthy/NAME[,NAME...] says the same as ?require=, for
  // health checkers whose path setting may not carry a query string.
  constexpr std::string_view kPrefix = "/-/healthy/";
  std::string names_in_path;
  if (req.path.size() > kPrefix.size() && req.path.compare(0, kPrefix.size(), kPrefix) == 0) {
    if (!req.query.empty()) return Text(400, "use either /-/healthy/NAME[,NAME...] or ?require=, not both\n");
    names_in_path = "require=" + req.path.substr(kPrefix.size());
  }
  const std::string& query_text = names_in_path.empty() ? req.query : names_in_path;
  if (query_text.empty()) return Text(200, "Healthy\n");
  if (query_text.size() > kHealthyMaxQueryBytes) {
    return Text(400, "query longer than " + std::to_string(kHealthyMaxQueryBytes) + " bytes\n");
  }
  std::vector<std::string> required;
  std::string_view query = query_text;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.empty()) continue;
    if (param.rfind("require=", 0) != 0) return Text(400, "unknown parameter; use ?require=NAME[,NAME...]\n");
    std::optional<std::string> value = Unescape(param.substr(8));
    if (!value) return Text(400, "malformed percent escape in require=\n");
    size_t start = 0;
    while (start <= value->size()) {
      size_t comma = value->find(',', start);
      std::string name = value->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!name.empty()) required.push_back(name);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (required.size() > kHealthyMaxRequired) {
    return Text(400, "more than " + std::to_string(kHealthyMaxRequired) + " names in require=\n");
  }
  if (required.empty()) return Text(400, "require= names no collector; use ?require=NAME[,NAME...]\n");

  std::string failing;
  for (const std::string& name : required) {
    auto it = std::find_if(all.begin(), all.end(), [&](const auto& s) { return s->spec.name == name; });
    if (it == all.end()) {
      std::string known;
      for (const auto& s : all) known += (known.empty() ? "" : ", ") + s->spec.name;
      std::string shown = PlausibleName(name) ? "\"" + name + "\"" : "a name that is not a collector name";
      return Text(400,
                  "unknown collector " + shown + " in require=; known: " + (known.empty() ? "none" : known) + "\n");
    }
    const CollectorSnapshot& s = **it;
    if (!s.has_run) {
      failing += name + ": has not probed yet\n";
    } else if (!s.up) {
      // The reason code only: this endpoint needs no credentials, and a
      // message may quote a peer (the details are in /api/v1/status).
      failing += name + ": down (" + s.reason + ")\n";
    }
  }
  if (!failing.empty()) return Text(503, failing);
  return Text(200, "Healthy\n");
}

}  // namespace botwatch
