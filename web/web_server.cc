#include "web/web_server.h"

#include <CivetServer.h>

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <strings.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include "web/basic_auth.h"
#include "web/connection_gate.h"
#include "base/logging.h"
#include "web/web_config.h"

namespace botwatch {

std::string HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), name.size()) == 0) return v;
  }
  return "";
}

namespace {

class CivetStream : public ResponseStream {
 public:
  explicit CivetStream(mg_connection* conn) : conn_(conn) {}
  bool Write(std::string_view data) override {
    if (failed_) return false;
    if (data.empty()) return true;
    // mg_write gives up after civetweb's request_timeout_ms on a stalled client.
    failed_ = mg_write(conn_, data.data(), data.size()) != static_cast<int>(data.size());
    return !failed_;
  }

 private:
  mg_connection* conn_;
  bool failed_ = false;
};

// civetweb 1.15 decides keep-alive from the request's Connection header (and
// ignores one in our response), so to close a connection after an answer the
// request is made to have asked for it. Must run before the headers go out:
// civetweb then writes "Connection: close" itself and closes once we return.
void ForceClose(mg_connection* conn) {
  auto* ri = const_cast<mg_request_info*>(mg_get_request_info(conn));
  for (int i = 0; i < ri->num_headers; ++i) {
    if (ri->http_headers[i].name != nullptr && strcasecmp(ri->http_headers[i].name, "Connection") == 0) {
      ri->http_headers[i].value = "close";
      return;
    }
  }
  constexpr int kMaxHeaders = static_cast<int>(sizeof ri->http_headers / sizeof ri->http_headers[0]);
  if (ri->num_headers < kMaxHeaders) {
    ri->http_headers[ri->num_headers].name = "Connection";
    ri->http_headers[ri->num_headers].value = "close";
    ++ri->num_headers;
  } else {
    // No room for the header: an HTTP/1.0 request is never kept alive.
    ri->http_version = "1.0";
  }
}

}  // namespace

class WebServer::Dispatcher : public CivetHandler {
 public:
  explicit Dispatcher(HttpHandler handler) : handler_(std::move(handler)) {}

  GatePeers& peers() { return peers_; }

  bool handleGet(CivetServer*, mg_connection* conn) override { return Handle(conn, "GET"); }
  bool handlePost(CivetServer*, mg_connection* conn) override { return Handle(conn, "POST"); }
  bool handleHead(CivetServer*, mg_connection* conn) override { return Handle(conn, "HEAD"); }
  bool handlePut(CivetServer*, mg_connection* conn) override { return Handle(conn, "PUT"); }
  bool handleDelete(CivetServer*, mg_connection* conn) override { return Handle(conn, "DELETE"); }

  void SetAuth(std::shared_ptr<BasicAuth> auth) {
    std::lock_guard<std::mutex> lock(auth_mu_);
    auth_ = std::move(auth);
  }

 private:
  std::shared_ptr<BasicAuth> Auth() {
    std::lock_guard<std::mutex> lock(auth_mu_);
    return auth_;
  }

  bool Handle(mg_connection* conn, const char* method) {
    const mg_request_info* ri = mg_get_request_info(conn);
    HttpRequest req{method, ri->local_uri ? ri->local_uri : "/"};
    for (int i = 0; i < ri->num_headers && i < 64; ++i) {
      req.headers.emplace_back(ri->http_headers[i].name ? ri->http_headers[i].name : "",
                               ri->http_headers[i].value ? ri->http_headers[i].value : "");
    }
    req.query = ri->query_string ? ri->query_string : "";
    req.content_length = ri->content_length;
    req.header = [conn](const char* name) { return mg_get_header(conn, name); };
    req.read_body = [conn](size_t max, std::string* body) { return ReadBody(conn, max, body); };
    // Liveness stays open so orchestrators need no credentials; everything
    // else, including /-/ready and /-/reload, needs them.
    bool authenticated = false;
    const bool liveness = IsHealthPath(req.path);
    if (!liveness) {
      std::shared_ptr<BasicAuth> auth = Auth();
      if (auth) {
        const std::string peer = peers_.Of(ri->remote_addr, ri->remote_port);
        AuthResult result = auth->Check(mg_get_header(conn, "Authorization"), peer);
        // Over its budget, the client's next connections wait in the gate: a
        // flood is slowed there, without holding a worker here (a handler that
        // blocked seemed to send an answer to the wrong socket, RELIABILITY.md).
        if (result == AuthResult::kThrottled) peers_.Tarpit(peer);
        if (result != AuthResult::kAllowed) {
          SendRefusal(conn, req.method, result);
          return true;
        }
        authenticated = true;
      }
    }
    if (std::optional<HttpResponse> refused = RefuseForged(req)) {
      refused->headers.emplace_back("Connection", "close");
      return Send(conn, req, std::move(*refused), false);
    }
    HttpResponse resp;
    try {
      resp = handler_(req);
    } catch (const std::exception& e) {
      logging::Error("request handler failed", {{"path", req.path}, {"err", e.what()}});
      resp = HttpResponse{500, "text/plain; charset=utf-8", "internal error\n"};
    }
    // A kept-alive connection holds a civetweb worker until keep_alive_timeout_ms,
    // so only callers that proved who they are (or anyone, when auth is off)
    // keep one, and only after a success: health checks, errors and strangers
    // are asked to go, and the connection closes once the answer is out.
    bool keep = resp.status >= 200 && resp.status < 300 && !liveness && (authenticated || !Auth());
    return Send(conn, req, std::move(resp), keep);
  }

