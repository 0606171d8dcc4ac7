#pragma once

// An HTTPS server on 127.0.0.1 for client-side TLS tests: every request gets
// "200 OK" with a fixed body, over TLS with the given certificate and key.
// Connections are served one at a time; a client that rejects the
// certificate just ends its handshake, which the server counts.

#include <atomic>
#include <string>
#include <thread>

namespace botwatch::testing {

class TlsLoopbackServer {
 public:
  // Throws std::runtime_error if the certificate or key cannot be loaded.
  TlsLoopbackServer(const std::string& cert_file, const std::string& key_file, std::string body = "tls-ok");
  ~TlsLoopbackServer();
  TlsLoopbackServer(const TlsLoopbackServer&) = delete;
  TlsLoopbackServer& operator=(const TlsLoopbackServer&) = delete;

  int port() const { return port_; }
  std::string Url(const std::string& path = "/") const;
  int requests_answered() const { return answered_.load(); }
  int handshakes_failed() const { return failed_.load(); }

 private:
  void AcceptLoop();
  void Serve(int fd);

  void* ctx_ = nullptr;  // SSL_CTX
  std::string body_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> answered_{0};
  std::atomic<int> failed_{0};
  std::thread acceptor_;
};

// Writes a self-signed certificate and its key (EC P-256, made by the openssl
// CLI) for the given subjectAltName, e.g. "IP:127.0.0.1".
void MakeSelfSignedCert(const std::string& cert_file, const std::string& key_file, const std::string& san);

// A certificate chain as a public web server presents it: a root CA (ca_file,
// for the client to trust), an intermediate CA it signs, and a leaf for `san`
// signed by the intermediate. chain_file holds the leaf then the intermediate
// (load it with TlsLoopbackServer), key_file the leaf's key. Each certificate
// is valid from now for its number of days, so a test chooses which expires first.
struct CertChain {
  std::string ca_file, chain_file, key_file;
};
CertChain MakeCertChain(const std::string& dir, const std::string& san, int leaf_days, int intermediate_days,
                        int root_days = 365);

}  // namespace botwatch::testing
