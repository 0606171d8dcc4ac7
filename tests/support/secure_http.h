#pragma once

// HTTP(S) requests with basic auth, a CA to trust and a client certificate, for
// the web-security tests; plus the material they need (bcrypt hashes, a CA and
// certificates made with the openssl CLI).

#include <string>
#include <vector>

#include "tests/support/http_client.h"

namespace botwatch::testing {

struct SecureRequest {
  std::string url;
  std::string method = "GET";
  std::string body;                  // sent with POST
  std::vector<std::string> headers;  // extra request headers, "Name: value"
  std::string user;                  // basic auth when non-empty
  std::string password;
  std::string ca_file;    // trust this CA (TLS verification stays on)
  std::string cert_file;  // client certificate (mTLS)
  std::string key_file;
  long timeout_ms = 5000;
  // Bounds on the TLS version the client offers: "1.2" or "1.3" ("" = libcurl's default).
  std::string tls_min;
  std::string tls_max;
};

struct SecureResult : HttpResult {
  std::string headers;      // raw response headers
  std::string error;        // curl's message when curl_code != 0
  std::string tls_version;  // the negotiated version, e.g. "TLSv1.3" ("" without a TLS session)
};

SecureResult Fetch(const SecureRequest& request);

// A bcrypt hash made with libxcrypt; cost 4 keeps tests fast.
std::string BcryptHash(const std::string& password, int cost = 4);

// Files made by `openssl` in `dir`: ca.crt/ca.key, server.crt/server.key (for
// 127.0.0.1 and localhost, signed by the CA), client.crt/client.key (signed by
// the CA) and rogue.crt/rogue.key (self-signed, unknown to the server).
struct TestPki {
  std::string ca_cert, server_cert, server_key, client_cert, client_key, rogue_cert, rogue_key;
};
TestPki MakeTestPki(const std::string& dir);

}  // namespace botwatch::testing