  static void SendRefusal(mg_connection* conn, const std::string& method, AuthResult result) {
    if (result == AuthResult::kThrottled) {
      // Too many new credentials to check (bcrypt budget spent): answered at
      // once, without a check; the tarpit is the gate's.
      static constexpr char kBody[] = "Too many authentication attempts; retry later\n";
      mg_response_header_start(conn, 429);
      mg_response_header_add(conn, "Content-Type", "text/plain; charset=utf-8", -1);
      mg_response_header_add(conn, "Content-Length", std::to_string(sizeof kBody - 1).c_str(), -1);
      mg_response_header_add(conn, "Retry-After", "1", -1);
      mg_response_header_add(conn, "Cache-Control", "no-store", -1);
      ForceClose(conn);
      mg_response_header_send(conn);
      if (method != "HEAD") mg_write(conn, kBody, sizeof kBody - 1);
      return;
    }
    static constexpr char kBody[] = "Unauthorized\n";
    mg_response_header_start(conn, 401);
    mg_response_header_add(conn, "WWW-Authenticate", "Basic realm=\"botwatch\", charset=\"UTF-8\"", -1);
    mg_response_header_add(conn, "Content-Type", "text/plain; charset=utf-8", -1);
    mg_response_header_add(conn, "Content-Length", std::to_string(sizeof kBody - 1).c_str(), -1);
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    mg_response_header_add(conn, "X-Content-Type-Options", "nosniff", -1);
    ForceClose(conn);
    mg_response_header_send(conn);
    if (method != "HEAD") mg_write(conn, kBody, sizeof kBody - 1);
  }

  // A browser holding cached basic-auth credentials sends them with any page's
  // cross-origin "simple" request (a form or text/plain body, no preflight).
  // Such requests always carry an Origin (or Sec-Fetch-Site) naming another
  // site, or a simple Content-Type: refuse both on anything but GET/HEAD.
  static std::optional<HttpResponse> RefuseForged(const HttpRequest& req) {
    if (req.method == "GET" || req.method == "HEAD") return std::nullopt;
    std::string origin = req.Header("Origin");
    if (!origin.empty()) {
      std::string host = req.Header("Host");
      if (host.empty() || (origin != "http://" + host && origin != "https://" + host)) {
        return HttpResponse{403, "text/plain; charset=utf-8", "cross-origin requests are refused\n"};
      }
    }
    std::string site = req.Header("Sec-Fetch-Site");
    if (!site.empty() && site != "same-origin" && site != "none") {
      return HttpResponse{403, "text/plain; charset=utf-8", "cross-site requests are refused\n"};
    }
    std::string type = req.Header("Content-Type");
    std::string media = type.substr(0, type.find(';'));
    while (!media.empty() && media.back() == ' ') media.pop_back();
    for (char& c : media) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    if (media == "text/plain" || media == "application/x-www-form-urlencoded" || media == "multipart/form-data") {
      return HttpResponse{415, "text/plain; charset=utf-8",
                          "Content-Type " + media + " is refused on " + req.method +
                              " (browsers send it cross-origin without asking); send application/json\n"};
    }
    return std::nullopt;
  }

