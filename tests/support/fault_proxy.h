#pragma once

// A TCP proxy on 127.0.0.1 in front of a real server (e.g. the PostgreSQL of
// PostgresServer), whose behaviour a test switches while a client keeps using
// it: pass bytes through, accept and never answer, answer slowly, die half-way
// through an answer, or be gone (connection refused) and come back on the same
// port. The client talks to a real server throughout, so what it sees is the
// server's own protocol with one fault added.

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace botwatch::testing {

class FaultProxy {
 public:
  enum class Mode {
    kPass,  // forward both ways
    kHang,  // accept, connect upstream, forward nothing in either direction
    kSlow,  // wait slow_ms before forwarding each chunk the server sends
    kCut,   // forward half of the server's next chunk, then close both sides
    // Like kCut, but a connection's first answer up to and including the
    // first PostgreSQL ReadyForQuery message (the end of the startup
    // exchange) passes whole: the server dies on the first query instead.
    kCutAfterStartup,
  };

  // Listens on `port` (0: any free port) and forwards to 127.0.0.1:upstream_port.
  explicit FaultProxy(int upstream_port, int port = 0);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  void Set(Mode mode, int slow_ms = 0);
  // Stops listening and drops every connection: connection refused.
  void Kill();
  // Listens again on the same port.
  void Revive();
  int port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  struct Connection;
  void Listen(int port);
  void AcceptLoop();
  void Serve(Connection& c);
  void StopAll();

  int upstream_port_;
  int port_ = 0;
  int listen_fd_ = -1;
  std::atomic<Mode> mode_{Mode::kPass};
  std::atomic<int> slow_ms_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> connections_;
};

}  // namespace botwatch::testing
