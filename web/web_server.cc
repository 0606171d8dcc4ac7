#include "web/web_server.h"

#include <malloc.h>
#include <openssl/ssl.h>
#include <strings.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstring>
#include <deque>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "base/logging.h"
#include "prom/family_builder.h"
#include "web/basic_auth.h"
#include "web/connection_book.h"
#include "web/web_config.h"

namespace botwatch {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::string HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), name.size()) == 0) return v;
  }
  return "";
}

const char* HttpRequest::header(const char* name) const {
  const size_t n = std::strlen(name);
  for (const auto& [k, v] : headers) {
    if (k.size() == n && strncasecmp(k.data(), name, n) == 0) return v.c_str();
  }
  return nullptr;
}

bool IsHealthPath(std::string_view path) {
  return path == "/-/healthy" || (path.rfind("/-/healthy/", 0) == 0 && path.size() > 11);
}

namespace {

constexpr size_t kMaxHeaderBytes = 16 * 1024;
constexpr auto kSweepEvery = std::chrono::milliseconds(100);
constexpr auto kLingerFor = std::chrono::seconds(2);
constexpr auto kNever = Clock::time_point::max();

// Where a listen address points; false when it is not "host:port".
bool ParseListen(const std::string& address, std::string* host, int* port, bool* v6) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  std::string h = address.substr(0, colon);
  std::string p = address.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  int n = std::stoi(p);
  if (n > 65535) return false;
  *v6 = false;
  if (!h.empty() && h.front() == '[') {
    if (h.size() < 3 || h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
    *v6 = true;
  } else if (h.find(':') != std::string::npos) {
    return false;
  }
  // ":port" is IPv4 only, as botwatch always served it.
  if (h.empty()) h = "0.0.0.0";
  if (h == "localhost") h = "127.0.0.1";
  *host = h;
  *port = n;
  return true;
}

std::string ListenError(const std::string& address, const boost::system::error_code& ec) {
  std::string why = ec.message();
  if (ec == asio::error::address_in_use) why = "address already in use";
  if (ec == asio::error::access_denied) why += " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
  if (ec == boost::system::errc::address_not_available) why = "no interface has this address";
  return "cannot listen on " + address + ": " + why;
}

std::string PeerText(const tcp::endpoint& ep) {
  asio::ip::address a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a.to_string();
}

// The phases a connection can be cut at a deadline in, as labelled in
// botwatch_http_deadline_cuts_total{phase}.
constexpr const char* kCutPhases[] = {"tls_handshake", "header", "body", "idle", "write"};

}  // namespace

// ---- the server ----

class SessionBase;

class WebServer::Impl {
 public:
  explicit Impl(HttpHandler handler, WebServerOptions options, size_t capacity)
      : handler_(std::move(handler)),
        options_(std::move(options)),
        book_(capacity, static_cast<size_t>(std::max(1, options_.max_connections_per_client))),
        sweep_(io_),
        workers_(static_cast<size_t>(std::max(1, options_.workers))),
        slow_(1) {}

  ~Impl() { Stop(); }

  void Stop() {
    if (stopped_.exchange(true)) return;
    auto close = [this] {
      for (auto& a : acceptors_) {
        boost::system::error_code ec;
        a.close(ec);
      }
      sweep_.cancel();
      CloseAll();
    };
    asio::post(io_, close);
    // Requests in flight finish on their pools; their answers find their
    // connections closed. Then the I/O thread runs out of work and returns.
    workers_.join();
    slow_.join();
    asio::post(io_, close);
    if (io_thread_.joinable()) io_thread_.join();
  }

  std::shared_ptr<BasicAuth> Auth() const {
    std::lock_guard<std::mutex> lock(auth_mu_);
    return auth_;
  }
  void SetAuth(std::shared_ptr<BasicAuth> auth) {
    std::lock_guard<std::mutex> lock(auth_mu_);
    auth_ = std::move(auth);
  }

  // Binds and listens on one --web.listen-address (valid: ParseListen).
  Status Listen(const std::string& address);
  void Accept(size_t i);
  void Sweep();
  void CloseAll();
  void Register(SessionBase* s);
  void Unregister(SessionBase* s);

  // The wrong-password tarpit (I/O thread only).
  void Tarpit(const std::string& peer) {
    constexpr size_t kMaxPeers = 4096;
    auto now = Clock::now();
    if (tarpit_until_.size() >= kMaxPeers) {
      std::erase_if(tarpit_until_, [&](const auto& kv) { return kv.second <= now; });
      if (tarpit_until_.size() >= kMaxPeers) tarpit_until_.clear();  // bounded; a spread flood is still budgeted
    }
    // Refreshed by every throttled request, so a steady flood stays slowed.
    tarpit_until_[peer] = now + std::chrono::seconds(10);
  }
  bool Tarpitted(const std::string& peer, Clock::time_point now) {
    auto it = tarpit_until_.find(peer);
    if (it == tarpit_until_.end()) return false;
    if (it->second > now) return true;
    tarpit_until_.erase(it);
    return false;
  }

