#include "logs/log_config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "logs/parser.h"

namespace botwatch {
namespace {

std::string Resolve(const std::string& path, const ConfigSource& src) {
  if (path.empty() || path[0] == '/' || src.dir.empty()) return path;
  return src.dir + "/" + path;
}

void ReadRulesFile(ConfigMap& m, const std::string& timestamp_field, RuleSet& rs) {
  std::string file = Resolve(m.RequiredString("rules"), m.source());
  std::ifstream in(file, std::ios::binary);
  if (!in) m.FailAt("rules", "cannot open rules file \"" + file + "\": " + std::strerror(errno));
  std::stringstream buf;
  buf << in.rdbuf();
  auto src = std::make_shared<ConfigSource>();
  src->file = file;
  size_t slash = file.rfind('/');
  src->dir = slash == std::string::npos ? "." : file.substr(0, slash);
  src->env = m.source().env;
  YAML::Node root = ParseYaml(buf.str(), *src);
  ConfigMap rules_map(root, src, "");
  ReadRules(rules_map, timestamp_field, rs);
  rules_map.RejectUnknownKeys();
}

// A source's name: valid and unique among `names`.
std::string ReadSourceName(ConfigMap& m, std::set<std::string>& names) {
  std::string name = m.RequiredString("name");
  if (name.empty() || name.size() > 64 ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") !=
          std::string::npos) {
    m.FailAt("name", "\"" + name + "\" is not a valid name (1-64 letters, digits, _ - .)");
  }
  if (!names.insert(name).second) m.FailAt("name", "duplicate log source name \"" + name + "\"");
  return name;
}

// Keys of the other types are errors rather than silently ignored.
void RejectOtherTypesKeys(ConfigMap& m, SourceType source_type) {
  const std::string type = m.String("type", "file");
  auto only_for = [&](std::string_view key, SourceType t, const char* tname) {
    if (source_type != t && m.Has(key))
      m.FailAt(key, "only for type: " + std::string(tname) + " (this source is type: " + type + ")");
  };
  for (const char* key : {"path", "start_at", "poll_interval"}) only_for(key, SourceType::kFile, "file");
  only_for("streams", SourceType::kChild, "child");
  for (const char* key : {"max_body_bytes", "rate_limit"}) only_for(key, SourceType::kHttp, "http");
}

// The keys of the source's own type: file paths, child streams, HTTP intake limits.
void ReadTypeKeys(ConfigMap& m, LogSourceConfig& s) {
  if (s.type == SourceType::kFile) {
    if (m.IsList("path")) {
      for (const std::string& p : m.StringList("path")) s.paths.push_back(Resolve(p, m.source()));
    } else {
      s.paths.push_back(Resolve(m.RequiredString("path"), m.source()));
    }
    if (s.paths.empty()) m.FailAt("path", "needs at least one path");
  }
  if (s.type == SourceType::kChild && m.Has("streams")) {
    std::vector<std::string> streams = m.StringList("streams");
    if (streams.empty()) m.FailAt("streams", "needs stdout, stderr or both");
    s.child_stdout = s.child_stderr = false;
    for (const std::string& st : streams) {
      bool& flag = st == "stdout" ? s.child_stdout : s.child_stderr;
      if (st != "stdout" && st != "stderr") m.FailAt("streams", "unknown stream \"" + st + "\"; use stdout or stderr");
      if (flag) m.FailAt("streams", "\"" + st + "\" is listed twice");
      flag = true;
    }
  }
  if (s.type == SourceType::kHttp) {
    s.max_body_bytes = static_cast<size_t>(m.Int("max_body_bytes", 1024 * 1024, 1024, 256 * 1024 * 1024));
    if (std::optional<ConfigMap> rl = m.OptionalMap("rate_limit")) {
      s.rate_per_second = rl->Double("requests_per_second", s.rate_per_second);
      if (!(s.rate_per_second > 0) || s.rate_per_second > 1e6) {
        rl->FailAt("requests_per_second", "must be a number above 0 (at most 1000000)");
      }
      s.rate_burst = static_cast<double>(rl->Int("burst", static_cast<int64_t>(s.rate_burst), 1, 1000000));
      rl->RejectUnknownKeys();
    }
  }
}

// format: regex: the pattern in ECMAScript form and one field name per capture group.
void ReadRegexFormat(ConfigMap& m, LogSourceConfig& s) {
  auto named = TranslateNamedGroups(m.RequiredString("regex"));
  if (!named.ok()) m.FailAt("regex", named.status().message());
  s.regex = named.value().ecmascript;
  if (named.value().any_named) {
    if (m.Has("fields")) m.FailAt("fields", "the regex names its groups with (?<name>...); remove fields:");
    s.regex_fields = named.value().group_names;
  } else {
    s.regex_fields = m.StringList("fields");
  }
  std::regex re;
  try {
    re = std::regex(s.regex, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    m.FailAt("regex", "invalid regular expression \"" + s.regex + "\": " + e.what());
  }
  if (re.mark_count() != s.regex_fields.size()) {
    m.FailAt("fields", "the regex has " + std::to_string(re.mark_count()) + " capture groups but " +
                           std::to_string(s.regex_fields.size()) + " field names are given");
  }
}

LogSourceConfig ReadSource(ConfigMap& m, std::set<std::string>& names) {
  LogSourceConfig s;
  s.name = ReadSourceName(m, names);
  s.type =
      m.Choice<SourceType>("type", "file", "log source type",
                           {{"file", SourceType::kFile}, {"child", SourceType::kChild}, {"http", SourceType::kHttp}});
  RejectOtherTypesKeys(m, s.type);
  ReadTypeKeys(m, s);
  std::string format = m.String("format", "json");
  if (s.type == SourceType::kHttp && format != "json") {
    m.FailAt("format", "type: http takes JSON only (NDJSON or a JSON array), not \"" + format + "\"");
  }
  auto rules = std::make_shared<RuleSet>();
  s.format = m.Choice<Format>("format", "json", "format",
                              {{"json", Format::kJson}, {"logfmt", Format::kLogfmt}, {"regex", Format::kRegex}});
  if (s.format == Format::kRegex) ReadRegexFormat(m, s);
  std::string start = s.type == SourceType::kFile ? m.String("start_at", "end") : "end";
  if (start != "end" && start != "beginning") m.FailAt("start_at", "use end or beginning, not \"" + start + "\"");
  s.start_at_end = start == "end";
  s.max_line_bytes = static_cast<size_t>(m.Int("max_line_bytes", 64 * 1024, 256, 64 * 1024 * 1024));
  if (s.type == SourceType::kFile) {
    s.poll_interval = m.DurationValue("poll_interval", s.poll_interval, std::chrono::milliseconds(10));
  }
  std::string timestamp_field = m.String("timestamp_field", format == "json" ? "timestamp" : "time");
  for (const std::string& id : m.StringList("identifiers")) rules->identifiers.insert(id);
  if (m.IsList("rules")) {
    ReadRules(m, timestamp_field, *rules);
  } else {
    ReadRulesFile(m, timestamp_field, *rules);
  }
  s.rules = std::move(rules);
  m.RejectUnknownKeys();
  return s;
}

}  // namespace

std::shared_ptr<const LogsConfig> ReadLogsConfig(ConfigMap& top) {
  auto out = std::make_shared<LogsConfig>();
  std::set<std::string> names;
  for (ConfigMap& m : top.MapList("logs")) {
    ReadIndependently([&] {
      LogSourceConfig s = ReadSource(m, names);
      MergeMetricDefs(s.rules->metrics, m.Location("rules") + ": " + m.FieldPath("rules"), out->metrics);
      out->sources.push_back(std::move(s));
    });
  }
  if (auto dir = top.OptionalString("state_dir")) {
    out->state_dir = Resolve(*dir, top.source());
  } else if (auto systemd_dir = top.source().env("STATE_DIRECTORY"); systemd_dir && !systemd_dir->empty()) {
    // systemd's StateDirectory= (packaging/systemd/botwatch.service) exports
    // this: a packaged install survives restarts without counting twice,
    // with no setting to forget. Several directories are ':'-separated.
    out->state_dir = systemd_dir->substr(0, systemd_dir->find(':'));
  }
  out->state_interval = top.DurationValue("state_interval", out->state_interval, std::chrono::milliseconds(100));
  return out;
}

}  // namespace botwatch
