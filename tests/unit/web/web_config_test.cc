// --web.config.file: strict validation (one line, file:line:col, never the hash)
// and the basic-auth check with its cache of verified credentials.

#include <catch2/catch.hpp>

#include "tests/support/secure_http.h"
#include "tests/support/temp_dir.h"
#include "web/basic_auth.h"
#include "web/web_config.h"

using namespace botwatch;
using namespace botwatch::testing;

namespace {

Result<std::shared_ptr<const WebConfig>> Load(const TempDir& dir, const std::string& text) {
  return LoadWebConfigFile(dir.Write("web.yml", text));
}

std::string Base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (in.size() - i == 1) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += std::string{kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (in.size() - i == 2) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += std::string{kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out;
}

std::string BasicHeader(const std::string& user, const std::string& password) {
  return "Basic " + Base64(user + ":" + password);
}

}  // namespace

TEST_CASE("web config: an empty file means plain HTTP without auth") {
  TempDir dir;
  auto c = Load(dir, "");
  REQUIRE(c.ok());
  CHECK_FALSE(c.value()->tls);
  CHECK_FALSE(c.value()->auth_enabled());
}

TEST_CASE("web config: TLS with mTLS and users loads, relative paths resolve against the file") {
  TempDir dir;
  TestPki pki = MakeTestPki(dir.path());
  std::string hash = BcryptHash("pw");
  auto c = Load(dir,
                "tls_server_config:\n"
                "  cert_file: server.crt\n"
                "  key_file: server.key\n"
                "  client_auth_type: RequireAndVerifyClientCert\n"
                "  client_ca_file: ca.crt\n"
                "  min_version: TLS13\n"
                "basic_auth_users:\n"
                "  prometheus: " +
                    hash + "\n");
  INFO(c.status().message());
  REQUIRE(c.ok());
  REQUIRE(c.value()->tls);
  CHECK(c.value()->tls->cert_file == pki.server_cert);
  CHECK(c.value()->tls->client_ca_file == pki.ca_cert);
  CHECK(c.value()->tls->client_auth == ClientAuth::kRequireAndVerifyClientCert);
  CHECK(c.value()->basic_auth_users.at("prometheus").reveal() == hash);
}

TEST_CASE("web config: every mistake is one line with file, line, column and field") {
  const std::string kCipherChoices =
      "TLS_RSA_WITH_AES_128_CBC_SHA, TLS_RSA_WITH_AES_256_CBC_SHA, TLS_RSA_WITH_AES_128_GCM_SHA256, "
      "TLS_RSA_WITH_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, "
      "TLS_CHACHA20_POLY1305_SHA256, TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "
      "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "
      "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "
      "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "
      "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 or TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256";
  TempDir dir;
  TestPki pki = MakeTestPki(dir.path());
  const std::string tls = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
  std::string f = dir.path() + "/web.yml";
  struct Case {
    std::string text;
    std::string error;
  };
  std::vector<Case> cases = {
      {"basic_auth_user:\n  a: b\n",
       f + ":1:1: config: unknown key \"basic_auth_user\" (did you mean \"basic_auth_users\"?)"},
      {"basic_auth_users:\n  alice: hunter2-plaintext\n",
       f + ":2:10: basic_auth_users.alice: not a bcrypt hash (expected 60 characters starting with $2y$, $2b$ or "
           "$2a$; make one with: htpasswd -nbBC 10 \"\" PASSWORD | tr -d ':\\n')"},
      {"basic_auth_users:\n  alice: [1]\n", f + ":2:10: basic_auth_users.alice: expected a scalar value, got a list"},
      {"basic_auth_users:\n  alice: " + BcryptHash("a") + "\n  alice: " + BcryptHash("b") + "\n",
       f + ":3:10: basic_auth_users.alice: duplicate user"},
      {"- just a list\n", f + ":1:1: config: expected a map, got a list"},
      {"tls_server_config:\n  key_file: server.key\n", f + ":2:3: tls_server_config.cert_file: missing required field"},
      {"tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n",
       f + ":2:14: tls_server_config.cert_file: cannot read \"" + dir.path() +
           "/nope.crt\": No such file or directory"},
      {"tls_server_config:\n  cert_file: server.crt\n  key_file: client.key\n",
       f + ":3:13: tls_server_config.key_file: the private key does not match cert_file"},
      {"tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n",
       f + ":2:14: tls_server_config.cert_file: cannot load certificate \"" + dir.path() +
           "/server.key\": error:0480006C:PEM routines::no start line"},
      {tls + "  min_version: TLS14\n",
       f + ":4:16: tls_server_config.min_version: unknown TLS version \"TLS14\" (use TLS10, TLS11, TLS12 or TLS13)"},
      {tls + "  min_version: TLS13\n  max_version: TLS12\n",
       f + ":5:16: tls_server_config.max_version: is lower than min_version"},
      {tls + "  client_auth_type: RequireAndVerifyClientCerts\n",
       f + ":4:21: tls_server_config.client_auth_type: unknown client_auth_type \"RequireAndVerifyClientCerts\" "
           "(did you mean \"RequireAndVerifyClientCert\"?); use one of NoClientCert, RequestClientCert, "
           "RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert"},
      {tls + "  client_auth_type: RequireAndVerifyClientCert\n",
       f + ":4:21: tls_server_config.client_auth_type: verifying client certificates needs client_ca_file"},
      {tls + "  client_ca_file: ca.crt\n",
       f + ":4:19: tls_server_config.client_ca_file: is set but client_auth_type does not verify client "
           "certificates (use VerifyClientCertIfGiven or RequireAndVerifyClientCert)"},
      {tls + "  cipher_suites:\n    - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n    - "
             "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA384\n",
       f +
           ":6:7: tls_server_config.cipher_suites[1]: unknown cipher suite \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA384\" "
           "(did you mean \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\"?); use " +
           kCipherChoices},
      // OpenSSL's own names are not exporter-toolkit's.
      {tls + "  cipher_suites: [ECDHE-RSA-AES128-GCM-SHA256]\n",
       f + ":4:19: tls_server_config.cipher_suites[0]: unknown cipher suite \"ECDHE-RSA-AES128-GCM-SHA256\"; use " +
           kCipherChoices},
      // Go lists these as insecure; exporter-toolkit refuses them, so do we.
      {tls + "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256]\n",
       f +
           ":4:19: tls_server_config.cipher_suites[0]: unknown cipher suite \"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256\" "
           "(did you mean \"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA\"?); use " +
           kCipherChoices},
      {tls + "  cipher_suites: [TLS_RSA_WITH_3DES_EDE_CBC_SHA]\n",
       f +
           ":4:19: tls_server_config.cipher_suites[0]: unknown cipher suite \"TLS_RSA_WITH_3DES_EDE_CBC_SHA\" "
           "(did you mean \"TLS_RSA_WITH_AES_128_CBC_SHA\"?); use " +
           kCipherChoices},
      {tls + "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
       f + ":4:18: tls_server_config.cipher_suites: lists only TLS 1.3 suites, which are not configurable (as in "
           "Go); list TLS 1.2 suites, set min_version: TLS13, or remove the key"},
      {tls + "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n",
       f + ":4:58: tls_server_config.cipher_suites[1]: \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\" is listed twice"},
      {tls + "  cipher_suites: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n",
       f + ":4:18: tls_server_config.cipher_suites: expected a list, got a scalar"},
      {tls + "  curve_preferences: [X25519, P-256]\n",
       f + ":4:31: tls_server_config.curve_preferences[1]: unknown curve \"P-256\"; use X25519, CurveP256, CurveP384 "
           "or CurveP521"},
      {tls + "  curve_preferences: [CurveP25519]\n",
       f + ":4:23: tls_server_config.curve_preferences[0]: unknown curve \"CurveP25519\" (did you mean "
           "\"CurveP256\"?); use X25519, CurveP256, CurveP384 or CurveP521"},
      {tls + "  prefer_server_cipher_suites: maybe\n",
       f + ":4:32: tls_server_config.prefer_server_cipher_suites: expected true or false, got \"maybe\""},
      {tls + "  cipher_suite: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n",
       f + ":4:3: tls_server_config: unknown key \"cipher_suite\" (did you mean \"cipher_suites\"?)"},
      {"tls_server_config: [\n", f + ":2:1: invalid YAML: end of sequence flow not found"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto r = Load(dir, c.text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message() == c.error);
    CHECK(r.status().message().find('\n') == std::string::npos);
  }
}

TEST_CASE("web config: cipher_suites, curve_preferences and prefer_server_cipher_suites map to OpenSSL") {
  TempDir dir;
  TestPki pki = MakeTestPki(dir.path());
  const std::string tls = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
  SECTION("absent: the defaults") {
    auto c = Load(dir, tls);
    REQUIRE(c.ok());
    CHECK(c.value()->tls->cipher_suites.empty());
    CHECK(c.value()->tls->groups.empty());
    CHECK(c.value()->tls->prefer_server_cipher_suites);
  }
  SECTION("set: OpenSSL names in the file's order, TLS 1.3 names dropped as in Go") {
    auto c = Load(dir, tls +
                           "  cipher_suites:\n"
                           "    - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n"
                           "    - TLS_AES_128_GCM_SHA256\n"
                           "    - TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256\n"
                           "    - TLS_RSA_WITH_AES_128_CBC_SHA\n"
                           "  curve_preferences: [CurveP521, X25519, CurveP384, CurveP256]\n"
                           "  prefer_server_cipher_suites: false\n");
    INFO(c.status().message());
    REQUIRE(c.ok());
    CHECK(c.value()->tls->cipher_suites ==
          std::vector<std::string>{"ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305", "AES128-SHA"});
    CHECK(c.value()->tls->groups == std::vector<std::string>{"P-521", "X25519", "P-384", "P-256"});
    CHECK_FALSE(c.value()->tls->prefer_server_cipher_suites);
  }
  SECTION("only TLS 1.3 names are fine when TLS 1.2 is off") {
    auto c = Load(dir, tls + "  min_version: TLS13\n  cipher_suites: [TLS_AES_256_GCM_SHA384]\n");
    INFO(c.status().message());
    REQUIRE(c.ok());
    CHECK(c.value()->tls->cipher_suites.empty());
  }
  SECTION("an empty list means the default, as in exporter-toolkit") {
    auto c = Load(dir, tls + "  cipher_suites: []\n  curve_preferences: []\n");
    REQUIRE(c.ok());
    CHECK(c.value()->tls->cipher_suites.empty());
    CHECK(c.value()->tls->groups.empty());
  }
}

TEST_CASE("web config: every accepted Go name maps to a name this OpenSSL knows") {
  TempDir dir;
  TestPki pki = MakeTestPki(dir.path());
  const std::string tls = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
  for (const std::string& name : GoCipherSuiteNames()) {
    INFO(name);
    std::optional<std::string> o = OpenSslCipherSuite(name);
    REQUIRE(o);
    CHECK(o->empty() == (name.rfind("TLS_ECDHE_", 0) != 0 && name.rfind("TLS_RSA_", 0) != 0));
    if (o->empty()) continue;
    // Loading builds a real SSL_CTX with the list: OpenSSL refuses a name it does not know.
    auto c = Load(dir, tls + "  cipher_suites: [" + name + "]\n");
    INFO(c.status().message());
    CHECK(c.ok());
  }
  for (const std::string& name : GoCurveNames()) {
    INFO(name);
    auto c = Load(dir, tls + "  curve_preferences: [" + name + "]\n");
    INFO(c.status().message());
    CHECK(c.ok());
  }
  CHECK(GoCipherSuiteNames().size() == 17);
  CHECK(*OpenSslCipherSuite("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256") == "ECDHE-ECDSA-CHACHA20-POLY1305");
  CHECK_FALSE(OpenSslCipherSuite("TLS_RSA_WITH_RC4_128_SHA"));
  CHECK_FALSE(OpenSslCipherSuite("tls_ecdhe_rsa_with_aes_128_gcm_sha256"));  // Go's names are case-sensitive
  CHECK(*OpenSslGroup("CurveP256") == "P-256");
  CHECK_FALSE(OpenSslGroup("P256"));
  CHECK(GoCurveNames() == std::vector<std::string>{"X25519", "CurveP256", "CurveP384", "CurveP521"});
}

TEST_CASE("web config: a bad hash is never echoed in the error") {
  TempDir dir;
  // A truncated real hash: close enough to be a secret worth hiding.
  std::string hash = BcryptHash("pw").substr(0, 50);
  auto r = Load(dir, "basic_auth_users:\n  alice: '" + hash + "'\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find(hash) == std::string::npos);
  CHECK(r.status().message().find(hash.substr(7)) == std::string::npos);
}

TEST_CASE("basic auth: right, wrong, unknown and malformed credentials") {
  BasicAuth auth({{"alice", Secret(BcryptHash("correct horse"))}});
  CHECK(auth.Allow(BasicHeader("alice", "correct horse").c_str()));
  CHECK(auth.Allow(("basic   " + Base64("alice:correct horse")).c_str()));  // scheme is case-insensitive
  CHECK_FALSE(auth.Allow(nullptr));
  CHECK_FALSE(auth.Allow(BasicHeader("alice", "correct horsE").c_str()));
  CHECK_FALSE(auth.Allow(BasicHeader("alice", "").c_str()));
  CHECK_FALSE(auth.Allow(BasicHeader("bob", "correct horse").c_str()));
  CHECK_FALSE(auth.Allow(BasicHeader("alice:correct horse", "").c_str()));
  CHECK_FALSE(auth.Allow(("Bearer " + Base64("alice:correct horse")).c_str()));
  CHECK_FALSE(auth.Allow("Basic !!!!"));
  CHECK_FALSE(auth.Allow("Basic YWxpY2U="));  // "alice": no colon
  CHECK_FALSE(auth.Allow(""));
  CHECK_FALSE(auth.Allow("Basic "));
}

TEST_CASE("basic auth: verified credentials are cached, and so are failures") {
  BasicAuth auth({{"alice", Secret(BcryptHash("pw"))}});
  REQUIRE(auth.Verify("alice", "pw"));
  CHECK(auth.bcrypt_checks() == 1);
  for (int i = 0; i < 10; ++i) REQUIRE(auth.Verify("alice", "pw"));
  CHECK(auth.bcrypt_checks() == 1);
  CHECK(auth.cache_hits() == 10);
  // A replayed wrong guess costs one bcrypt check, not one per try.
  for (int i = 0; i < 3; ++i) REQUIRE_FALSE(auth.Verify("alice", "pW"));
  CHECK(auth.bcrypt_checks() == 2);
  // An unknown user still costs one bcrypt check (no timing oracle for names).
  REQUIRE_FALSE(auth.Verify("mallory", "pw"));
  CHECK(auth.bcrypt_checks() == 3);
}

TEST_CASE("basic auth: the cache is bounded") {
  std::map<std::string, Secret> users;
  std::string hash = BcryptHash("pw");
  for (size_t i = 0; i < BasicAuth::kMaxCached + 1; ++i) users.emplace("u" + std::to_string(i), Secret(hash));
  BasicAuth auth(std::move(users));
  for (size_t i = 0; i < BasicAuth::kMaxCached + 1; ++i) REQUIRE(auth.Verify("u" + std::to_string(i), "pw"));
  CHECK(auth.bcrypt_checks() == BasicAuth::kMaxCached + 1);
  // The first entry was dropped when the cache started over; the last one is kept.
  REQUIRE(auth.Verify("u" + std::to_string(BasicAuth::kMaxCached), "pw"));
  CHECK(auth.cache_hits() == 1);
  REQUIRE(auth.Verify("u0", "pw"));
  CHECK(auth.bcrypt_checks() == BasicAuth::kMaxCached + 2);
}

TEST_CASE("base64 decoding") {
  std::string out;
  CHECK(DecodeBase64("YWxpY2U6cHc=", &out));
  CHECK(out == "alice:pw");
  CHECK(DecodeBase64("YQ==", &out));
  CHECK(out == "a");
  CHECK(DecodeBase64("", &out));
  CHECK(out.empty());
  CHECK_FALSE(DecodeBase64("YQ=", &out));
  CHECK_FALSE(DecodeBase64("Y===", &out));
  CHECK_FALSE(DecodeBase64("YQ=a", &out));
  CHECK_FALSE(DecodeBase64("YW*j", &out));
}