  bool SlowPath(const std::string& path) const {
    return std::find(options_.slow_paths.begin(), options_.slow_paths.end(), path) != options_.slow_paths.end();
  }

  std::chrono::milliseconds IdleTimeout() const {
    return std::chrono::milliseconds(book_.Scarce() ? options_.scarce_keep_alive_timeout_ms
                                                    : options_.keep_alive_timeout_ms);
  }

  HttpHandler handler_;
  WebServerOptions options_;
  mutable std::mutex auth_mu_;
  std::shared_ptr<BasicAuth> auth_;
  // Declared before io_: sessions still queued in io_ unregister from these
  // when io_ is destroyed.
  ConnectionBook book_;
  std::unordered_map<uint64_t, SessionBase*> sessions_;  // I/O thread only
  std::unordered_map<std::string, Clock::time_point> tarpit_until_;
  std::unordered_map<std::string, int> tarpit_waiting_;
  std::unique_ptr<asio::ssl::context> ssl_;
  uint64_t next_id_ = 1;
  bool sweeping_ = false;
  Clock::time_point last_evict_log_{};
  uint64_t evicted_since_log_ = 0;
  std::vector<int> ports_;
  std::atomic<bool> stopped_{false};

  // Self metrics, written on the I/O thread, read by scrapes.
  std::atomic<uint64_t> open_{0};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> evicted_scarce_{0};
  std::atomic<uint64_t> evicted_per_client_{0};
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> cuts_[std::size(kCutPhases)]{};  // by phase

  asio::io_context io_;
  std::vector<tcp::acceptor> acceptors_;
  asio::steady_timer sweep_;
  asio::thread_pool workers_;
  asio::thread_pool slow_;  // bcrypt checks and handlers that may block
  std::thread io_thread_;
};

// What the sweep and the eviction see of a connection (I/O thread only).
class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  enum class State { kTarpit, kHandshake, kIdle, kHeader, kAuth, kHandling, kBody, kWrite, kStream, kClosing };

  SessionBase(WebServer::Impl* srv, uint64_t id, std::string peer) : srv_(srv), id_(id), peer_(std::move(peer)) {
    srv_->Register(this);
  }
  virtual ~SessionBase() { srv_->Unregister(this); }

  uint64_t id() const { return id_; }
  Clock::time_point deadline() const { return deadline_; }
  State state() const { return state_; }
  // The deadline passed.
  virtual void Expire() = 0;
  // Closed at once, nothing more sent (eviction, shutdown).
  virtual void Abort() = 0;

 protected:
  WebServer::Impl* srv_;
  const uint64_t id_;
  const std::string peer_;
  State state_ = State::kHandshake;
  Clock::time_point deadline_ = kNever;
};

void WebServer::Impl::Register(SessionBase* s) {
  sessions_[s->id()] = s;
  open_ = sessions_.size();
  // Deadlines are swept only while there are connections: no idle wake-ups.
  if (!sweeping_ && !stopped_) {
    sweeping_ = true;
    sweep_.expires_after(kSweepEvery);
    sweep_.async_wait([this](const boost::system::error_code& ec) {
      sweeping_ = false;
      if (!ec) Sweep();
    });
  }
}

void WebServer::Impl::Unregister(SessionBase* s) {
  sessions_.erase(s->id());
  book_.Remove(s->id());
  open_ = sessions_.size();
}

void WebServer::Impl::CloseAll() {
  std::vector<std::shared_ptr<SessionBase>> all;
  for (auto& [id, s] : sessions_) all.push_back(s->shared_from_this());
  for (auto& s : all) s->Abort();
}

namespace {

// The index in kCutPhases of a connection cut in `state`, or -1.
int CutPhase(SessionBase::State state) {
  using State = SessionBase::State;
  if (state == State::kHandshake) return 0;
  if (state == State::kHeader) return 1;
  if (state == State::kBody) return 2;
  if (state == State::kIdle) return 3;
  if (state == State::kWrite || state == State::kStream) return 4;
  return -1;
}

}  // namespace

void WebServer::Impl::Sweep() {
  if (stopped_) return;
  auto now = Clock::now();
  std::vector<std::shared_ptr<SessionBase>> due;
  for (auto& [id, s] : sessions_) {
    if (s->deadline() <= now) due.push_back(s->shared_from_this());
  }
  for (auto& s : due) {
    if (int phase = CutPhase(s->state()); phase >= 0) ++cuts_[phase];
    s->Expire();
  }
  if (sessions_.empty() || sweeping_) return;
  sweeping_ = true;
  sweep_.expires_after(kSweepEvery);
  sweep_.async_wait([this](const boost::system::error_code& ec) {
    sweeping_ = false;
    if (!ec) Sweep();
  });
}

