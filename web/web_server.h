#pragma once

// botwatch's HTTP endpoints on one civetweb server. Handlers answer from memory;
// only POST /-/reload does work, and it is serialized by the agent.
// With a web config it serves TLS only (civetweb's OpenSSL, configured by us)
// and asks for basic auth on every path except /-/healthy.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

class CivetServer;
struct mg_connection;

namespace botwatch {

class BasicAuth;
struct TlsServerConfig;

// A long-lived response body (Server-Sent Events): written piece by piece from
// the civetweb worker thread that serves the request, which it holds until it
// returns. Write() is false once the client has gone or a write timed out.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  virtual bool Write(std::string_view data) = 0;
};

struct HttpResponse {
  HttpResponse() = default;
  HttpResponse(int status_code, std::string type, std::string text)
      : status(status_code), content_type(std::move(type)), body(std::move(text)) {}

  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // When set, `body` is ignored: the headers go out without a Content-Length
  // and this writes the body until it returns.
  std::function<void(ResponseStream&)> stream;
  std::vector<std::pair<std::string, std::string>> headers;  // extra response headers
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
  std::vector<std::pair<std::string, std::string>> headers{};
  // The value of header `name` (case-insensitive), or "" when absent.
  std::string Header(std::string_view name) const;
};

struct WebServerOptions {
  // civetweb worker threads. Each open /api/v1/feed stream holds one, so this
  // must stay well above the number of feed clients allowed.
  int threads = 4;
  // Workers on top of `threads`. Idle and slowloris connections wait in the
  // gate (connection_gate.h), not in a worker; these cover requests in flight
  // and kept-alive connections (every success keeps one when auth is off), one
  // client's worth: the gate admits at most max_connections_per_client.
  int spare_threads = 32;
  // Simultaneous connections from one client address (the gate's limit).
  int max_connections_per_client = 32;
  // Total time a request may take to send its headers (enforced by the gate),
  // and the longest a body may stall; a short body is then answered 400.
  int request_timeout_ms = 3000;
  // Only authenticated successes keep their connection (see Send()).
  int keep_alive_timeout_ms = 20000;
};

// /-/healthy and its path form /-/healthy/NAME[,NAME...]: liveness, open
// without credentials and never kept alive.
bool IsHealthPath(std::string_view path);

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class ConnectionGate;

class WebServer {
 public:
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  // Binds every one of `listen_addresses` ("host:port", ":port", "[v6]:port");
  // port 0 picks a free one (port() is the first address's). The gate owns
  // every public socket (IPv4 and IPv6; "[::]" also takes IPv4, dual stack as
  // Go exporters do) and hands connections to civetweb on an internal
  // 127.0.0.1 port; handlers see the real client address.
  // With `tls`, the port speaks TLS only: a plain HTTP request gets no answer.
  static Result<std::unique_ptr<WebServer>> Start(const std::vector<std::string>& listen_addresses, HttpHandler handler,
                                                  const TlsServerConfig* tls = nullptr,
                                                  WebServerOptions options = {});

  int port() const { return port_; }
  bool tls() const { return tls_; }

  // Requires basic auth on every path but /-/healthy; nullptr turns auth off.
  // Safe while serving (a reload swaps the users).
  void SetAuth(std::shared_ptr<BasicAuth> auth);

  // Turns "host:port" into civetweb's listening_ports syntax; empty on error.
  static std::string CivetListenSpec(const std::string& listen_address);
  // Whether `address` (valid for CivetListenSpec) can be bound now; the error
  // names it and the cause.
  static Status CheckBindable(const std::string& address);

 private:
  WebServer() = default;
  class Dispatcher;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<CivetServer> server_;  // after dispatcher_: destroyed first
  std::unique_ptr<ConnectionGate> gate_;  // after server_: stopped before it
  int port_ = 0;
  bool tls_ = false;
};

}  // namespace botwatch
