#include "tests/support/secure_http.h"

#include <crypt.h>
#include <curl/curl.h>
#include <openssl/ssl.h>
#include <strings.h>

#include <chrono>
#include <memory>
#include <stdexcept>

#include "tests/support/botwatch_process.h"

namespace botwatch::testing {
namespace {

size_t Append(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

struct HeaderSink {
  std::string* headers;
  CURL* curl;
  std::string* tls_version;
};

// Keeps the headers and, while the connection is surely alive, notes the TLS
// version it negotiated (libcurl built with OpenSSL, as Debian's is).
size_t AppendHeader(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<HeaderSink*>(user);
  sink->headers->append(data, size * n);
  curl_tlssessioninfo* tls = nullptr;
  if (sink->tls_version->empty() && curl_easy_getinfo(sink->curl, CURLINFO_TLS_SSL_PTR, &tls) == CURLE_OK &&
      tls != nullptr && tls->backend == CURLSSLBACKEND_OPENSSL && tls->internals != nullptr) {
    *sink->tls_version = SSL_get_version(static_cast<SSL*>(tls->internals));
  }
  return size * n;
}

void Openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = RunCommand(argv);
  if (r.exit_code != 0) throw std::runtime_error("openssl " + args[0] + " failed: " + r.output);
}

}  // namespace

SecureResult Fetch(const SecureRequest& q) {
  SecureResult r;
  CURL* c = curl_easy_init();
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_URL, q.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, q.timeout_ms);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  HeaderSink header_sink{&r.headers, c, &r.tls_version};
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &AppendHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &header_sink);
  if (q.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, q.body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(q.body.size()));
  }
  curl_slist* headers = nullptr;
  bool typed = false;
  for (const std::string& h : q.headers) {
    headers = curl_slist_append(headers, h.c_str());
    typed = typed || strncasecmp(h.c_str(), "Content-Type:", 13) == 0;
  }
  // curl's default POST type is a form, which botwatch refuses (browsers send it cross-origin).
  if (q.method == "POST" && !typed) headers = curl_slist_append(headers, "Content-Type: application/json");
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (!q.user.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, q.user.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, q.password.c_str());
  }
  if (!q.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, q.ca_file.c_str());
  if (!q.cert_file.empty()) curl_easy_setopt(c, CURLOPT_SSLCERT, q.cert_file.c_str());
  if (!q.key_file.empty()) curl_easy_setopt(c, CURLOPT_SSLKEY, q.key_file.c_str());
  if (!q.tls_min.empty() || !q.tls_max.empty()) {
    long version = q.tls_min == "1.3" ? CURL_SSLVERSION_TLSv1_3 : CURL_SSLVERSION_TLSv1_2;
    if (q.tls_max == "1.2") version |= CURL_SSLVERSION_MAX_TLSv1_2;
    if (q.tls_max == "1.3") version |= CURL_SSLVERSION_MAX_TLSv1_3;
    curl_easy_setopt(c, CURLOPT_SSLVERSION, version);
  }
  auto start = std::chrono::steady_clock::now();
  r.curl_code = curl_easy_perform(c);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.error = errbuf;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_easy_cleanup(c);
  curl_slist_free_all(headers);
  return r;
}

std::string BcryptHash(const std::string& password, int cost) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), nullptr, 0, salt, sizeof salt) == nullptr) {
    throw std::runtime_error("crypt_gensalt_rn failed");
  }
  auto data = std::make_unique<crypt_data>();
  const char* hash = crypt_rn(password.c_str(), salt, data.get(), sizeof *data);
  if (hash == nullptr || hash[0] == '*') throw std::runtime_error("crypt_rn failed");
  return hash;
}

TestPki MakeTestPki(const std::string& dir) {
  TestPki p{dir + "/ca.crt",     dir + "/server.crt", dir + "/server.key", dir + "/client.crt",
            dir + "/client.key", dir + "/rogue.crt",  dir + "/rogue.key"};
  std::string ca_key = dir + "/ca.key";
  // EC keys: generated in milliseconds, unlike RSA.
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};
  auto req = [&](std::vector<std::string> args) {
    args.insert(args.begin() + 1, ec.begin(), ec.end());
    Openssl(args);
  };
  req({"req", "-x509", "-keyout", ca_key, "-out", p.ca_cert, "-days", "2", "-subj", "/CN=botwatch test CA", "-addext",
       "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"});
  req({"req", "-x509", "-keyout", p.server_key, "-out", p.server_cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-CA",
       p.ca_cert, "-CAkey", ca_key, "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"});
  req({"req", "-x509", "-keyout", p.client_key, "-out", p.client_cert, "-days", "2", "-subj", "/CN=prometheus", "-CA",
       p.ca_cert, "-CAkey", ca_key, "-addext", "extendedKeyUsage=clientAuth"});
  req({"req", "-x509", "-keyout", p.rogue_key, "-out", p.rogue_cert, "-days", "2", "-subj", "/CN=rogue"});
  return p;
}

}  // namespace botwatch::testing
