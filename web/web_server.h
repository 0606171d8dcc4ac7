#pragma once

// botwatch's HTTP face: an event-driven server on Boost.Beast over Boost.Asio.
// One I/O thread holds every connection as a small object (a socket, a parse
// buffer while a request is read); no connection costs a thread. Handlers run
// on a small worker pool, and those that can block (a bcrypt check, POST
// /-/reload) on a lane of their own, so neither ever holds up the I/O thread or
// a scrape. With a web config it serves TLS only (OpenSSL through
// base/lazy_openssl, loaded only then) and asks for basic auth on every path
// except /-/healthy.
//
// Deadlines are on totals, never on silence (README, "Listening"): the TLS
// handshake, the whole request header, the whole body at a minimum rate, the
// idle time of a kept-alive connection (shorter when connections are scarce).
// When connections are scarce a new one evicts the oldest that has not
// completed a request, then the oldest idle kept-alive one: never refused.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prom/family.h"

#include "base/status.h"

namespace botwatch {

class BasicAuth;
struct TlsServerConfig;

// A long-lived response body (Server-Sent Events), written without ever
// blocking: Write() queues and the I/O thread sends. The writer paces itself
// with Busy() (a batch still going out) and the drained callback.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // Queues `data`. False once the stream is over (the client went, a write
  // failed or took longer than its deadline, End() was called) or when more
  // than the stream's bound is already queued (the stream then ends).
  virtual bool Write(std::string data) = 0;
  // Whether anything queued is still going out.
  virtual bool Busy() const = 0;
  // Whether the stream can still be written.
  virtual bool Open() const = 0;
  // `on_drained` runs (on the I/O thread) whenever the queue empties and once
  // when the stream ends; it must not block. Replaces any previous one.
  virtual void OnDrained(std::function<void()> on_drained) = 0;
  // Closes the connection once what is queued is out; drops the callback.
  virtual void End() = 0;
};

enum class BodyRead { kOk, kTooLarge, kFailed };

struct HttpResponse;

struct HttpRequest {
  std::string method;
  std::string path;
  std::string query{};          // raw, after '?'; empty if none
  int64_t content_length = -1;  // -1: not given (chunked, or no body)
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string peer{};  // the client's address
  // The value of header `name` (case-insensitive), or "" when absent.
  std::string Header(std::string_view name) const;
  // The same, nullptr when absent (valid while the request lives).
  const char* header(const char* name) const;
};

// A handler that needs the request body answers in two steps: the first
// answer (without a body of its own) sets `read_body_then`, the server reads
// the body (at most `body_limit` bytes, within the body deadline, on the I/O
// thread) and calls it on a worker with the outcome.
using BodyHandler = std::function<HttpResponse(BodyRead read, std::string body)>;

struct HttpResponse {
  HttpResponse() = default;
  HttpResponse(int status_code, std::string type, std::string text)
      : status(status_code), content_type(std::move(type)), body(std::move(text)) {}

  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // When set, `body` is ignored: the headers go out without a Content-Length,
  // then this is called once with the stream to write the body into; the
  // connection closes when the stream ends. Never called for HEAD.
  std::function<void(std::shared_ptr<ResponseStream>)> stream;
  // See BodyHandler.
  BodyHandler read_body_then;
  size_t body_limit = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // extra response headers

  static HttpResponse NeedBody(size_t limit, BodyHandler then) {
    HttpResponse r;
    r.body_limit = limit;
    r.read_body_then = std::move(then);
    return r;
  }
};

struct WebServerOptions {
  // Handlers that only read memory. One lane more serves what may block.
  int workers = 2;
  // Simultaneous connections from one client address.
  int max_connections_per_client = 32;
  // All connections; also bounded by the fd limit (raised to the hard limit).
  int max_connections = 16384;
  // The whole request header, from the first byte the server waits for.
  int header_timeout_ms = 3000;
  // The whole body: this plus its length at min_body_rate bytes a second.
  int body_timeout_ms = 3000;
  int min_body_rate = 1024;
  int tls_handshake_timeout_ms = 5000;
  // A kept-alive connection with no request; scarce_keep_alive_timeout_ms when
  // more than half the connections allowed are open.
  int keep_alive_timeout_ms = 20000;
  int scarce_keep_alive_timeout_ms = 2000;
  // A response (or one stream write) must be out within this plus its length
  // at min_body_rate.
  int write_timeout_ms = 5000;
  // Bytes one stream (SSE client) may have queued.
  size_t max_stream_queue = 4 << 20;
  // Over its wrong-password budget, a client's new connections wait this long.
  int tarpit_ms = 1000;
  int tarpit_waiting_per_client = 16;
  // Paths whose handler may block (served on the slow lane).
  std::vector<std::string> slow_paths = {"/-/reload"};
};

// /-/healthy and its path form /-/healthy/NAME[,NAME...]: liveness, open
// without credentials and never kept alive.
bool IsHealthPath(std::string_view path);

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class WebServer {
 public:
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  // Binds every one of `listen_addresses` ("host:port", ":port", "[v6]:port";
  // "[::]" also takes IPv4, dual stack as Go exporters do); port 0 picks a
  // free one (port() is the first address's). `auth` (nullptr: none) is in
  // place before the first connection is accepted. With `tls`, the ports
  // speak TLS only: a plain HTTP request gets no answer.
  static Result<std::unique_ptr<WebServer>> Start(const std::vector<std::string>& listen_addresses, HttpHandler handler,
                                                  std::shared_ptr<BasicAuth> auth = nullptr,
                                                  const TlsServerConfig* tls = nullptr, WebServerOptions options = {});

  int port() const;
  bool tls() const;

  // Requires basic auth on every path but /-/healthy; nullptr turns auth off.
  // Safe while serving (a reload swaps the users).
  void SetAuth(std::shared_ptr<BasicAuth> auth);

  // botwatch_http_* self metrics (connections open, evicted, refused, cut at a deadline).
  std::vector<Family> Expose() const;

  // Whether "host:port" is a listen address this server understands.
  static bool ValidListenAddress(const std::string& listen_address);

  class Impl;

 private:
  explicit WebServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace botwatch