// A streamed response body (SSE): what the handler's writer queues, sent by
// the I/O thread in order. Shared by the writer and the connection.
class StreamSink : public ResponseStream, public std::enable_shared_from_this<StreamSink> {
 public:
  using Sender = std::function<void(std::string data, std::function<void(bool ok)> done)>;
  StreamSink(asio::io_context& io, size_t bound) : io_(io), bound_(bound) {}

  void Attach(Sender send, std::function<void()> end) {
    std::lock_guard<std::mutex> lock(mu_);
    send_ = std::move(send);
    end_ = std::move(end);
  }

  bool Write(std::string data) override {
    bool start = false;
    bool ok = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!open_ || ending_) return false;
      if (queued_ + data.size() > bound_) {
        ending_ = true;  // a reader this far behind is not reading: end it
      } else {
        queued_ += data.size();
        queue_.push_back(std::move(data));
      }
      start = !writing_;
      writing_ = true;
      ok = !ending_;
    }
    if (start) asio::post(io_, [self = shared_from_this()] { self->Pump(); });
    return ok;
  }

  bool Busy() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return writing_ || !queue_.empty();
  }
  bool Open() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return open_ && !ending_;
  }
  void OnDrained(std::function<void()> on_drained) override {
    std::lock_guard<std::mutex> lock(mu_);
    drained_ = std::move(on_drained);
  }
  void End() override {
    bool start = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      drained_ = nullptr;
      if (!open_ || ending_) return;
      ending_ = true;
      start = !writing_;
      writing_ = true;
    }
    if (start) asio::post(io_, [self = shared_from_this()] { self->Pump(); });
  }

  // The connection is gone (I/O thread).
  void Closed() {
    std::function<void()> drained;
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = false;
      queue_.clear();
      queued_ = 0;
      writing_ = false;
      send_ = nullptr;
      end_ = nullptr;
      drained = drained_;
    }
    if (drained) drained();
  }

 private:
  // I/O thread: sends what is queued, one write at a time.
  void Pump() {
    std::string batch;
    Sender send;
    std::function<void()> end, drained;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!open_) return;
      for (auto& piece : queue_) batch += piece;
      queue_.clear();
      queued_ = 0;
      if (batch.empty()) {
        writing_ = false;
        if (ending_) end = end_;
        drained = drained_;
      } else {
        send = send_;
      }
    }
    if (!send && batch.empty()) {
      if (end) end();
      if (drained) drained();
      return;
    }
    if (!send) return;
    send(std::move(batch), [self = shared_from_this()](bool ok) {
      if (!ok) return self->Closed();
      self->Pump();
    });
  }

  asio::io_context& io_;
  const size_t bound_;
  mutable std::mutex mu_;
  std::deque<std::string> queue_;
  size_t queued_ = 0;
  bool writing_ = false;
  bool open_ = true;
  bool ending_ = false;
  Sender send_;
  std::function<void()> end_;
  std::function<void()> drained_;
};

namespace {

// Browsers send cached basic-auth credentials with any page's cross-origin
// "simple" request (a form or text/plain body, no preflight). Such requests
// always carry an Origin (or Sec-Fetch-Site) naming another site, or a simple
// Content-Type: refuse both on anything but GET/HEAD.
std::optional<HttpResponse> RefuseForged(const HttpRequest& req) {
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

HttpResponse Unauthorized() {
  HttpResponse r{401, "text/plain; charset=utf-8", "Unauthorized\n"};
  r.headers = {{"WWW-Authenticate", "Basic realm=\"botwatch\", charset=\"UTF-8\""}};
  return r;
}

HttpResponse TooManyAttempts() {
  // Past the wrong-password or bcrypt budget: answered at once, without a check.
  HttpResponse r{429, "text/plain; charset=utf-8", "Too many authentication attempts; retry later\n"};
  r.headers = {{"Retry-After", "1"}};
  return r;
}

}  // namespace

template <bool kTls>
class Session : public SessionBase {
 public:
  using Stream = std::conditional_t<kTls, asio::ssl::stream<tcp::socket>, tcp::socket>;

  Session(WebServer::Impl* srv, uint64_t id, std::string peer, tcp::socket socket)
      : SessionBase(srv, id, std::move(peer)), stream_(MakeStream(srv, std::move(socket))) {}

  ~Session() override {
    if (sink_) sink_->Closed();
  }

  tcp::socket& socket() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  void Begin(Clock::time_point release) {
    if (release > Clock::now()) {
      state_ = State::kTarpit;
      ++srv_->tarpit_waiting_[peer_];
      tarpitted_ = true;
      timer_ = std::make_unique<asio::steady_timer>(srv_->io_, release);
      timer_->async_wait([self = Self()](const boost::system::error_code& ec) {
        self->LeaveTarpit();
        if (!ec && !self->closed_) self->Handshake();
      });
      return;
    }
    Handshake();
  }