  bool Send(mg_connection* conn, const HttpRequest& req, HttpResponse resp, bool keep) {
    bool head = req.method == "HEAD";
    bool close_asked = false;
    mg_response_header_start(conn, resp.status);
    mg_response_header_add(conn, "Content-Type", resp.content_type.c_str(), -1);
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    mg_response_header_add(conn, "X-Content-Type-Options", "nosniff", -1);
    for (const auto& [k, v] : resp.headers) {
      if (strcasecmp(k.c_str(), "Connection") == 0) {
        close_asked = true;
        continue;
      }
      mg_response_header_add(conn, k.c_str(), v.c_str(), static_cast<int>(v.size()));
    }
    if (resp.stream) {
      // No length and no keep-alive: the body ends when the connection does.
      ForceClose(conn);
      mg_response_header_send(conn);
      if (head) return true;
      CivetStream stream(conn);
      try {
        resp.stream(stream);
      } catch (const std::exception& e) {
        logging::Error("response stream failed", {{"path", req.path}, {"err", e.what()}});
      }
      return true;
    }
    mg_response_header_add(conn, "Content-Length", std::to_string(resp.body.size()).c_str(), -1);
    if (!keep || close_asked) ForceClose(conn);
    mg_response_header_send(conn);
    if (!head) mg_write(conn, resp.body.data(), resp.body.size());
    return true;
  }

  static BodyRead ReadBody(mg_connection* conn, size_t max, std::string* body) {
    body->clear();
    const int64_t declared = mg_get_request_info(conn)->content_length;
    char buf[16 * 1024];
    while (true) {
      int n = mg_read(conn, buf, sizeof buf);
      if (n < 0) return BodyRead::kFailed;
      // civetweb ends the read after request_timeout_ms of silence with what
      // came: fewer bytes than Content-Length promised is a broken request.
      if (n == 0) return declared >= 0 && static_cast<int64_t>(body->size()) < declared ? BodyRead::kFailed : BodyRead::kOk;
      if (body->size() + static_cast<size_t>(n) > max) return BodyRead::kTooLarge;
      body->append(buf, static_cast<size_t>(n));
    }
  }

  HttpHandler handler_;
  std::mutex auth_mu_;
  std::shared_ptr<BasicAuth> auth_;
  GatePeers peers_;
};

namespace {

// civetweb reports bind errors through this callback; keep the last one so the
// start-up failure can say why in one line instead of civetweb printing its own.
std::mutex g_civet_error_mu;
std::string g_civet_error;

int CaptureCivetLog(const mg_connection*, const char* message) {
  std::lock_guard<std::mutex> lock(g_civet_error_mu);
  g_civet_error = message ? message : "";
  while (!g_civet_error.empty() && (g_civet_error.back() == '\n' || g_civet_error.back() == '\r')) {
    g_civet_error.pop_back();
  }
  logging::Debug("civetweb", {{"detail", g_civet_error}});  // e.g. TLS handshake failures
  return 1;
}

// civetweb creates the SSL_CTX and hands it to init_ssl during construction;
// the server being constructed reads its TLS settings from here (construction
// is serialized by g_tls_mu).
std::mutex g_tls_mu;
const TlsServerConfig* g_tls = nullptr;

int InitSsl(void* ssl_ctx, void*) {
  if (g_tls == nullptr) return -1;
  if (std::optional<TlsSetupError> err = ConfigureTlsContext(ssl_ctx, *g_tls)) {
    logging::Error("cannot set up TLS", {{"field", "tls_server_config." + err->field}, {"err", err->message}});
    return -1;
  }
  return 1;  // certificate, key and verification are set: civetweb must not touch them
}

}  // namespace

bool IsHealthPath(std::string_view path) {
  return path == "/-/healthy" || (path.rfind("/-/healthy/", 0) == 0 && path.size() > 11);
}

WebServer::~WebServer() = default;

void WebServer::SetAuth(std::shared_ptr<BasicAuth> auth) { dispatcher_->SetAuth(std::move(auth)); }

// civetweb says only "Failed to setup server ports" when a bind fails; a
// trial bind first names the address and the cause ("address already in use").
// SO_REUSEADDR as civetweb sets it, so a port in TIME_WAIT is no false alarm.
Status WebServer::CheckBindable(const std::string& address) {
  size_t colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  if (!host.empty() && host.front() == '[') {
    return Status::Ok();  // the gate binds it and names the cause
  }
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(port)));
  if (::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
    return Status::Error("cannot listen on " + address + ": \"" + host + "\" is not an IPv4 address");
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error("cannot listen on " + address + ": " + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  int err = errno;
  if (rc == 0) rc = ::listen(fd, 1), err = errno;
  ::close(fd);
  if (rc != 0) {
    std::string why = err == EADDRINUSE ? "address already in use" : std::strerror(err);
    if (err == EACCES) why += " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
    if (err == EADDRNOTAVAIL) why = "no interface has this address";
    return Status::Error("cannot listen on " + address + ": " + why);
  }
  return Status::Ok();
}

std::string WebServer::CivetListenSpec(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return "";
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos) return "";
  if (host.empty() || host == "0.0.0.0") return port;
  if (host == "localhost") host = "127.0.0.1";
  if (host.front() == '[' && host.back() == ']') return host + ":" + port + "";
  return host + ":" + port;
}

