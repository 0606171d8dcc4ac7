#include "tests/support/tls_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <vector>

#include "tests/support/botwatch_process.h"

namespace botwatch::testing {

namespace {

// An accept loop lives at most this many 20 ms polls (~5 minutes).
constexpr int kMaxPolls = 15000;

}  // namespace

TlsLoopbackServer::TlsLoopbackServer(const std::string& cert_file, const std::string& key_file, std::string body)
    : body_(std::move(body)) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) throw std::runtime_error("SSL_CTX_new failed");
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    SSL_CTX_free(ctx);
    ERR_clear_error();
    throw std::runtime_error("cannot load " + cert_file + " / " + key_file);
  }
  ctx_ = ctx;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0) {
    if (fd >= 0) ::close(fd);
    SSL_CTX_free(ctx);
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  listen_fd_ = fd;
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TlsLoopbackServer::~TlsLoopbackServer() {
  stop_ = true;
  acceptor_.join();
  ::close(listen_fd_);
  SSL_CTX_free(static_cast<SSL_CTX*>(ctx_));
}

std::string TlsLoopbackServer::Url(const std::string& path) const {
  return "https://127.0.0.1:" + std::to_string(port_) + path;
}

void TlsLoopbackServer::AcceptLoop() {
  // OpenSSL writes with write(2): a client that hung up after rejecting the
  // certificate must give EPIPE on this thread, not kill the test with SIGPIPE.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  for (int i = 0; i < kMaxPolls && !stop_; ++i) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) Serve(fd);
  }
}

void TlsLoopbackServer::Serve(int fd) {
  // Blocking I/O, each read and write bounded by 2 s.
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  SSL* ssl = SSL_new(static_cast<SSL_CTX*>(ctx_));
  SSL_set_fd(ssl, fd);
  if (SSL_accept(ssl) != 1) {
    ++failed_;
  } else {
    // Read the request head (bounded in size and in reads), then answer.
    std::string head;
    char buf[4096];
    for (int reads = 0; reads < 64 && head.find("\r\n\r\n") == std::string::npos && head.size() < 65536; ++reads) {
      int n = SSL_read(ssl, buf, sizeof buf);
      if (n <= 0) break;
      head.append(buf, static_cast<size_t>(n));
    }
    if (head.find("\r\n\r\n") != std::string::npos) {
      std::string response =
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body_.size()) +
          "\r\nConnection: close\r\n\r\n" + body_;
      if (SSL_write(ssl, response.data(), static_cast<int>(response.size())) > 0) ++answered_;
      SSL_shutdown(ssl);
    }
  }
  SSL_free(ssl);
  ERR_clear_error();
  ::close(fd);
}

void MakeSelfSignedCert(const std::string& cert_file, const std::string& key_file, const std::string& san) {
  CommandResult r = RunCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                "-nodes", "-keyout", key_file, "-out", cert_file, "-days", "2", "-subj",
                                "/CN=botwatch self-signed test", "-addext", "subjectAltName=" + san});
  if (r.exit_code != 0) throw std::runtime_error("openssl req failed: " + r.output);
}

namespace {

void Openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = RunCommand(argv);
  if (r.exit_code != 0) throw std::runtime_error("openssl " + args.at(0) + " failed: " + r.output);
}

void WriteText(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  std::fputs(text.c_str(), f);
  std::fclose(f);
}

std::string ReadText(const std::string& path) {
  std::string out;
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) throw std::runtime_error("cannot read " + path);
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  std::fclose(f);
  return out;
}

}  // namespace

CertChain MakeCertChain(const std::string& dir, const std::string& san, int leaf_days, int intermediate_days,
                        int root_days) {
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};
  auto req = [&](std::vector<std::string> args) {
    args.insert(args.begin() + 1, ec.begin(), ec.end());
    Openssl(args);
  };
  const std::string p = dir + "/";
  WriteText(p + "ca.ext", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
  WriteText(p + "leaf.ext", "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=" + san + "\n");
  req({"req", "-x509", "-keyout", p + "root.key", "-out", p + "root.crt", "-days", std::to_string(root_days), "-subj",
       "/CN=botwatch test root", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
       "keyUsage=critical,keyCertSign,cRLSign"});
  req({"req", "-keyout", p + "intermediate.key", "-out", p + "intermediate.csr", "-subj",
       "/CN=botwatch test intermediate"});
  Openssl({"x509", "-req", "-in", p + "intermediate.csr", "-CA", p + "root.crt", "-CAkey", p + "root.key",
           "-CAcreateserial", "-out", p + "intermediate.crt", "-days", std::to_string(intermediate_days), "-extfile",
           p + "ca.ext"});
  req({"req", "-keyout", p + "leaf.key", "-out", p + "leaf.csr", "-subj", "/CN=botwatch test leaf"});
  Openssl({"x509", "-req", "-in", p + "leaf.csr", "-CA", p + "intermediate.crt", "-CAkey", p + "intermediate.key",
           "-CAcreateserial", "-out", p + "leaf.crt", "-days", std::to_string(leaf_days), "-extfile", p + "leaf.ext"});
  WriteText(p + "chain.crt", ReadText(p + "leaf.crt") + ReadText(p + "intermediate.crt"));
  return {p + "root.crt", p + "chain.crt", p + "leaf.key"};
}

}  // namespace botwatch::testing
