// --web.config.file: strict validation (one line, file:line:col, never the hash)
// and the basic-auth check with its cache of verified credentials.

#include <catch2/catch.hpp>

#include "web/basic_auth.h"
#include "web/web_config.h"
#include "tests/support/secure_http.h"
#include "tests/support/temp_dir.h"

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
                "  prometheus: " + hash + "\n");
  INFO(c.status().message());
  REQUIRE(c.ok());
  REQUIRE(c.value()->tls);
  CHECK(c.value()->tls->cert_file == pki.server_cert);
  CHECK(c.value()->tls->client_ca_file == pki.ca_cert);
  CHECK(c.value()->tls->client_auth == ClientAuth::kRequireAndVerifyClientCert);
  CHECK(c.value()->basic_auth_users.at("prometheus").reveal() == hash);
}

TEST_CASE("web config: every mistake is one line with file, line, column and field") {
  TempDir dir;
  TestPki pki = MakeTestPki(dir.path());
  const std::string tls = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
  std::string f = dir.path() + "/web.yml";
  struct Case {
    std::string text;
    std::string error;
  };
  std::vector<Case> cases = {
      {"basic_auth_user:\n  a: b\n", f + ":1:1: config: unknown key \"basic_auth_user\" (did you mean \"basic_auth_users\"?)"},
      {"basic_auth_users:\n  alice: hunter2-plaintext\n",
       f + ":2:10: basic_auth_users.alice: not a bcrypt hash (expected 60 characters starting with $2y$, $2b$ or "
           "$2a$; make one with: htpasswd -nbBC 10 \"\" PASSWORD | tr -d ':\\n')"},
      {"basic_auth_users:\n  alice: [1]\n", f + ":2:10: basic_auth_users.alice: expected a scalar value, got a list"},
      {"basic_auth_users:\n  alice: " + BcryptHash("a") + "\n  alice: " + BcryptHash("b") + "\n",
       f + ":3:10: basic_auth_users.alice: duplicate user"},
      {"- just a list\n", f + ":1:1: config: expected a map, got a list"},
      {"tls_server_config:\n  key_file: server.key\n", f + ":2:3: tls_server_config.cert_file: missing required field"},
      {"tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n",
       f + ":2:14: tls_server_config.cert_file: cannot read \"" + dir.path() + "/nope.crt\": No such file or directory"},
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
      {tls + "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
       f + ":4:3: tls_server_config: unknown key \"cipher_suites\""},
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
