#include "web/web_config.h"

#include <crypt.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

#include "base/lazy_openssl.h"
#include "base/openssl_error.h"

namespace botwatch {
namespace {

std::string ResolvePath(const ConfigSource& src, const std::string& path) {
  if (path.empty() || path.front() == '/' || src.dir.empty()) return path;
  return src.dir + "/" + path;
}

int ParseTlsVersion(ConfigMap& m, std::string_view key, int def) {
  std::optional<std::string> v = m.OptionalString(key);
  if (!v) return def;
  if (*v == "TLS10") return TLS1_VERSION;
  if (*v == "TLS11") return TLS1_1_VERSION;
  if (*v == "TLS12") return TLS1_2_VERSION;
  if (*v == "TLS13") return TLS1_3_VERSION;
  m.FailAt(key, "unknown TLS version \"" + *v + "\" (use TLS10, TLS11, TLS12 or TLS13)");
}

ClientAuth ParseClientAuth(ConfigMap& m) {
  static const std::vector<std::pair<std::string, ClientAuth>> kTypes = {
      {"NoClientCert", ClientAuth::kNoClientCert},
      {"RequestClientCert", ClientAuth::kRequestClientCert},
      {"RequireAnyClientCert", ClientAuth::kRequireAnyClientCert},
      {"VerifyClientCertIfGiven", ClientAuth::kVerifyClientCertIfGiven},
      {"RequireAndVerifyClientCert", ClientAuth::kRequireAndVerifyClientCert},
  };
  std::optional<std::string> v = m.OptionalString("client_auth_type");
  if (!v) return ClientAuth::kNoClientCert;
  std::vector<std::string> names;
  for (const auto& [name, type] : kTypes) {
    if (name == *v) return type;
    names.push_back(name);
  }
  std::string msg = "unknown client_auth_type \"" + *v + "\"";
  if (auto close = ClosestMatch(*v, names)) msg += " (did you mean \"" + *close + "\"?)";
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
  m.FailAt("client_auth_type", msg + "; use one of " + all);
}

struct NamePair {
  const char* go;
  const char* openssl;
};

// Go's tls.CipherSuites(), which is what exporter-toolkit accepts; the suites Go
// lists as insecure (RC4, 3DES, CBC with SHA-256) are refused there and here.
constexpr NamePair kCipherSuites[] = {
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {"TLS_AES_128_GCM_SHA256", ""},
    {"TLS_AES_256_GCM_SHA384", ""},
    {"TLS_CHACHA20_POLY1305_SHA256", ""},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
};

constexpr NamePair kCurves[] = {
    {"X25519", "X25519"},
    {"CurveP256", "P-256"},
    {"CurveP384", "P-384"},
    {"CurveP521", "P-521"},
};

template <size_t N>
std::optional<std::string> Lookup(const NamePair (&table)[N], std::string_view go) {
  for (const NamePair& p : table) {
    if (go == p.go) return std::string(p.openssl);
  }
  return std::nullopt;
}

template <size_t N>
std::vector<std::string> GoNames(const NamePair (&table)[N]) {
  std::vector<std::string> names;
  for (const NamePair& p : table) names.emplace_back(p.go);
  return names;
}

// Maps every item of list `key` of `node` (the tls_server_config map) through
// `map`; an unknown name fails at its own file:line:column, listing the names
// accepted. Items mapped to "" are dropped. Duplicates are refused, since a
// repeated name usually means another one was meant.
std::vector<std::string> MapNames(ConfigMap& m, const YAML::Node& node, std::string_view key, std::string_view what,
                                  const std::function<std::optional<std::string>(std::string_view)>& map,
                                  const std::vector<std::string>& accepted) {
  std::vector<std::string> names = m.StringList(key);  // type checks
  std::vector<std::string> mapped;
  const YAML::Node list = node[std::string(key)];
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string where =
        MarkString(m.source(), list[i].Mark()) + ": " + m.FieldPath(key) + "[" + std::to_string(i) + "]";
    for (size_t j = 0; j < i; ++j) {
      if (names[j] == names[i]) throw ConfigError(where + ": \"" + names[i] + "\" is listed twice");
    }
    std::optional<std::string> v = map(names[i]);
    if (!v) {
      std::string msg = where + ": unknown " + std::string(what) + " \"" + names[i] + "\"";
      if (auto close = ClosestMatch(names[i], accepted)) msg += " (did you mean \"" + *close + "\"?)";
      std::vector<std::string_view> views(accepted.begin(), accepted.end());
      throw ConfigError(msg + "; use " + JoinChoices(views));
    }
    if (!v->empty()) mapped.push_back(*v);
  }
  return mapped;
}

bool Verifies(ClientAuth a) {
  return a == ClientAuth::kVerifyClientCertIfGiven || a == ClientAuth::kRequireAndVerifyClientCert;
}

void RequireReadable(ConfigMap& m, std::string_view key, const std::string& path) {
  std::ifstream in(path);
  if (!in) m.FailAt(key, "cannot read \"" + path + "\": " + std::strerror(errno));
}

TlsServerConfig ReadTls(ConfigMap& m, const YAML::Node& node) {
  TlsServerConfig t;
  const ConfigSource& src = m.source();
  t.cert_file = ResolvePath(src, m.RequiredString("cert_file"));
  t.key_file = ResolvePath(src, m.RequiredString("key_file"));
  t.client_ca_file = ResolvePath(src, m.String("client_ca_file", ""));
  t.client_auth = ParseClientAuth(m);
  t.min_version = ParseTlsVersion(m, "min_version", TLS1_2_VERSION);
  t.max_version = ParseTlsVersion(m, "max_version", 0);
  if (t.max_version != 0 && t.max_version < t.min_version) {
    m.FailAt("max_version", "is lower than min_version");
  }
  t.cipher_suites = MapNames(m, node, "cipher_suites", "cipher suite", &OpenSslCipherSuite, GoCipherSuiteNames());
  if (t.cipher_suites.empty() && !m.StringList("cipher_suites").empty() && t.min_version < TLS1_3_VERSION) {
    // Go would take such a list and then fail every TLS 1.2 handshake.
    m.FailAt("cipher_suites",
             "lists only TLS 1.3 suites, which are not configurable (as in Go); list TLS 1.2 suites, "
             "set min_version: TLS13, or remove the key");
  }
  t.groups = MapNames(m, node, "curve_preferences", "curve", &OpenSslGroup, GoCurveNames());
  t.prefer_server_cipher_suites = m.Bool("prefer_server_cipher_suites", true);
  if (Verifies(t.client_auth) && t.client_ca_file.empty()) {
    m.FailAt("client_auth_type", "verifying client certificates needs client_ca_file");
  }
  if (!t.client_ca_file.empty() && !Verifies(t.client_auth)) {
    m.FailAt("client_ca_file",
             "is set but client_auth_type does not verify client certificates "
             "(use VerifyClientCertIfGiven or RequireAndVerifyClientCert)");
  }
  RequireReadable(m, "cert_file", t.cert_file);
  RequireReadable(m, "key_file", t.key_file);
  if (!t.client_ca_file.empty()) RequireReadable(m, "client_ca_file", t.client_ca_file);
  m.RejectUnknownKeys();

  // Load everything into a throwaway context now, so a bad PEM or a key that
  // does not match the certificate is a config error, not a failed start later.
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    const std::string missing = OpenSslMissing();
    m.Fail(missing.empty() ? "cannot create a TLS context" : missing);
  }
  std::optional<TlsSetupError> err = ConfigureTlsContext(ctx, t);
  SSL_CTX_free(ctx);
  if (err) m.FailAt(err->field, err->message);
  return t;
}

