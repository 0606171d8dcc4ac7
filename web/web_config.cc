#include "web/web_config.h"

#include <crypt.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/lazy_openssl.h"

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

bool Verifies(ClientAuth a) {
  return a == ClientAuth::kVerifyClientCertIfGiven || a == ClientAuth::kRequireAndVerifyClientCert;
}

void RequireReadable(ConfigMap& m, std::string_view key, const std::string& path) {
  std::ifstream in(path);
  if (!in) m.FailAt(key, "cannot read \"" + path + "\": " + std::strerror(errno));
}

TlsServerConfig ReadTls(ConfigMap& m) {
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

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

int AcceptAnyCertificate(int, X509_STORE_CTX*) { return 1; }

}  // namespace

std::optional<TlsSetupError> ConfigureTlsContext(void* raw_ctx, const TlsServerConfig& tls) {
  auto* ctx = static_cast<SSL_CTX*>(raw_ctx);
  ERR_clear_error();
  if (SSL_CTX_set_min_proto_version(ctx, tls.min_version) != 1) {
    return TlsSetupError{"min_version", "not supported by this OpenSSL: " + OpenSslError()};
  }
  if (tls.max_version != 0 && SSL_CTX_set_max_proto_version(ctx, tls.max_version) != 1) {
    return TlsSetupError{"max_version", "not supported by this OpenSSL: " + OpenSslError()};
  }
  // TLS 1.2: forward-secret AEAD suites only (TLS 1.3's are all of that kind),
  // the server's order first, and no client-initiated renegotiation (a cheap
  // way to make the server do handshake work on an open connection).
  if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
    return TlsSetupError{"cert_file", "cannot set the TLS 1.2 cipher suites: " + OpenSslError()};
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
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
    if (auto tls = top.OptionalMap("tls_server_config")) config->tls = ReadTls(*tls);
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
