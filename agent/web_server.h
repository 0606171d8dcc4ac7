#pragma once

// botwatch's HTTP endpoints on one civetweb server. Handlers answer from memory;
// only POST /-/reload does work, and it is serialized by the agent.
// With a web config it serves TLS only (civetweb's OpenSSL, configured by us)
// and asks for basic auth on every path except /-/healthy.

#include <functional>
#include <memory>
#include <string>

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
};

struct HttpRequest {
  std::string method;
  std::string path;
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
