#pragma once

// Strict reading of YAML config: every key must be consumed, types are checked,
// `${VAR}` expands from the environment, `<key>_file` reads a secret from a file,
// and every error is one line naming file:line:column and the field's path.

#include <yaml-cpp/yaml.h>

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "base/duration.h"
#include "base/secret.h"
#include "base/status.h"

namespace botwatch {

// Thrown only inside config loading; LoadConfig turns it into a Status, so it
// never crosses a module boundary.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Environment lookup seam, so tests do not mutate the process environment.
using EnvLookup = std::optional<std::string> (*)(const std::string& name);
std::optional<std::string> ProcessEnv(const std::string& name);

struct ConfigSource {
  std::string file;  // as shown in errors
  std::string dir;   // relative *_file paths resolve against this directory
  EnvLookup env = &ProcessEnv;
  // check-config --skip-env: ${VAR} stays as written (for image builds, where
  // secrets exist only at run time); the shape is still checked.
  bool skip_env = false;
};

// "a, b or c": the valid values an error lists.
std::string JoinChoices(const std::vector<std::string_view>& names);

// A config file's text and the ConfigSource that names it in errors and
// resolves its relative *_file paths against its folder. `what` names the
// file in errors ("config file").
struct ConfigFileText {
  std::string text;
  ConfigSource source;
};
Result<ConfigFileText> ReadConfigFile(const std::string& path, const std::string& what);

// The closest candidate by edit distance, if it is close enough to be a typo.
std::optional<std::string> ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// Collects the errors of a config's independent parts (each collector, log
// source and rule) so that one check-config run reports every mistake. While
// a list is alive on this thread, ReadIndependently records an error and lets
// reading go on with the next part; without one, the error propagates.
class ConfigErrorList {
 public:
  ConfigErrorList();
  ~ConfigErrorList();
  ConfigErrorList(const ConfigErrorList&) = delete;
  ConfigErrorList& operator=(const ConfigErrorList&) = delete;

  void Add(std::string message) { errors_.push_back(std::move(message)); }
  bool empty() const { return errors_.empty(); }
  // By file, line and column; errors without a position first.
  std::vector<std::string> Sorted() const;

  static ConfigErrorList* Current();

 private:
  std::vector<std::string> errors_;
  ConfigErrorList* previous_;
};

// Runs `read`, one independent part of a config (see ConfigErrorList).
void ReadIndependently(const std::function<void()>& read);

// Expands ${VAR} (and keeps "$$" as a literal "$"). Throws ConfigError naming `where`.
std::string ExpandEnv(const std::string& text, const ConfigSource& src, const std::string& where);

class ConfigMap {
 public:
  // `path` is the field path shown in errors, e.g. "collectors[2]".
  ConfigMap(YAML::Node node, std::shared_ptr<const ConfigSource> src, std::string path);

  const std::string& path() const { return path_; }
  const ConfigSource& source() const { return *src_; }
  bool Has(std::string_view key) const;
  // Whether `key` holds a list (lets one key take a file name or an inline list).
  bool IsList(std::string_view key) const;

  std::string RequiredString(std::string_view key);
  std::optional<std::string> OptionalString(std::string_view key);
  std::string String(std::string_view key, std::string def);
  bool Bool(std::string_view key, bool def);
  int64_t Int(std::string_view key, int64_t def, int64_t min, int64_t max);
  std::optional<int64_t> OptionalInt(std::string_view key, int64_t min, int64_t max);
  double Double(std::string_view key, double def);
  Duration DurationValue(std::string_view key, Duration def, Duration min = Duration(1));
  std::vector<std::string> StringList(std::string_view key);
  std::vector<int64_t> IntList(std::string_view key, int64_t min, int64_t max);
  std::vector<double> DoubleList(std::string_view key);
  std::map<std::string, std::string> StringMap(std::string_view key);
  // The value of `key`, or the trimmed contents of the file named by `key_file`.
  // Both set, or a required one missing, is an error.
  std::optional<Secret> OptionalSecret(std::string_view key);
  Secret RequiredSecret(std::string_view key);
  std::optional<ConfigMap> OptionalMap(std::string_view key);
  std::vector<ConfigMap> MapList(std::string_view key);
  // Exactly one of `keys` must be present; returns its name.
  std::string OneOf(const std::vector<std::string>& keys);
  // `key`'s value (`def` when absent) mapped through `choices`; any other value
  // fails with: unknown <what> "value"; use a, b or c.
  template <typename T>
  T Choice(std::string_view key, std::string def, std::string_view what,
           std::initializer_list<std::pair<std::string_view, T>> choices) {
    std::string value = String(key, std::move(def));
    std::vector<std::string_view> names;
    for (const auto& [name, result] : choices) {
      if (name == value) return result;
      names.push_back(name);
    }
    FailAt(key, "unknown " + std::string(what) + " \"" + value + "\"; use " + JoinChoices(names));
  }

  // Call after reading every field: an unread key is an error suggesting the closest
  // valid one.
  void RejectUnknownKeys() const;

  // Errors at a key's value (or at the map itself when the key is absent).
  [[noreturn]] void FailAt(std::string_view key, const std::string& message) const;
  [[noreturn]] void Fail(const std::string& message) const;
  std::string Location(std::string_view key) const;

  // Builds a child path such as "collectors[0].queries[1]".
  std::string FieldPath(std::string_view key) const;

 private:
  YAML::Node Get(std::string_view key);
  // Calls `each(item, where, index)` for every item of list `key` (none when it
  // is absent or null); `where` is the item's file:line:column and field path.
  void ForEachItem(std::string_view key,
                   const std::function<void(const YAML::Node&, const std::string&, size_t)>& each);
  std::string ScalarString(std::string_view key, const YAML::Node& n) const;
  // A required `key` is absent: a present key that is a typo of it is the
  // error (unknown key "urll" (did you mean "url"?)), else `message` at `key`.
  [[noreturn]] void FailMissing(std::string_view key, const std::string& message) const;

  YAML::Node node_;
  std::shared_ptr<const ConfigSource> src_;
  std::string path_;
  std::set<std::string, std::less<>> read_;
};

// "file:line:col" for a node (1-based).
std::string MarkString(const ConfigSource& src, const YAML::Mark& mark);

// Parses a YAML document from text; errors carry file:line:column.
YAML::Node ParseYaml(const std::string& text, const ConfigSource& src);

}  // namespace botwatch
