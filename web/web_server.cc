#include "web/web_server.h"

#include <CivetServer.h>

#include <strings.h>

#include <mutex>

#include "web/basic_auth.h"
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

}  // namespace

class WebServer::Dispatcher : public CivetHandler {
 public:
  explicit Dispatcher(HttpHandler handler) : handler_(std::move(handler)) {}

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
    if (req.path != "/-/healthy") {
      std::shared_ptr<BasicAuth> auth = Auth();
      if (auth && !auth->Allow(mg_get_header(conn, "Authorization"))) {
        static constexpr char kBody[] = "Unauthorized\n";
        mg_printf(conn,
                  "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"botwatch\", charset=\"UTF-8\"\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
                  "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n",
                  sizeof kBody - 1);
        if (req.method != "HEAD") mg_write(conn, kBody, sizeof kBody - 1);
        return true;
      }
    }
    HttpResponse resp;
    try {
      resp = handler_(req);
    } catch (const std::exception& e) {
      logging::Error("request handler failed", {{"path", req.path}, {"err", e.what()}});
      resp = HttpResponse{500, "text/plain; charset=utf-8", "internal error\n"};
    }
    bool head = req.method == "HEAD";
    std::string extra;
    for (const auto& [k, v] : resp.headers) extra += k + ": " + v + "\r\n";
    if (resp.stream) {
      // No length and no keep-alive: the body ends when the connection does.
      mg_printf(conn,
                "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nCache-Control: no-store\r\n"
                "X-Content-Type-Options: nosniff\r\nConnection: close\r\n%s\r\n",
                resp.status, mg_get_response_code_text(conn, resp.status), resp.content_type.c_str(),
                extra.c_str());
      if (head) return true;
      CivetStream stream(conn);
      try {
        resp.stream(stream);
      } catch (const std::exception& e) {
        logging::Error("response stream failed", {{"path", req.path}, {"err", e.what()}});
      }
      return true;
    }
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
              "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n%s\r\n",
              resp.status, mg_get_response_code_text(conn, resp.status), resp.content_type.c_str(),
              resp.body.size(), extra.c_str());
    if (!head) mg_write(conn, resp.body.data(), resp.body.size());
    return true;
  }

  static BodyRead ReadBody(mg_connection* conn, size_t max, std::string* body) {
    body->clear();
    char buf[16 * 1024];
    while (true) {
      int n = mg_read(conn, buf, sizeof buf);
      if (n < 0) return BodyRead::kFailed;
      if (n == 0) return BodyRead::kOk;
      if (body->size() + static_cast<size_t>(n) > max) return BodyRead::kTooLarge;
      body->append(buf, static_cast<size_t>(n));
    }
  }

  HttpHandler handler_;
  std::mutex auth_mu_;
  std::shared_ptr<BasicAuth> auth_;
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

WebServer::~WebServer() = default;

void WebServer::SetAuth(std::shared_ptr<BasicAuth> auth) { dispatcher_->SetAuth(std::move(auth)); }

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

Result<std::unique_ptr<WebServer>> WebServer::Start(const std::string& listen_address, HttpHandler handler,
                                                    const TlsServerConfig* tls, WebServerOptions web_options) {
  std::string spec = CivetListenSpec(listen_address);
  if (spec.empty()) {
    return Status::Error("invalid --web.listen-address \"" + listen_address + "\" (expected host:port)");
  }
  // "s" makes the port TLS-only; civetweb then never answers plain HTTP on it.
  if (tls) spec += "s";
  std::unique_ptr<WebServer> ws(new WebServer());
  ws->dispatcher_ = std::make_unique<Dispatcher>(std::move(handler));
  std::vector<std::string> options = {"listening_ports", spec, "num_threads", std::to_string(web_options.threads),
                                      "request_timeout_ms", "10000",    "enable_keep_alive", "yes",
                                      "keep_alive_timeout_ms", "60000",
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
  std::vector<int> ports = ws->server_->getListeningPorts();
  ws->port_ = ports.empty() ? 0 : ports.front();
  ws->tls_ = tls != nullptr;
  return ws;
}

}  // namespace botwatch