  void Expire() override {
    deadline_ = kNever;
    if (state_ == State::kBody) {
      // A body that did not come in time is a broken request: answered 400.
      body_late_ = true;
      boost::system::error_code ec;
      socket().cancel(ec);
      return;
    }
    Abort();
  }

  void Abort() override {
    if (closed_) return;
    closed_ = true;
    state_ = State::kClosing;
    deadline_ = kNever;
    LeaveTarpit();
    boost::system::error_code ec;
    socket().close(ec);
    if (timer_) timer_->cancel();
    if (sink_) sink_->Closed();
  }

 private:
  static Stream MakeStream(WebServer::Impl* srv, tcp::socket socket) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *srv->ssl_);
    } else {
      (void)srv;
      return socket;
    }
  }

  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }

  void LeaveTarpit() {
    if (!tarpitted_) return;
    tarpitted_ = false;
    auto it = srv_->tarpit_waiting_.find(peer_);
    if (it != srv_->tarpit_waiting_.end() && --it->second <= 0) srv_->tarpit_waiting_.erase(it);
  }

  void Handshake() {
    if constexpr (kTls) {
      state_ = State::kHandshake;
      deadline_ = Clock::now() + std::chrono::milliseconds(srv_->options_.tls_handshake_timeout_ms);
      stream_.async_handshake(asio::ssl::stream_base::server, [self = Self()](const boost::system::error_code& ec) {
        if (ec) {
          logging::Debug("TLS handshake failed", {{"peer", self->peer_}, {"err", ec.message()}});
          return self->Abort();
        }
        self->NextRequest();
      });
    } else {
      NextRequest();
    }
  }

  // Waits for the next request: at once for the first, or idle (kept alive).
  void NextRequest() {
    if (closed_) return;
    if (completed_ > 0 && buffer_.size() == 0) {
      state_ = State::kIdle;
      srv_->book_.SetPhase(id_, ConnectionBook::Phase::kIdle);
      deadline_ = Clock::now() + srv_->IdleTimeout();
      socket().async_wait(tcp::socket::wait_read, [self = Self()](const boost::system::error_code& ec) {
        if (ec || self->closed_) return self->Abort();
        self->ReadHeader();
      });
      return;
    }
    ReadHeader();
  }

  void ReadHeader() {
    state_ = State::kHeader;
    deadline_ = Clock::now() + std::chrono::milliseconds(srv_->options_.header_timeout_ms);
    has_body_ = body_read_ = body_late_ = false;
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    // Checked against the handler's limit later. Not boost::none: Beast 1.74 compares
    // a Content-Length with an empty optional as greater, and fails the header.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = Self()](const boost::system::error_code& ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(const boost::system::error_code& ec) {
    if (closed_) return;
    deadline_ = kNever;
    if (ec == http::error::header_limit) {
      request_.method = "GET";
      return Send(HttpResponse{431, "text/plain; charset=utf-8", "request header too large\n"}, false);
    }
    if (ec) {
      logging::Debug("request header not read", {{"peer", peer_}, {"err", ec.message()}});
      return Abort();  // gone, cut at the deadline, or not HTTP
    }
    state_ = State::kAuth;
    srv_->book_.SetPhase(id_, ConnectionBook::Phase::kBusy);
    const auto& h = parser_->get();
    request_ = HttpRequest{};
    request_.method = std::string(h.method_string());
    std::string_view target(h.target().data(), h.target().size());
    size_t q = target.find('?');
    request_.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request_.query = std::string(target.substr(q + 1));
    if (request_.path.empty()) request_.path = "/";
    request_.content_length = parser_->content_length() ? static_cast<int64_t>(*parser_->content_length()) : -1;
    for (const auto& field : h) {
      if (request_.headers.size() >= 64) break;
      request_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request_.peer = peer_;
    has_body_ = parser_->chunked() || (parser_->content_length() && *parser_->content_length() > 0);
    client_keep_alive_ = h.keep_alive();
    liveness_ = IsHealthPath(request_.path);
    authenticated_ = false;
    std::shared_ptr<BasicAuth> auth = liveness_ ? nullptr : srv_->Auth();
    auth_on_ = auth != nullptr;
    if (!auth) return Authorized();
    const char* authorization = request_.header("Authorization");
    std::string credentials = authorization ? authorization : "";
    if (std::optional<AuthResult> known = auth->CheckCached(authorization, peer_)) return OnAuth(*known);
    // A new credential costs a bcrypt run: on the slow lane, never here.
    asio::post(srv_->slow_, [self = Self(), auth, credentials = std::move(credentials)]() mutable {
      AuthResult result = auth->Check(credentials.c_str(), self->peer_);
      std::fill(credentials.begin(), credentials.end(), '\0');
      asio::io_context& io = self->srv_->io_;  // before self is moved
      asio::post(io, [self = std::move(self), result] { self->OnAuth(result); });
    });
  }

  void OnAuth(AuthResult result) {
    if (closed_) return;
    if (result == AuthResult::kThrottled) {
      // Over its budget, the client's next connections wait in the tarpit.
      srv_->Tarpit(peer_);
      return Send(TooManyAttempts(), false);
    }
    if (result != AuthResult::kAllowed) return Send(Unauthorized(), false);
    authenticated_ = true;
    Authorized();
  }

  void Authorized() {
    if (std::optional<HttpResponse> refused = RefuseForged(request_)) return Send(std::move(*refused), false);
    state_ = State::kHandling;
    asio::thread_pool& pool = srv_->SlowPath(request_.path) ? srv_->slow_ : srv_->workers_;
    asio::post(pool, [self = Self()]() mutable {
      HttpResponse resp = self->Call([&] { return self->srv_->handler_(self->request_); });
      asio::io_context& io = self->srv_->io_;  // before self is moved
      asio::post(io, [self = std::move(self), resp = std::move(resp)]() mutable { self->OnHandled(std::move(resp)); });
    });
  }

  template <class F>
  HttpResponse Call(F&& f) {
    try {
      return f();
    } catch (const std::exception& e) {
      logging::Error("request handler failed", {{"path", request_.path}, {"err", e.what()}});
      return HttpResponse{500, "text/plain; charset=utf-8", "internal error\n"};
    }
  }

  void OnHandled(HttpResponse resp) {
    if (closed_) return;
    if (!resp.read_body_then) return Send(std::move(resp), true);
    then_ = std::move(resp.read_body_then);
    if (!has_body_) return BodyDone(BodyRead::kOk);
    if (request_.content_length > static_cast<int64_t>(resp.body_limit)) return BodyDone(BodyRead::kTooLarge);
    state_ = State::kBody;
    // A first request's body still counts as "not completed": evictable.
    if (completed_ == 0) srv_->book_.SetPhase(id_, ConnectionBook::Phase::kFresh);
    body_limit_ = resp.body_limit;
    body_start_ = Clock::now();
    parser_->body_limit(body_limit_);
    if (strcasecmp(request_.Header("Expect").c_str(), "100-continue") != 0) return ReadBody();
    // curl waits a second for this before it sends a body over 1 KiB.
    static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(stream_, asio::buffer(kContinue, sizeof kContinue - 1),
                      [self = Self()](const boost::system::error_code& ec, size_t) {
                        if (self->closed_) return;
                        if (ec) return self->Abort();
                        self->ReadBody();
                      });
  }

  void ReadBody() {
    // A total, not a silence: the grace plus the bytes so far at the minimum rate.
    const size_t got = parser_->get().body().size();
    deadline_ = body_start_ + std::chrono::milliseconds(srv_->options_.body_timeout_ms) +
                std::chrono::milliseconds(got * 1000 / static_cast<size_t>(std::max(1, srv_->options_.min_body_rate)));
    http::async_read_some(stream_, buffer_, *parser_, [self = Self()](const boost::system::error_code& ec, size_t) {
      if (self->closed_) return;
      if (ec == http::error::body_limit) return self->BodyDone(BodyRead::kTooLarge);
      if (ec) return self->BodyDone(BodyRead::kFailed);
      if (self->parser_->is_done()) return self->BodyDone(BodyRead::kOk);
      self->ReadBody();
    });
  }

  void BodyDone(BodyRead read) {
    deadline_ = kNever;
    body_read_ = read == BodyRead::kOk;
    state_ = State::kHandling;
    std::string body = read == BodyRead::kOk ? std::move(parser_->get().body()) : std::string();
    parser_->get().body().clear();
    asio::thread_pool& pool = srv_->SlowPath(request_.path) ? srv_->slow_ : srv_->workers_;
    asio::post(pool, [self = Self(), read, body = std::move(body), then = std::move(then_)]() mutable {
      HttpResponse resp = self->Call([&] { return then(read, std::move(body)); });
      // A large body is freed here, on the worker, not on the I/O thread.
      body = std::string();
      then = nullptr;
      if (resp.read_body_then) resp = HttpResponse{500, "text/plain; charset=utf-8", "internal error\n"};
      asio::io_context& io = self->srv_->io_;  // before self is moved
      asio::post(io, [self = std::move(self), resp = std::move(resp)]() mutable { self->Send(std::move(resp), true); });
    });
  }

  // `success_may_keep`: false for refusals, which always close.
  void Send(HttpResponse resp, bool success_may_keep) {
    if (closed_) return;
    const bool head = request_.method == "HEAD";
    bool close_asked = false;
    for (const auto& [k, v] : resp.headers) close_asked |= strcasecmp(k.c_str(), "Connection") == 0;
    // A kept-alive connection is cheap now, but strangers, health checks,
    // errors and requests with a body left unread are still asked to go.
    const bool body_pending = has_body_ && !body_read_;
    keep_ = success_may_keep && resp.status >= 200 && resp.status < 300 && !liveness_ &&
            (authenticated_ || !auth_on_) && !close_asked && client_keep_alive_ && !body_pending && !resp.stream;
    http::response<http::string_body> res;
    res.version(11);
    res.result(static_cast<unsigned>(resp.status));
    res.set(http::field::content_type, resp.content_type);
    res.set(http::field::cache_control, "no-store");
    res.set("X-Content-Type-Options", "nosniff");
    for (const auto& [k, v] : resp.headers) {
      if (strcasecmp(k.c_str(), "Connection") == 0) continue;
      res.insert(k, v);
    }
    res.keep_alive(keep_);
    if (resp.stream) {
      // No length: the body ends when the connection does.
      res.set(http::field::connection, "close");
      std::ostringstream head_text;
      head_text << res.base();
      out_ = head_text.str();
      if (!head) stream_fn_ = std::move(resp.stream);
    } else {
      res.content_length(resp.body.size());
      std::ostringstream head_text;
      head_text << res.base();
      out_ = head_text.str();
      if (!head) out_ += resp.body;
    }
    resp.body = std::string();
    state_ = State::kWrite;
    WriteOut();
  }

  void WriteOut() {
    deadline_ =
        Clock::now() + std::chrono::milliseconds(srv_->options_.write_timeout_ms) +
        std::chrono::milliseconds(out_.size() * 1000 / static_cast<size_t>(std::max(1, srv_->options_.min_body_rate)));
    asio::async_write(stream_, asio::buffer(out_),
                      [self = Self()](const boost::system::error_code& ec, size_t) { self->Written(ec); });
  }

  void Written(const boost::system::error_code& ec) {
    if (closed_) return;
    deadline_ = kNever;
    std::string().swap(out_);
    if (ec) return Abort();
    if (stream_fn_) return StartStream();
    if (!keep_) return Linger();
    ++completed_;
    parser_.reset();
    if (buffer_.size() == 0) buffer_.shrink_to_fit();
    NextRequest();
  }

  void StartStream() {
    state_ = State::kStream;
    srv_->book_.SetPhase(id_, ConnectionBook::Phase::kBusy);
    sink_ = std::make_shared<StreamSink>(srv_->io_, srv_->options_.max_stream_queue);
    std::weak_ptr<Session> weak = Self();
    sink_->Attach(
        [weak](std::string data, std::function<void(bool)> done) {
          auto self = weak.lock();
          if (!self || self->closed_) return done(false);
          self->stream_out_ = std::move(data);
          self->deadline_ =
              Clock::now() + std::chrono::milliseconds(self->srv_->options_.write_timeout_ms) +
              std::chrono::milliseconds(self->stream_out_.size() * 1000 /
                                        static_cast<size_t>(std::max(1, self->srv_->options_.min_body_rate)));
          asio::async_write(self->stream_, asio::buffer(self->stream_out_),
                            [self, done = std::move(done)](const boost::system::error_code& ec, size_t) {
                              self->deadline_ = kNever;
                              std::string().swap(self->stream_out_);
                              if (ec || self->closed_) {
                                done(false);
                                return self->Abort();
                              }
                              done(true);
                            });
        },
        [weak] {
          if (auto self = weak.lock()) self->Linger();
        });
    // The client is not meant to send anything: a read notices it going away.
    socket().async_wait(tcp::socket::wait_read, [self = Self()](const boost::system::error_code& ec) {
      if (self->closed_ || self->state_ != State::kStream) return;
      if (!ec) {
        char c;
        boost::system::error_code rec;
        size_t n = self->socket().receive(asio::buffer(&c, 1), tcp::socket::message_peek, rec);
        if (!rec && n > 0 && kTls) return;  // TLS records (a key update): not a departure
      }
      self->Abort();
    });
    auto fn = std::move(stream_fn_);
    stream_fn_ = nullptr;
    std::shared_ptr<ResponseStream> out = sink_;
    asio::post(srv_->workers_, [fn = std::move(fn), out = std::move(out)]() mutable { fn(std::move(out)); });
  }

  // Closes gracefully: nothing more is sent, what the client still sends is
  // read and dropped for a moment, so its unread request bytes cannot turn the
  // close into a reset that destroys the answer before it is read.
  void Linger() {
    if (closed_ || state_ == State::kClosing) return;
    state_ = State::kClosing;
    srv_->book_.SetPhase(id_, ConnectionBook::Phase::kClosing);
    deadline_ = Clock::now() + kLingerFor;
    if constexpr (kTls) {
      stream_.async_shutdown([self = Self()](const boost::system::error_code&) { self->Abort(); });
    } else {
      boost::system::error_code ec;
      socket().shutdown(tcp::socket::shutdown_send, ec);
      Drain();
    }
  }

  void Drain() {
    drain_.resize(4096);
    socket().async_read_some(asio::buffer(drain_), [self = Self()](const boost::system::error_code& ec, size_t) {
      if (ec || self->closed_) return self->Abort();
      self->Drain();
    });
  }

  Stream stream_;
  beast::flat_buffer buffer_{kMaxHeaderBytes + 4096};
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest request_;
  BodyHandler then_;
  std::function<void(std::shared_ptr<ResponseStream>)> stream_fn_;
  std::shared_ptr<StreamSink> sink_;
  std::unique_ptr<asio::steady_timer> timer_;
  std::string out_;
  std::string stream_out_;
  std::vector<char> drain_;
  Clock::time_point body_start_{};
  size_t body_limit_ = 0;
  uint64_t completed_ = 0;
  bool closed_ = false;
  bool tarpitted_ = false;
  bool has_body_ = false;
  bool body_read_ = false;
  bool body_late_ = false;
  bool client_keep_alive_ = false;
  bool liveness_ = false;
  bool auth_on_ = false;
  bool authenticated_ = false;
  bool keep_ = false;
};

