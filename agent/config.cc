#include "agent/config.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "collectors/registry.h"
#include "logs/log_config.h"

namespace botwatch {
namespace {

// A config is hand-written; anything this large is a mistake (or /dev/zero).
constexpr off_t kMaxConfigBytes = 16 << 20;

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// Messages quote user values, which may hold newlines or control bytes (a
// multi-line quoted scalar, binary garbage): escape them so an error stays one line.
std::string OneLine(const std::string& message) {
  std::string out;
  out.reserve(message.size());
  for (unsigned char c : message) {
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

GlobalConfig ReadGlobal(ConfigMap& m) {
  GlobalConfig g;
  g.default_interval = m.DurationValue("default_interval", g.default_interval);
  g.scrape_timeout = m.DurationValue("scrape_timeout", g.scrape_timeout);
  g.workers = static_cast<int>(m.Int("workers", g.workers, 1, 64));
  m.RejectUnknownKeys();
  return g;
}

CollectorInstance ReadCollector(ConfigMap& m, const GlobalConfig& global, std::set<std::string>& names) {
  CollectorInstance inst;
  // Each check below is independent of the others, so one run reports a bad
  // name, a bad interval and a typo in the type's own keys together.
  ReadIndependently([&] {
    inst.spec.name = m.RequiredString("name");
    if (!ValidName(inst.spec.name)) {
      m.FailAt("name", "\"" + inst.spec.name + "\" is not a valid name (1-64 characters of letters, digits, _ - .)");
    }
    if (inst.spec.name == kSupervisedName) {
      m.FailAt("name", "\"" + inst.spec.name +
                           "\" is reserved for the child of `botwatch run` (--supervise.name); "
                           "choose another name");
    }
    if (!names.insert(inst.spec.name).second) {
      m.FailAt("name", "duplicate collector name \"" + inst.spec.name + "\"");
    }
  });
  inst.spec.type = m.RequiredString("type");
  const CollectorRegistry& registry = CollectorRegistry::Global();
  const CollectorFactory* factory = registry.Find(inst.spec.type);
  if (factory == nullptr) {
    std::vector<std::string> types = registry.Types();
    std::string msg = "unknown collector type \"" + inst.spec.type + "\"";
    if (auto close = ClosestMatch(inst.spec.type, types)) msg += " (did you mean \"" + *close + "\"?)";
    std::string known;
    for (const auto& t : types) known += (known.empty() ? "" : ", ") + t;
    m.FailAt("type", msg + "; known types: " + known);
  }
  ReadIndependently([&] {
    Duration default_interval = registry.DefaultInterval(inst.spec.type).value_or(global.default_interval);
    inst.spec.interval = m.DurationValue("interval", default_interval, std::chrono::milliseconds(100));
    Duration default_timeout = std::min(global.scrape_timeout, inst.spec.interval);
    inst.spec.timeout = m.DurationValue("timeout", default_timeout, std::chrono::milliseconds(10));
    if (inst.spec.timeout > inst.spec.interval) {
      m.FailAt("timeout", "must not exceed the interval (" + FormatDuration(inst.spec.interval) + ")");
    }
  });
  inst.collector = (*factory)(inst.spec, m);
  m.RejectUnknownKeys();
  return inst;
}

// The status page links to these, so they must be plain http(s) URLs without
// credentials: the page is served to anyone who may read the status.
LinksConfig ReadLinks(ConfigMap& m) {
  LinksConfig links;
  for (auto [key, out] : {std::pair<const char*, std::string*>{"grafana", &links.grafana},
                          std::pair<const char*, std::string*>{"alertmanager", &links.alertmanager}}) {
    std::optional<std::string> url = m.OptionalString(key);
    if (!url) continue;
    const std::string& u = *url;
    size_t scheme = u.rfind("https://", 0) == 0 ? 8 : u.rfind("http://", 0) == 0 ? 7 : 0;
    if (scheme == 0 || u.size() == scheme) m.FailAt(key, "want an http:// or https:// URL");
    if (u.find_first_of(" \t\r\n\"<>") != std::string::npos)
      m.FailAt(key, "URL contains a space, quote or angle bracket");
    std::string authority = u.substr(scheme, u.find_first_of("/?#", scheme) - scheme);
    if (authority.empty()) m.FailAt(key, "URL has no host");
    if (authority.find('@') != std::string::npos) {
      m.FailAt(key, "URL must not carry credentials (user@host): the status page shows it");
    }
    *out = u;
  }
  m.RejectUnknownKeys();
  return links;
}

}  // namespace

Result<std::shared_ptr<const Config>> LoadConfigText(const std::string& text, ConfigSource source,
                                                     std::vector<std::string>* all_errors) {
  auto src = std::make_shared<const ConfigSource>(std::move(source));
  try {
    YAML::Node root = ParseYaml(text, *src);
    CollectorConfigContext context{root, src.get()};
    ScopedCollectorConfigContext scope(context);
    ConfigMap top(root, src, "");
    auto config = std::make_shared<Config>();
    config->file = src->file;
    ConfigErrorList errors;
    ReadIndependently([&] {
      if (auto g = top.OptionalMap("global")) config->global = ReadGlobal(*g);
    });
    ReadIndependently([&] { config->feed = ReadFeedConfig(top); });
    ReadIndependently([&] {
      if (auto l = top.OptionalMap("links")) config->links = ReadLinks(*l);
    });
    std::set<std::string> names;
    ReadIndependently([&] {
      for (ConfigMap& c : top.MapList("collectors")) {
        ReadIndependently([&] { config->collectors.push_back(ReadCollector(c, config->global, names)); });
      }
    });
    ReadIndependently([&] { config->logs = ReadLogsConfig(top); });
    ReadIndependently([&] { config->remote_write = ReadRemoteWriteConfig(top); });
    ReadIndependently([&] { top.RejectUnknownKeys(); });
    if (!errors.empty()) {
      std::vector<std::string> sorted = errors.Sorted();
      for (std::string& e : sorted) e = OneLine(e);
      std::string first = sorted.front();
      if (sorted.size() > 1) {
        first += " (and " + std::to_string(sorted.size() - 1) + " more; botwatch check-config lists every one)";
      }
      if (all_errors != nullptr) *all_errors = std::move(sorted);
      return Status::Error(first);
    }
    return std::shared_ptr<const Config>(std::move(config));
  } catch (const ConfigError& e) {
    if (all_errors != nullptr) *all_errors = {OneLine(e.what())};
    return Status::Error(OneLine(e.what()));
  } catch (const std::exception& e) {
    // A library threw something unexpected (e.g. yaml-cpp on a pathological node):
    // still one line, still the file name.
    if (all_errors != nullptr) *all_errors = {OneLine(src->file + ": " + e.what())};
    return Status::Error(OneLine(src->file + ": " + e.what()));
  }
}

Result<std::shared_ptr<const Config>> LoadConfigFile(const std::string& path, const ConfigLoadOptions& options,
                                                     std::vector<std::string>* all_errors) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::Error(path + ": cannot open config file: " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Status::Error(path + ": cannot open config file: not a regular file");
  if (st.st_size > kMaxConfigBytes) {
    return Status::Error(path + ": config file is larger than " + std::to_string(kMaxConfigBytes >> 20) + " MiB");
  }
  Result<ConfigFileText> file = ReadConfigFile(path, "config file");
  if (!file.ok()) return file.status();
  file.value().source.skip_env = options.skip_env;
  return LoadConfigText(file.value().text, std::move(file.value().source), all_errors);
}

}  // namespace botwatch