Result<std::unique_ptr<WebServer>> WebServer::Start(const std::vector<std::string>& listen_addresses,
                                                    HttpHandler handler, const TlsServerConfig* tls,
                                                    WebServerOptions web_options) {
  if (listen_addresses.empty()) return Status::Error("no --web.listen-address to serve on");
  for (const std::string& address : listen_addresses) {
    if (CivetListenSpec(address).empty()) {
      return Status::Error("invalid --web.listen-address \"" + address + "\" (expected host:port, e.g. :10117 or "
                           "127.0.0.1:10117)");
    }
    if (Status st = CheckBindable(address); !st.ok()) return st;
  }
  GateOptions gate_options;
  gate_options.per_client = web_options.max_connections_per_client;
  gate_options.header_timeout_ms = web_options.request_timeout_ms;
  gate_options.tls = tls != nullptr;
  Result<std::unique_ptr<ConnectionGate>> gate = ConnectionGate::Listen(listen_addresses, gate_options);
  if (!gate.ok()) return gate.status();
  // civetweb itself listens only where the gate hands connections on; "s"
  // makes it TLS-only, so it never answers plain HTTP there.
  const std::string spec = std::string("127.0.0.1:0") + (tls ? "s" : "");
  std::string listen_address;
  for (const std::string& address : listen_addresses) listen_address += (listen_address.empty() ? "" : ",") + address;
  // Request bodies up to max_body_bytes are read into one growing string. With
  // glibc's dynamic mmap threshold, after the first big one is freed the next
  // ones come from the thread's arena and stay resident for good (14 -> 51 MB
  // seen); a fixed threshold keeps every block over 1 MiB in its own mapping,
  // given back when freed.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  std::unique_ptr<WebServer> ws(new WebServer());
  ws->dispatcher_ = std::make_unique<Dispatcher>(std::move(handler));
  // civetweb serves each connection on one worker thread for as long as it is
  // open; the gate admits only connections with a complete first header, so
  // the pool covers requests and kept-alive connections, not idle strangers.
  // request_timeout_ms still bounds how long a body may stall.
  const int threads = web_options.threads + web_options.spare_threads;
  std::vector<std::string> options = {"listening_ports", spec, "num_threads", std::to_string(threads),
                                      "request_timeout_ms", std::to_string(web_options.request_timeout_ms),
                                      "enable_keep_alive", "yes",
                                      "keep_alive_timeout_ms", std::to_string(web_options.keep_alive_timeout_ms),
                                      "listen_backlog", "1024", "connection_queue", "1024",
                                      // Headers and body go out in separate writes (TLS records);
                                      // with Nagle, the second waits ~40 ms for the peer's delayed ACK.
                                      "tcp_nodelay", "1"};
  static CivetCallbacks callbacks;  // must outlive the server
  callbacks.log_message = &CaptureCivetLog;
  callbacks.init_ssl = &InitSsl;
  {
    std::lock_guard<std::mutex> lock(g_civet_error_mu);
    g_civet_error.clear();
  }
  try {
    std::lock_guard<std::mutex> tls_lock(g_tls_mu);
    g_tls = tls;
    struct Reset {
      ~Reset() { g_tls = nullptr; }
    } reset;
    ws->server_ = std::make_unique<CivetServer>(options, &callbacks);
  } catch (const std::exception&) {
    std::lock_guard<std::mutex> lock(g_civet_error_mu);
    std::string why = g_civet_error.empty() ? "address in use or not available" : g_civet_error;
    while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) why.pop_back();
    return Status::Error("cannot listen on " + listen_address + ": " + why);
  }
  ws->server_->addHandler("/", ws->dispatcher_.get());
  std::vector<int> civet_ports = ws->server_->getListeningPorts();
  if (civet_ports.empty()) return Status::Error("cannot listen on " + listen_address + ": no internal port");
  ws->gate_ = std::move(gate).value();
  ws->gate_->Start(civet_ports.front(), &ws->dispatcher_->peers());
  const std::vector<int>& ports = ws->gate_->ports();
  ws->port_ = ports.empty() ? 0 : ports.front();
  ws->tls_ = tls != nullptr;
  return ws;
}

}  // namespace botwatch