bool IsBcrypt(const std::string& hash) {
  if (hash.size() != 60) return false;
  if (hash.rfind("$2a$", 0) != 0 && hash.rfind("$2b$", 0) != 0 && hash.rfind("$2y$", 0) != 0) return false;
  return crypt_checksalt(hash.c_str()) == CRYPT_SALT_OK;
}

std::map<std::string, Secret> ReadUsers(ConfigMap& top, const YAML::Node& root) {
  std::map<std::string, Secret> users;
  std::map<std::string, std::string> raw = top.StringMap("basic_auth_users");  // type checks
  if (raw.empty()) {
    // An empty map would quietly serve everything without auth: whoever wrote
    // the key meant to turn auth on, so refuse rather than guess.
    if (root["basic_auth_users"] && !root["basic_auth_users"].IsNull()) {
      throw ConfigError(MarkString(top.source(), root["basic_auth_users"].Mark()) +
                        ": basic_auth_users: is empty, which would turn auth off; list at least one user, "
                        "or remove the key to serve without auth");
    }
    return users;
  }
  for (const auto& kv : root["basic_auth_users"]) {
    std::string user = kv.first.Scalar();
    std::string where = MarkString(top.source(), kv.second.Mark()) + ": basic_auth_users." + user;
    if (user.empty() || user.find(':') != std::string::npos) {
      throw ConfigError(where + ": a user name must be non-empty and contain no ':'");
    }
    // Deliberately the raw scalar: hashes are taken verbatim, as the
    // exporter-toolkit does, and never echoed back in an error.
    const std::string& hash = kv.second.Scalar();
    if (!IsBcrypt(hash)) {
      throw ConfigError(where +
                        ": not a bcrypt hash (expected 60 characters starting with $2y$, $2b$ or $2a$; "
                        "make one with: htpasswd -nbBC 10 \"\" PASSWORD | tr -d ':\\n')");
    }
    if (!users.emplace(user, Secret(hash)).second) throw ConfigError(where + ": duplicate user");
  }
  return users;
}

std::string OpenSslError() { return TakeOpenSslError("unknown TLS error"); }

int AcceptAnyCertificate(int, X509_STORE_CTX*) { return 1; }

}  // namespace

