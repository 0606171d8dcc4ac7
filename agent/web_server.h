#pragma once

// botwatch's HTTP endpoints on one civetweb server. Handlers answer from memory;
// only POST /-/reload does work, and it is serialized by the agent.
// With a web config it serves TLS only (civetweb's OpenSSL, configured by us)
// and asks for basic auth on every path except /-/healthy.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/status.h"

class CivetServer;
struct mg_connection;

namespace botwatch {

class BasicAuth;
struct TlsServerConfig;

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers{};  // extra ones, e.g. Retry-After
};

enum class BodyRead { kOk, kTooLarge, kFailed };

struct HttpRequest {
  std::string method;
  std::string path;
  std::string query{};          // raw, after '?'; empty if none
  int64_t content_length = -1;  // -1: not given (chunked, or no body)
  // Request header by name (case-insensitive), nullptr if absent. Unset in tests.
  std::function<const char*(const char* name)> header{};
  // Reads the body, at most `max` bytes: past that, kTooLarge and the rest is
  // left unread. Unset when there is no connection (tests).
  std::function<BodyRead(size_t max, std::string* body)> read_body{};
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class WebServer {
 public:
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  // Binds `listen_address` ("host:port", ":port", "[v6]:port"); port 0 picks a free one.
  // With `tls`, the port speaks TLS only: a plain HTTP request gets no answer.
  static Result<std::unique_ptr<WebServer>> Start(const std::string& listen_address, HttpHandler handler,
                                                  const TlsServerConfig* tls = nullptr);

  int port() const { return port_; }
  bool tls() const { return tls_; }

  // Requires basic auth on every path but /-/healthy; nullptr turns auth off.
  // Safe while serving (a reload swaps the users).
  void SetAuth(std::shared_ptr<BasicAuth> auth);

  // Turns "host:port" into civetweb's listening_ports syntax; empty on error.
  static std::string CivetListenSpec(const std::string& listen_address);

 private:
  WebServer() = default;
  class Dispatcher;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<CivetServer> server_;  // after dispatcher_: destroyed first
  int port_ = 0;
  bool tls_ = false;
};

}  // namespace botwatch
