#include "agent/web_server.h"

#include <CivetServer.h>

#include <mutex>

#include "agent/log.h"

namespace botwatch {

class WebServer::Dispatcher : public CivetHandler {
 public:
  explicit Dispatcher(HttpHandler handler) : handler_(std::move(handler)) {}

  bool handleGet(CivetServer*, mg_connection* conn) override { return Handle(conn, "GET"); }
  bool handlePost(CivetServer*, mg_connection* conn) override { return Handle(conn, "POST"); }
  bool handleHead(CivetServer*, mg_connection* conn) override { return Handle(conn, "HEAD"); }
  bool handlePut(CivetServer*, mg_connection* conn) override { return Handle(conn, "PUT"); }
  bool handleDelete(CivetServer*, mg_connection* conn) override { return Handle(conn, "DELETE"); }

 private:
  bool Handle(mg_connection* conn, const char* method) {
    const mg_request_info* ri = mg_get_request_info(conn);
    HttpRequest req{method, ri->local_uri ? ri->local_uri : "/"};
    HttpResponse resp;
    try {
      resp = handler_(req);
    } catch (const std::exception& e) {
      log::Error("request handler failed", {{"path", req.path}, {"err", e.what()}});
      resp = HttpResponse{500, "text/plain; charset=utf-8", "internal error\n"};
    }
    bool head = req.method == "HEAD";
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
              "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n",
              resp.status, mg_get_response_code_text(conn, resp.status), resp.content_type.c_str(),
              resp.body.size());
    if (!head) mg_write(conn, resp.body.data(), resp.body.size());
    return true;
  }

  HttpHandler handler_;
};

namespace {

// civetweb reports bind errors through this callback; keep the last one so the
// start-up failure can say why in one line instead of civetweb printing its own.
std::mutex g_civet_error_mu;
std::string g_civet_error;

int CaptureCivetLog(const mg_connection*, const char* message) {
  std::lock_guard<std::mutex> lock(g_civet_error_mu);
  g_civet_error = message ? message : "";
  return 1;
}

}  // namespace

WebServer::~WebServer() = default;

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

Result<std::unique_ptr<WebServer>> WebServer::Start(const std::string& listen_address, HttpHandler handler) {
  std::string spec = CivetListenSpec(listen_address);
  if (spec.empty()) {
    return Status::Error("invalid --web.listen-address \"" + listen_address + "\" (expected host:port)");
  }
  std::unique_ptr<WebServer> ws(new WebServer());
  ws->dispatcher_ = std::make_unique<Dispatcher>(std::move(handler));
  std::vector<std::string> options = {"listening_ports", spec,           "num_threads", "4",
                                      "request_timeout_ms", "10000",    "enable_keep_alive", "yes",
                                      "keep_alive_timeout_ms", "60000"};
  static CivetCallbacks callbacks;  // must outlive the server
  callbacks.log_message = &CaptureCivetLog;
  {
    std::lock_guard<std::mutex> lock(g_civet_error_mu);
    g_civet_error.clear();
  }
  try {
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
  return ws;
}

}  // namespace botwatch