std::optional<std::string> OpenSslCipherSuite(std::string_view go_name) { return Lookup(kCipherSuites, go_name); }
std::vector<std::string> GoCipherSuiteNames() { return GoNames(kCipherSuites); }
std::optional<std::string> OpenSslGroup(std::string_view go_name) { return Lookup(kCurves, go_name); }
std::vector<std::string> GoCurveNames() { return GoNames(kCurves); }

std::optional<TlsSetupError> ConfigureTlsContext(void* raw_ctx, const TlsServerConfig& tls) {
  auto* ctx = static_cast<SSL_CTX*>(raw_ctx);
  ERR_clear_error();
  if (SSL_CTX_set_min_proto_version(ctx, tls.min_version) != 1) {
    return TlsSetupError{"min_version", "not supported by this OpenSSL: " + OpenSslError()};
  }
  if (tls.max_version != 0 && SSL_CTX_set_max_proto_version(ctx, tls.max_version) != 1) {
    return TlsSetupError{"max_version", "not supported by this OpenSSL: " + OpenSslError()};
  }
  // TLS 1.2 by default: forward-secret AEAD suites only (TLS 1.3's are all of
  // that kind); cipher_suites replaces that list. The server's order first
  // unless told otherwise, and never client-initiated renegotiation (a cheap
  // way to make the server do handshake work on an open connection).
  std::string ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20";
  if (!tls.cipher_suites.empty()) {
    ciphers.clear();
    for (const std::string& c : tls.cipher_suites) ciphers += (ciphers.empty() ? "" : ":") + c;
  }
  if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
    return TlsSetupError{tls.cipher_suites.empty() ? "cert_file" : "cipher_suites",
                         "cannot set the TLS 1.2 cipher suites: " + OpenSslError()};
  }
  if (!tls.groups.empty()) {
    std::string groups;
    for (const std::string& g : tls.groups) groups += (groups.empty() ? "" : ":") + g;
    if (SSL_CTX_set1_groups_list(ctx, groups.c_str()) != 1) {
      return TlsSetupError{"curve_preferences", "not supported by this OpenSSL: " + OpenSslError()};
    }
  }
  uint64_t options = SSL_OP_NO_RENEGOTIATION;
  if (tls.prefer_server_cipher_suites) options |= SSL_OP_CIPHER_SERVER_PREFERENCE;
  SSL_CTX_set_options(ctx, options);
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1) {
    return TlsSetupError{"cert_file", "cannot load certificate \"" + tls.cert_file + "\": " + OpenSslError()};
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return TlsSetupError{"key_file", "the private key does not match cert_file"};
    }
    return TlsSetupError{"key_file", "cannot load private key \"" + tls.key_file + "\": " + OpenSslError()};
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return TlsSetupError{"key_file", "the private key does not match cert_file"};
  }
  if (!tls.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, tls.client_ca_file.c_str(), nullptr) != 1) {
      return TlsSetupError{"client_ca_file",
                           "cannot load CA certificates \"" + tls.client_ca_file + "\": " + OpenSslError()};
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca_file.c_str());
    if (names == nullptr) {
      return TlsSetupError{"client_ca_file", "no certificate in \"" + tls.client_ca_file + "\""};
    }
    SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
  }
  switch (tls.client_auth) {
    case ClientAuth::kNoClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
      break;
    case ClientAuth::kRequestClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, &AcceptAnyCertificate);
      break;
    case ClientAuth::kRequireAnyClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, &AcceptAnyCertificate);
      break;
    case ClientAuth::kVerifyClientCertIfGiven:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      break;
    case ClientAuth::kRequireAndVerifyClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
  // Session resumption with client certificates fails without an id context.
  static const unsigned char kSessionContext[] = "botwatch";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  return std::nullopt;
}

Result<std::shared_ptr<const WebConfig>> LoadWebConfigText(const std::string& text, ConfigSource source) {
  auto src = std::make_shared<const ConfigSource>(std::move(source));
  try {
    YAML::Node root = ParseYaml(text, *src);
    auto config = std::make_shared<WebConfig>();
    config->file = src->file;
    if (root.IsNull()) return std::shared_ptr<const WebConfig>(std::move(config));  // empty file: no TLS, no auth
    ConfigMap top(root, src, "");
    if (auto tls = top.OptionalMap("tls_server_config")) config->tls = ReadTls(*tls, root["tls_server_config"]);
    config->basic_auth_users = ReadUsers(top, root);
    top.RejectUnknownKeys();
    return std::shared_ptr<const WebConfig>(std::move(config));
  } catch (const ConfigError& e) {
    return Status::Error(e.what());
  } catch (const std::exception& e) {
    return Status::Error(src->file + ": " + e.what());
  }
}

Result<std::shared_ptr<const WebConfig>> LoadWebConfigFile(const std::string& path) {
  Result<ConfigFileText> file = ReadConfigFile(path, "web config file");
  if (!file.ok()) return file.status();
  return LoadWebConfigText(file.value().text, std::move(file.value().source));
}

}  // namespace botwatch