void WebServer::Impl::Accept(size_t i) {
  acceptors_[i].async_accept([this, i](const boost::system::error_code& ec, tcp::socket socket) {
    if (stopped_) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // Out of fds (EMFILE) or the like: the backlog waits for the next round.
      auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(50));
      t->async_wait([this, i, t](const boost::system::error_code& e) {
        if (!e) Accept(i);
      });
      return;
    }
    ++accepted_;
    boost::system::error_code peer_ec;
    tcp::endpoint remote = socket.remote_endpoint(peer_ec);
    if (peer_ec) return Accept(i);
    std::string peer = PeerText(remote);
    const uint64_t id = next_id_++;
    auto now = Clock::now();
    const bool tarpit = Tarpitted(peer, now);
    if (tarpit && tarpit_waiting_[peer] >= options_.tarpit_waiting_per_client) {
      ++refused_;
      socket.close();
      if (tarpit_waiting_[peer] == 0) tarpit_waiting_.erase(peer);
      return Accept(i);
    }
    ConnectionBook::Admission a = book_.Admit(id, peer);
    for (const ConnectionBook::Eviction& e : a.evict) {
      auto it = sessions_.find(e.id);
      if (it == sessions_.end()) continue;
      if (e.why == ConnectionBook::Why::kScarce) {
        ++evicted_scarce_;
        ++evicted_since_log_;
      } else {
        ++evicted_per_client_;
      }
      it->second->shared_from_this()->Abort();
    }
    if (evicted_since_log_ > 0 && now - last_evict_log_ > std::chrono::seconds(10)) {
      logging::Warn("connections are scarce: closed the oldest that had not completed a request (or idle ones)",
                    {{"closed", std::to_string(evicted_since_log_)}, {"limit", std::to_string(book_.capacity())}});
      last_evict_log_ = now;
      evicted_since_log_ = 0;
    }
    if (!a.admitted) {
      ++refused_;
      socket.close();
      return Accept(i);
    }
    boost::system::error_code opt_ec;
    // Headers and body go out in one write, but a stream's pieces must not
    // wait for the peer's delayed ACK either.
    socket.set_option(tcp::no_delay(true), opt_ec);
    const auto release = tarpit ? now + std::chrono::milliseconds(options_.tarpit_ms) : now;
    if (ssl_) {
      auto s = std::make_shared<Session<true>>(this, id, std::move(peer), std::move(socket));
      s->Begin(release);
    } else {
      auto s = std::make_shared<Session<false>>(this, id, std::move(peer), std::move(socket));
      s->Begin(release);
    }
    Accept(i);
  });
}

