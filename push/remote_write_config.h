#pragma once

// The top-level `remote_write:` list of the botwatch config (keys as
// Prometheus names them).

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/config_node.h"
#include "base/duration.h"
#include "base/secret.h"

namespace botwatch {

struct RemoteWriteConfig {
  std::string name;  // the `remote` label: `name`, else the URL's host:port (never credentials)
  std::string url;
  Duration interval = std::chrono::seconds(15);
  std::vector<std::pair<std::string, std::string>> external_labels;  // sorted; instance defaults to the host name
  std::vector<Secret> headers;  // "Name: value" lines, auth included; values may be credentials
  // Every credential as it may come back in a receiver's error text (password,
  // token, the base64 user:password, header values), redacted from messages.
  std::vector<Secret> redact;
  bool tls_verify = true;
  std::string ca_file, cert_file, key_file;
  Duration timeout = std::chrono::seconds(10);
  Duration buffer = std::chrono::hours(2);
};

// Reads `remote_write` from the top-level map (empty when absent).
std::vector<RemoteWriteConfig> ReadRemoteWriteConfig(ConfigMap& top);

}  // namespace botwatch
