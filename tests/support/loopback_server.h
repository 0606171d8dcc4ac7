#pragma once

// Tiny TCP servers on 127.0.0.1 for tests: one that answers HTTP requests from
// a callback, and one that accepts connections and never answers (a hung peer).

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace botwatch::testing {

struct StubRequest {
  std::string method;
  std::string target;  // path and query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string Header(const std::string& name) const;  // case-insensitive; "" if absent
};

struct StubResponse {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "text/plain"}};
  int delay_ms = 0;           // wait before answering
  bool hang = false;          // never answer (until the server stops)
  bool close_midway = false;  // send the headers and half the body, then close
};

// `body` answered with `status` as application/json; charset=UTF-8.
StubResponse JsonReply(int status, const std::string& body);

class LoopbackServer {
 public:
  using Handler = std::function<StubResponse(const StubRequest&)>;
  // `port` 0 picks a free port; a fixed one lets a test bring a peer back
  // where it was (a "refused, then recovers" case).
  explicit LoopbackServer(Handler handler, int port = 0);
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  int port() const { return port_; }
  std::string Url(const std::string& path = "") const;
  int requests() const { return requests_.load(); }

 private:
  void AcceptLoop();
  void Serve(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread acceptor_;
  std::vector<std::thread> connections_;
};

// A TCP port with nothing listening on it (bound then closed), for "refused" tests.
int UnusedPort();

}  // namespace botwatch::testing
