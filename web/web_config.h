#pragma once

// --web.config.file: the Prometheus exporter-toolkit format (TLS and bcrypt basic
// auth), validated as strictly as the main config: every error is one line
// naming file:line:column and the field.
//
//   tls_server_config:
//     cert_file: server.crt        # PEM; relative paths resolve against this file
//     key_file: server.key
//     client_auth_type: RequireAndVerifyClientCert   # optional (mTLS)
//     client_ca_file: clients.pem                    # required by the Verify* types
//     min_version: TLS12                             # TLS10..TLS13, default TLS12
//     max_version: TLS13
//     cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]  # Go names; TLS 1.2 only
//     curve_preferences: [X25519, CurveP256]         # Go names; every version
//     prefer_server_cipher_suites: true              # default true
//   basic_auth_users:
//     prometheus: $2y$10$...       # bcrypt only

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/config_node.h"
#include "base/secret.h"
#include "base/status.h"

namespace botwatch {

enum class ClientAuth {
  kNoClientCert,
  kRequestClientCert,
  kRequireAnyClientCert,
  kVerifyClientCertIfGiven,
  kRequireAndVerifyClientCert,
};

struct TlsServerConfig {
  std::string cert_file;  // resolved paths
  std::string key_file;
  std::string client_ca_file;  // empty: none
  ClientAuth client_auth = ClientAuth::kNoClientCert;
  int min_version = 0;  // OpenSSL protocol numbers (TLS1_2_VERSION, ...)
  int max_version = 0;  // 0: no upper bound
  // OpenSSL names, in the file's order. Empty cipher_suites: the default
  // (forward-secret AEAD suites only); empty groups: OpenSSL's default.
  std::vector<std::string> cipher_suites;  // TLS 1.2 and below; TLS 1.3's are not configurable, as in Go
  std::vector<std::string> groups;
  bool prefer_server_cipher_suites = true;

  bool operator==(const TlsServerConfig&) const = default;
};

struct WebConfig {
  std::string file;
  std::optional<TlsServerConfig> tls;
  // user -> bcrypt hash. The hash is not the password, but it allows an offline
  // guessing attack, so it is kept out of logs like any other secret.
  std::map<std::string, Secret> basic_auth_users;

  bool auth_enabled() const { return !basic_auth_users.empty(); }
};

// exporter-toolkit takes Go's crypto/tls names. The cipher suites it accepts are
// those of Go's tls.CipherSuites() (the ones without known weaknesses; static-RSA
// and CBC-SHA1 suites among them, to be opted into by name). nullopt: a name it
// does not accept; "" for a TLS 1.3 suite (accepted and, as in Go, without effect).
std::optional<std::string> OpenSslCipherSuite(std::string_view go_name);
std::vector<std::string> GoCipherSuiteNames();
// X25519, CurveP256, CurveP384, CurveP521 -> OpenSSL group names.
std::optional<std::string> OpenSslGroup(std::string_view go_name);
std::vector<std::string> GoCurveNames();

Result<std::shared_ptr<const WebConfig>> LoadWebConfigFile(const std::string& path);
Result<std::shared_ptr<const WebConfig>> LoadWebConfigText(const std::string& text, ConfigSource source);

// Applies `tls` to an OpenSSL SSL_CTX (typed void* so this header does not pull
// OpenSSL in). On error, `field` names the key at fault ("cert_file", ...).
struct TlsSetupError {
  std::string field;
  std::string message;
};
std::optional<TlsSetupError> ConfigureTlsContext(void* ssl_ctx, const TlsServerConfig& tls);

}  // namespace botwatch
