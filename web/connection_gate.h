#pragma once

// The gate in front of civetweb. civetweb 1.15 gives every open connection a
// worker thread and has no per-client limit, so idle, slowloris and flooding
// connections used to cost a thread each. The gate owns every public listening
// socket and serves them all from one epoll thread: it holds a connection
// (an fd and a small buffer) until its first request header is complete, then
// hands it to civetweb's internal 127.0.0.1 port and relays bytes both ways.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace botwatch {

// What the gate and the HTTP handlers share; outlives the gate.
class GatePeers {
 public:
  using Clock = std::chrono::steady_clock;

  // The real client of each connection handed to civetweb, keyed by the gate's
  // own 127.0.0.1 source port (the remote port civetweb sees). Without it every
  // client would share 127.0.0.1's wrong-password budget and logs.
  void Note(int port, std::string peer);
  void Forget(int port);
  // The client address of a request civetweb saw from `addr`:`port`.
  std::string Of(const std::string& addr, int port);

  // Called by a handler when `peer` is over its wrong-password budget: the gate
  // then holds that peer's new connections for a while before handing them on,
  // so a flood is slowed without blocking a civetweb worker.
  void Tarpit(const std::string& peer);
  bool Tarpitted(const std::string& peer, Clock::time_point now);

 private:
  std::mutex mu_;
  std::map<int, std::string> ports_;
  std::unordered_map<std::string, Clock::time_point> tarpit_until_;
};

struct GateOptions {
  int per_client = 32;         // simultaneous connections from one client address
  int max_connections = 4096;  // all clients (each relayed one costs 3 fds)
  int header_timeout_ms = 3000;  // to complete the first request header (TLS: to send anything)
  bool tls = false;            // TLS ports: the header cannot be read; forwarded on the first bytes
  int tarpit_ms = 1000;        // how long a tarpitted client's new connection waits
  int tarpit_waiting_per_client = 16;
};

class ConnectionGate {
 public:
  // Binds every address ("host:port", ":port", "[v6]:port"; "[::]" is dual
  // stack). Errors name the address and the cause ("address already in use").
  static Result<std::unique_ptr<ConnectionGate>> Listen(const std::vector<std::string>& addresses,
                                                        GateOptions options);
  ~ConnectionGate();
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  // The bound port of each address, in order.
  const std::vector<int>& ports() const { return ports_; }
  // Starts serving: connections are handed to 127.0.0.1:`target_port`.
  void Start(int target_port, GatePeers* peers);

 private:
  struct Conn;
  struct Client {
    int open = 0;
    int waiting = 0;  // in the tarpit
  };
  using Clock = std::chrono::steady_clock;

  ConnectionGate() = default;
  void Loop();
  void Accept(int listen_fd);
  void Pump(Conn* c);
  void Forward(Conn* c);
  void Sweep(Clock::time_point now);
  void Close(Conn* c);
  void Watch(Conn* c);
  bool HeaderReady(const Conn* c) const;

  GateOptions options_;
  std::vector<int> listen_fds_;
  std::vector<int> ports_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int target_port_ = 0;
  GatePeers* peers_ = nullptr;
  std::thread thread_;
  // Owned by the loop thread only.
  std::unordered_map<int, std::unique_ptr<Conn>> conns_;  // by client fd
  std::unordered_map<int, Conn*> by_fd_;                  // client and upstream fds
  std::unordered_map<std::string, Client> clients_;
  int pending_ = 0;  // connections not yet handed on: the loop then wakes to check deadlines
};

}  // namespace botwatch