// ---- WebServer ----

WebServer::WebServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebServer::~WebServer() {
  if (impl_) impl_->Stop();
}

int WebServer::port() const { return impl_->ports_.empty() ? 0 : impl_->ports_.front(); }
bool WebServer::tls() const { return impl_->ssl_ != nullptr; }
void WebServer::SetAuth(std::shared_ptr<BasicAuth> auth) { impl_->SetAuth(std::move(auth)); }

bool WebServer::ValidListenAddress(const std::string& listen_address) {
  std::string host;
  int port = 0;
  bool v6 = false;
  return ParseListen(listen_address, &host, &port, &v6);
}

std::vector<Family> WebServer::Expose() const {
  const Impl& s = *impl_;
  auto n = [](uint64_t v) { return static_cast<double>(v); };
  FamilyBuilder fb;
  fb.Gauge("botwatch_http_connections", "HTTP connections open now.", n(s.open_.load()));
  fb.Gauge("botwatch_http_connections_limit",
           "HTTP connections botwatch holds at most (from the fd limit); past it the oldest that has "
           "not completed a request, then the oldest idle one, is closed to admit a new one.",
           n(s.book_.capacity()));
  fb.Counter("botwatch_http_connections_accepted_total", "HTTP connections accepted.", n(s.accepted_.load()));
  const char* evicted_help =
      "HTTP connections closed to admit another, by reason: scarce (the connection limit) or "
      "per_client (one client address over its own limit).";
  fb.Counter("botwatch_http_connections_evicted_total", evicted_help, n(s.evicted_scarce_.load()),
             {{"reason", "scarce"}});
  fb.Counter("botwatch_http_connections_evicted_total", evicted_help, n(s.evicted_per_client_.load()),
             {{"reason", "per_client"}});
  fb.Counter("botwatch_http_connections_refused_total",
             "HTTP connections closed unserved: a client over its own limit with nothing to evict, or "
             "over the wrong-password tarpit's queue.",
             n(s.refused_.load()));
  for (size_t i = 0; i < std::size(kCutPhases); ++i) {
    fb.Counter("botwatch_http_deadline_cuts_total",
               "HTTP connections cut at a deadline, by phase (tls_handshake, header, body, idle, write).",
               n(s.cuts_[i].load()), {{"phase", kCutPhases[i]}});
  }
  return fb.Take();
}

