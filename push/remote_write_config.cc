#include "push/remote_write_config.h"

#include <unistd.h>

#include <algorithm>
#include <set>

#include "collectors/lib/http_request.h"
#include "prom/names.h"

namespace botwatch {
namespace {

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

// host[:port] of an http(s) URL, without any user:password@; "" if not one.
std::string HostPort(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  std::string rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  size_t at = rest.rfind('@');
  if (at != std::string::npos) rest = rest.substr(at + 1);
  return rest;
}

RemoteWriteConfig ReadOne(ConfigMap& m, std::set<std::string>& names) {
  RemoteWriteConfig c;
  c.url = m.RequiredString("url");
  std::string host = HostPort(c.url);
  if (UrlOrigin(c.url).empty() || host.empty()) {
    m.FailAt("url", "\"" + (host.empty() ? std::string("<not a URL>") : host) +
                        "...\" is not a valid URL: use http://host[:port]/path or https://...");
  }
  c.name = m.String("name", host);
  if (!names.insert(c.name).second) m.FailAt("name", "duplicate remote_write name \"" + c.name + "\"; set `name`");
  c.interval = m.DurationValue("interval", c.interval, std::chrono::milliseconds(100));
  c.timeout = m.DurationValue("timeout", c.timeout, std::chrono::milliseconds(10));
  c.buffer = m.DurationValue("buffer", c.buffer, std::chrono::seconds(1));
  std::map<std::string, std::string> ext = m.StringMap("external_labels");
  for (const auto& [k, v] : ext) {
    if (!IsValidUserLabelName(k)) m.FailAt("external_labels", "\"" + k + "\" is not a valid label name");
  }
  if (!ext.count("instance")) ext["instance"] = HostName();
  // What a scraper would add: the shipped Prometheus job is named botwatch, so
  // the mixin's selector (job=~".*botwatch.*") matches pushed series too.
  if (!ext.count("job")) ext["job"] = "botwatch";
  c.external_labels.assign(ext.begin(), ext.end());
  ReadAuthConfig(m, &c.headers, &c.redact);
  for (const auto& [k, v] : m.StringMap("headers")) {
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower == "authorization" || lower == "content-encoding" || lower == "content-type" ||
        lower == "x-prometheus-remote-write-version" || lower == "user-agent") {
      m.FailAt("headers", "header \"" + k + "\" is set by botwatch (use basic_auth or authorization for credentials)");
    }
    c.headers.emplace_back(k + ": " + v);
    if (!v.empty()) c.redact.emplace_back(v);
  }
  if (auto t = m.OptionalMap("tls_config")) {
    c.ca_file = t->String("ca_file", "");
    c.cert_file = t->String("cert_file", "");
    c.key_file = t->String("key_file", "");
    c.tls_verify = !t->Bool("insecure_skip_verify", false);
    if (c.cert_file.empty() != c.key_file.empty()) t->Fail("cert_file and key_file go together");
    t->RejectUnknownKeys();
  }
  m.RejectUnknownKeys();
  return c;
}

}  // namespace

std::vector<RemoteWriteConfig> ReadRemoteWriteConfig(ConfigMap& top) {
  std::vector<RemoteWriteConfig> out;
  std::set<std::string> names;
  for (ConfigMap& m : top.MapList("remote_write")) {
    ReadIndependently([&] { out.push_back(ReadOne(m, names)); });
  }
  return out;
}

}  // namespace botwatch