namespace {

// How many connections the server may hold: every connection costs one fd, so
// take the hard limit, as Go exporters do, and keep room for everything else
// botwatch opens.
size_t ConnectionCapacity(int max_connections) {
  size_t capacity = static_cast<size_t>(std::max(16, max_connections));
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    if (rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY) {
      long usable = static_cast<long>(rl.rlim_cur) - 128;
      capacity = static_cast<size_t>(std::clamp<long>(usable, 16, static_cast<long>(capacity)));
    }
  }
  return capacity;
}

}  // namespace

Status WebServer::Impl::Listen(const std::string& address) {
  std::string host;
  int port = 0;
  bool v6 = false;
  ParseListen(address, &host, &port, &v6);
  boost::system::error_code ec;
  asio::ip::address ip = asio::ip::make_address(host, ec);
  if (ec || ip.is_v6() != v6) {
    return Status::Error("cannot listen on " + address + ": \"" + host + "\" is not an " + (v6 ? "IPv6" : "IPv4") +
                         " address");
  }
  tcp::endpoint ep(ip, static_cast<uint16_t>(port));
  tcp::acceptor acceptor(io_);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  // "[::]" also takes IPv4, as Go exporters do; another IPv6 address only itself.
  if (!ec && v6) acceptor.set_option(asio::ip::v6_only(!ip.is_unspecified()), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(1024, ec);
  if (ec) return Status::Error(ListenError(address, ec));
  ports_.push_back(acceptor.local_endpoint(ec).port());
  acceptors_.push_back(std::move(acceptor));
  return Status::Ok();
}

Result<std::unique_ptr<WebServer>> WebServer::Start(const std::vector<std::string>& listen_addresses,
                                                    HttpHandler handler, std::shared_ptr<BasicAuth> auth,
                                                    const TlsServerConfig* tls, WebServerOptions options) {
  if (listen_addresses.empty()) return Status::Error("no --web.listen-address to serve on");
  for (const std::string& address : listen_addresses) {
    if (!ValidListenAddress(address)) {
      return Status::Error("invalid --web.listen-address \"" + address +
                           "\" (expected host:port, e.g. :10117 or "
                           "127.0.0.1:10117)");
    }
  }
  size_t capacity = ConnectionCapacity(options.max_connections);
  // Request bodies up to max_body_bytes are read into one string. With glibc's
  // dynamic mmap threshold, after the first big one is freed the next ones
  // come from a thread's arena and stay resident for good (14 -> 51 MB seen);
  // a fixed threshold keeps every block over 1 MiB in its own mapping, given
  // back when freed.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  auto impl = std::make_unique<Impl>(std::move(handler), std::move(options), capacity);
  if (tls != nullptr) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) return Status::Error("cannot set up TLS: cannot create a TLS context");
    if (std::optional<TlsSetupError> err = ConfigureTlsContext(ctx, *tls)) {
      SSL_CTX_free(ctx);
      return Status::Error("cannot set up TLS: tls_server_config." + err->field + ": " + err->message);
    }
    impl->ssl_ = std::make_unique<asio::ssl::context>(ctx);
  }
  // Bound (and listening) only now, with the users and TLS in place: no
  // connection is ever answered by a server without its auth.
  impl->SetAuth(std::move(auth));
  for (const std::string& address : listen_addresses) {
    if (Status st = impl->Listen(address); !st.ok()) return st;
  }
  Impl* s = impl.get();
  for (size_t i = 0; i < s->acceptors_.size(); ++i) s->Accept(i);
  s->io_thread_ = std::thread([s] {
    for (;;) {
      try {
        s->io_.run();
        return;
      } catch (const std::exception& e) {
        logging::Error("web server I/O failed", {{"err", e.what()}});
      }
    }
  });
  return std::unique_ptr<WebServer>(new WebServer(std::move(impl)));
}

}  // namespace botwatch
