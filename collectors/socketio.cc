#include "collectors/socketio.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "base/config_node.h"
#include "base/logging.h"
#include "base/unix_time.h"
#include "collectors/lib/json_fields.h"
#include "collectors/lib/tcp_connect.h"
#include "collectors/lib/websocket_client.h"
#include "collectors/registry.h"

namespace botwatch {

BOTWATCH_REGISTER_COLLECTOR("socketio", SocketIoCollector::Create);

namespace {

using Clock = std::chrono::steady_clock;

constexpr char kRecordSeparator = '\x1e';
// Long-polling GETs that carry nothing for us (server events, noops) are
// skipped; past this many the server is not answering the CONNECT.
constexpr int kMaxPolls = 8;

double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

bool ValidNamespace(const std::string& nsp) {
  if (nsp.empty() || nsp[0] != '/') return false;
  for (char c : nsp) {
    if (c == ',' || c == '?' || c == '#' || static_cast<unsigned char>(c) < 0x21) return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> SplitPollingPayload(const std::string& payload) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= payload.size()) {
    size_t end = payload.find(kRecordSeparator, start);
    if (end == std::string::npos) end = payload.size();
    if (end > start) out.push_back(payload.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::optional<SocketIoPacket> ParseSocketIoPacket(const std::string& p) {
  // Engine.IO message "4", then the Socket.IO type digit.
  if (p.size() < 2 || p[0] != '4' || p[1] < '0' || p[1] > '6') return std::nullopt;
  SocketIoPacket out;
  out.type = p[1] - '0';
  size_t pos = 2;
  if (out.type == 5 || out.type == 6) {  // binary: "<attachments>-"
    size_t digits = pos;
    while (pos < p.size() && p[pos] >= '0' && p[pos] <= '9') ++pos;
    if (pos == digits || pos >= p.size() || p[pos] != '-') return std::nullopt;
    ++pos;
  }
  if (pos < p.size() && p[pos] == '/') {
    size_t comma = p.find(',', pos);
    out.nsp = p.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? p.size() : comma + 1;
  }
  while (pos < p.size() && p[pos] >= '0' && p[pos] <= '9') ++pos;  // ack id
  out.data = p.substr(pos);
  return out;
}

std::unique_ptr<Collector> SocketIoCollector::Create(const CollectorSpec&, ConfigMap& config) {
  SocketIoConfig c;
  c.url = config.RequiredString("url");
  if (c.url.rfind("http://", 0) != 0 && c.url.rfind("https://", 0) != 0) {
    config.FailAt("url", "must start with http:// or https:// (the probe uses HTTP long-polling)");
  }
  if (c.url.find('?') != std::string::npos) config.FailAt("url", "must not have a query string");
  while (!c.url.empty() && c.url.back() == '/') c.url.pop_back();
  c.path = config.String("path", c.path);
  if (c.path.empty() || c.path[0] != '/' || c.path.find('?') != std::string::npos) {
    config.FailAt("path", "must start with / (the server's `path` option, default /socket.io/)");
  }
  if (c.path.back() != '/') c.path += '/';
  c.nsp = config.String("namespace", c.nsp);
  if (!ValidNamespace(c.nsp)) config.FailAt("namespace", "must start with / and contain no , ? # or spaces");
  c.connect = config.Bool("connect", true);
  if (std::optional<ConfigMap> auth = config.OptionalMap("auth")) {
    if (!c.connect) config.FailAt("auth", "is sent with the namespace CONNECT, which `connect: false` turns off");
    Json payload = Json::object();
    for (const auto& [key, raw] : config.StringMap("auth")) {
      std::string name = key;
      if (name.size() > 5 && name.compare(name.size() - 5, 5, "_file") == 0) name.resize(name.size() - 5);
      std::optional<Secret> value = auth->OptionalSecret(name);
      if (!value) continue;
      payload[name] = value->reveal();
      c.auth_values.emplace(name, std::move(*value));
    }
    auth->RejectUnknownKeys();
    c.auth = Secret(payload.dump());
  }
  c.ca_file = config.String("ca_file", "");
  c.tls_verify = !config.Bool("insecure_skip_verify", false);
  c.websocket_upgrade = config.Bool("websocket_upgrade", false);
  if (std::optional<ConfigMap> listen = config.OptionalMap("listen")) {
    SocketIoConfig::Listen l;
    l.events = listen->StringList("events");
    if (l.events.empty()) listen->FailAt("events", "must list the event names to count (others count as \"other\")");
    if (l.events.size() > 100) listen->FailAt("events", "at most 100 event names (each is a label value)");
    for (const std::string& e : l.events) {
      if (e.empty() || e == "other") listen->FailAt("events", "event names must be non-empty and not \"other\"");
    }
    l.rooms = listen->StringList("rooms");
    l.join_event = listen->String("join_event", l.rooms.empty() ? "" : "join");
    l.backoff_min = listen->DurationValue("backoff_min", l.backoff_min, std::chrono::milliseconds(10));
    l.backoff_max = listen->DurationValue("backoff_max", l.backoff_max, l.backoff_min);
    l.connect_timeout = listen->DurationValue("connect_timeout", l.connect_timeout, std::chrono::milliseconds(100));
    listen->RejectUnknownKeys();
    if (!c.connect) config.FailAt("listen", "needs the namespace CONNECT, which `connect: false` turns off");
    c.listen = std::move(l);
  }
  if (c.websocket_upgrade || c.listen) {
    c.ws_tls = c.url.rfind("https://", 0) == 0;
    std::string rest = c.url.substr(c.ws_tls ? 8 : 7);
    size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    c.ws_prefix = slash == std::string::npos ? "" : rest.substr(slash);
    if (authority.find('@') != std::string::npos) {
      config.FailAt("url", "must not carry user info when websocket_upgrade or listen is on");
    }
    c.ws_host_header = authority;
    if (authority.find(':') == std::string::npos || (!authority.empty() && authority.back() == ']')) {
      authority += c.ws_tls ? ":443" : ":80";
    }
    if (!SplitHostPort(authority, &c.ws_host, &c.ws_port)) {
      config.FailAt("url", "expected http(s)://host[:port][/prefix], got \"" + c.url + "\"");
    }
  }
  return std::make_unique<SocketIoCollector>(std::move(c));
}

SocketIoCollector::SocketIoCollector(SocketIoConfig config) : config_(std::move(config)) {
  if (config_.listen) {
    for (const std::string& e : config_.listen->events) state_.events[e];
    state_.events["other"];
    listener_ = std::thread([this] { ListenLoop(); });
  }
}

SocketIoCollector::~SocketIoCollector() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stopping_ = true;
  cv_.notify_all();
  if (listener_.joinable()) listener_.join();
}

namespace {

// The probe's reason for a WebSocket client error, for the listener and the upgrade alike.
const char* ReasonOf(const WebSocketError& e) {
  switch (e.kind) {
    case WebSocketError::Kind::kDns:
      return reason::kDns;
    case WebSocketError::Kind::kRefused:
      return reason::kConnectionRefused;
    case WebSocketError::Kind::kTimeout:
      return reason::kTimeout;
    case WebSocketError::Kind::kIo:
      return reason::kIo;
    case WebSocketError::Kind::kTls:
      return reason::kTls;
    case WebSocketError::Kind::kUpgradeRefused:
      return socketio_reason::kWebSocketRefused;
    case WebSocketError::Kind::kHandshake:
    case WebSocketError::Kind::kProtocol:
      return socketio_reason::kWebSocketHandshake;
  }
  return reason::kIo;
}

// How often the listen thread looks at the stop flag while waiting for a packet.
constexpr auto kListenSlice = std::chrono::milliseconds(200);

}  // namespace

void SocketIoCollector::ListenLoop() {
  const SocketIoConfig::Listen& l = *config_.listen;
  Duration backoff = l.backoff_min;
  std::string last_logged;
  while (!stopping_) {
    bool was_connected = false;
    auto [why, message] = ListenSession();
    {
      std::lock_guard<std::mutex> lock(mu_);
      was_connected = state_.connected;
      if (state_.connected) state_.disconnects += 1;
      state_.connected = false;
      if (why) state_.failures[why] += 1;
    }
    if (!why) break;                             // stopped
    if (was_connected) backoff = l.backoff_min;  // a session that worked restarts the backoff
    std::string line = std::string(why) + ": " + RedactSecrets(message, Secrets());
    if (line != last_logged) {  // one line per change, not one per retry
      logging::Warn(
          "socketio listen connection lost",
          {{"reason", why},
           {"error", RedactSecrets(message, Secrets())},
           {"retry_in_ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(backoff).count())}});
      last_logged = line;
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, backoff, [this] { return stop_; });
    if (stop_) break;
    backoff = std::min<Duration>(backoff * 2, l.backoff_max);
  }
}

void SocketIoCollector::CountEvent(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_.events.find(name);
  if (it == state_.events.end()) it = state_.events.find("other");
  it->second.count += 1;
  it->second.last_unix = UnixNow();
}

std::pair<const char*, std::string> SocketIoCollector::ListenSession() {
  const SocketIoConfig::Listen& l = *config_.listen;
  WebSocketClient ws;
  WebSocketTls tls;
  tls.enabled = config_.ws_tls;
  tls.verify = config_.tls_verify;
  tls.ca_file = config_.ca_file;
  tls.server_name = config_.ws_host;
  SteadyTime deadline = Clock::now() + l.connect_timeout;
  std::string target = config_.ws_prefix + config_.path + "?EIO=4&transport=websocket";
  if (auto e = ws.Connect(config_.ws_host, config_.ws_port, config_.ws_host_header, target, deadline, tls)) {
    return {ReasonOf(*e), "connect: " + e->message};
  }
  std::string msg;
  if (auto e = ws.Receive(&msg, deadline)) return {ReasonOf(*e), "open: " + e->message};
  if (msg.empty() || msg[0] != '0') return {reason::kProtocol, "open: expected an Engine.IO open packet"};
  Json open = Json::parse(msg.substr(1), nullptr, false);
  double silence_limit_s = 45;  // Engine.IO's default pingInterval + pingTimeout
  if (open.is_object() && open.contains("pingInterval") && open["pingInterval"].is_number() &&
      open.contains("pingTimeout") && open["pingTimeout"].is_number()) {
    silence_limit_s = (open["pingInterval"].get<double>() + open["pingTimeout"].get<double>()) / 1000.0;
  }
  std::string prefix = config_.nsp == "/" ? "" : config_.nsp + ",";
  std::string connect = "40" + prefix + (config_.auth ? config_.auth->reveal() : "");
  if (auto e = ws.SendText(connect, deadline)) return {ReasonOf(*e), "connect: " + e->message};

  bool joined = false;
  auto last_packet = Clock::now();
  while (!stopping_) {
    SteadyTime slice = Clock::now() + kListenSlice;
    if (!joined) slice = std::min(slice, deadline);
    std::string packet;
    if (auto e = ws.Receive(&packet, slice)) {
      if (e->kind != WebSocketError::Kind::kTimeout) return {ReasonOf(*e), e->message};
      if (!joined && Clock::now() >= deadline) return {reason::kTimeout, "no answer to the namespace CONNECT"};
      if (std::chrono::duration<double>(Clock::now() - last_packet).count() > silence_limit_s) {
        return {"ping_timeout", "no packet from the server for pingInterval + pingTimeout"};
      }
      continue;
    }
    last_packet = Clock::now();
    if (packet == "2") {
      if (auto e = ws.SendText("3", Clock::now() + l.connect_timeout)) return {ReasonOf(*e), e->message};
      continue;
    }
    if (!packet.empty() && packet[0] == '1') return {"server_disconnect", "the server closed the session"};
    std::optional<SocketIoPacket> p = ParseSocketIoPacket(packet);
    if (!p || p->nsp != config_.nsp) continue;
    if (p->type == 4) {
      Json err = Json::parse(p->data, nullptr, false);
      std::string why = err.is_object() && err.contains("message") && err["message"].is_string()
                            ? err["message"].get<std::string>()
                            : p->data;
      ws.Close(Clock::now() + std::chrono::seconds(1));
      return {socketio_reason::kConnectError, "connect to " + config_.nsp + " refused: " + QuotePeer(why, Secrets())};
    }
    if (p->type == 1) return {"server_disconnect", "the server disconnected the namespace"};
    if (p->type == 0 && !joined) {
      joined = true;
      for (const std::string& room : l.rooms) {
        std::string emit = "42" + prefix + Json::array({l.join_event, room}).dump();
        if (auto e = ws.SendText(emit, Clock::now() + l.connect_timeout)) return {ReasonOf(*e), e->message};
      }
      std::lock_guard<std::mutex> lock(mu_);
      state_.connected = true;
      state_.connects += 1;
      continue;
    }
    if (p->type == 2 || p->type == 5) {
      Json data = Json::parse(p->data, nullptr, false);
      if (data.is_array() && !data.empty() && data[0].is_string()) CountEvent(data[0].get<std::string>());
    }
  }
  ws.Close(Clock::now() + std::chrono::milliseconds(200));
  return {nullptr, ""};
}

void SocketIoCollector::AddListenFamilies(FamilyBuilder* fb) {
  std::lock_guard<std::mutex> lock(mu_);
  fb->Gauge("botwatch_socketio_listen_connected", "1 while the listen connection is connected to the namespace.",
            state_.connected ? 1 : 0);
  fb->Counter("botwatch_socketio_listen_connects_total", "Successful namespace connects of the listen connection.",
              state_.connects);
  fb->Counter("botwatch_socketio_listen_disconnects_total",
              "Times an established listen connection was lost (it then reconnects with backoff).", state_.disconnects);
  for (const auto& [why, n] : state_.failures) {
    fb->Counter("botwatch_socketio_listen_failures_total",
                "Listen sessions that ended or failed to connect, per reason.", n, {{"reason", why}});
  }
  for (const auto& [name, e] : state_.events) {
    fb->Counter("botwatch_socketio_events_total",
                "Socket.IO events received by the listen connection, per allow-listed name (others: \"other\").",
                e.count, {{"event", name}});
  }
  for (const auto& [name, e] : state_.events) {
    if (e.last_unix == 0) continue;
    fb->Gauge("botwatch_socketio_last_event_timestamp_seconds",
              "Unix time of the last event received per allow-listed name (absent until the first).", e.last_unix,
              {{"event", name}});
  }
}

std::vector<const Secret*> SocketIoCollector::Secrets() const {
  std::vector<const Secret*> secrets;
  for (const auto& [k, v] : config_.auth_values) secrets.push_back(&v);
  if (config_.auth) secrets.push_back(&*config_.auth);
  return secrets;
}

ProbeResponse SocketIoCollector::Poll(const std::string& sid, const std::optional<std::string>& body,
                                      Duration timeout) const {
  ProbeRequest req;
  req.method = body ? "POST" : "GET";
  req.url = config_.url + config_.path + "?EIO=4&transport=polling";
  if (!sid.empty()) req.url += "&sid=" + UrlEncode(sid);
  if (body) req.headers.emplace_back("Content-Type: text/plain;charset=UTF-8");
  req.body = body;
  req.ca_file = config_.ca_file;
  req.tls_verify = config_.tls_verify;
  req.max_body_bytes = 1 << 20;
  return PerformHttp(req, timeout);
}

// One probe over HTTP long-polling, step by step. Each step returns its
// failure as a value (with the families so far); nullopt means the probe goes on.
class SocketIoCollector::Probe {
 public:
  using Failure = std::optional<ProbeResult>;

  Probe(const SocketIoCollector& collector, const ProbeContext& ctx, FamilyBuilder& fb)
      : collector_(collector), config_(collector.config_), ctx_(ctx), fb_(fb) {}

  // 1. Engine.IO handshake: the session id, the upgrades offered and the
  // server's ping settings.
  Failure Handshake() {
    ProbeResponse open = collector_.Poll("", std::nullopt, ctx_.Remaining());
    if (!open.ok() || open.status != 200) return TransportError("handshake", open);
    fb_.Gauge("botwatch_socketio_handshake_seconds", "Duration of the Engine.IO handshake (the open packet's GET).",
              open.total_seconds);
    std::vector<std::string> packets = SplitPollingPayload(open.body);
    if (packets.empty() || packets[0][0] != '0') {
      return Down(reason::kProtocol, "handshake: expected an Engine.IO open packet, got \"" +
                                         QuotePeer(open.body, collector_.Secrets(), 80) + "\"");
    }
    Json handshake = Json::parse(packets[0].substr(1), nullptr, false);
    if (!handshake.is_object() || !handshake.contains("sid") || !handshake["sid"].is_string()) {
      return Down(reason::kProtocol, "handshake: open packet has no sid");
    }
    sid_ = handshake["sid"].get<std::string>();
    if (auto it = handshake.find("upgrades"); it != handshake.end() && it->is_array()) {
      upgrades_.emplace();
      for (const Json& u : *it) {
        if (u.is_string()) upgrades_->push_back(u.get<std::string>());
      }
    }
    for (const char* key : {"pingInterval", "pingTimeout"}) {
      if (handshake.contains(key) && handshake[key].is_number()) {
        fb_.Gauge(std::string("botwatch_socketio_") + (key[4] == 'I' ? "ping_interval" : "ping_timeout") + "_seconds",
                  key[4] == 'I' ? "The server's Engine.IO ping interval." : "The server's Engine.IO ping timeout.",
                  handshake[key].get<double>() / 1000.0);
      }
    }
    return std::nullopt;
  }

  // 2. Namespace CONNECT, and its answer among the next polls.
  Failure ConnectNamespace() {
    std::string connect = "40";
    if (config_.nsp != "/") connect += config_.nsp + ",";
    if (config_.auth) connect += config_.auth->reveal();
    auto sent_at = Clock::now();
    ProbeResponse post = collector_.Poll(sid_, connect, ctx_.Remaining());
    if (!post.ok() || post.status != 200) return TransportError("connect", post);
    for (int i = 0; i < kMaxPolls; ++i) {
      ProbeResponse poll = collector_.Poll(sid_, std::nullopt, ctx_.Remaining());
      if (!poll.ok() || poll.status != 200) return TransportError("connect", poll);
      for (const std::string& p : SplitPollingPayload(poll.body)) {
        if (p == "2") {  // the server's heartbeat: answer it so the session stays valid
          collector_.Poll(sid_, std::string("3"), ctx_.Remaining());
          continue;
        }
        if (p[0] == '1') return Down(reason::kProtocol, "connect: the server closed the session");
        std::optional<SocketIoPacket> packet = ParseSocketIoPacket(p);
        if (!packet || packet->nsp != config_.nsp) continue;
        if (packet->type == 0) {
          AddConnectFamilies(sent_at, true);
          return std::nullopt;
        }
        if (packet->type == 4) return ConnectRefused(sent_at, *packet);
      }
    }
    Close();
    return Down(reason::kProtocol,
                "connect: no answer to the namespace CONNECT after " + std::to_string(kMaxPolls) + " polls");
  }

  // The end of a probe whose polling part worked: the WebSocket upgrade, if
  // asked for (which closes the session over the WebSocket), else the close.
  ProbeResult Finish() {
    if (config_.websocket_upgrade) {
      if (auto failed = collector_.UpgradeAndClose(sid_, upgrades_, ctx_, &fb_)) {
        Close();  // the polling transport still holds the session
        return Down(failed->first, failed->second);
      }
    } else {
      Close();
    }
    ProbeResult r = ProbeResult::Up();
    r.families = fb_.Take();
    return r;
  }

 private:
  void AddConnectFamilies(Clock::time_point sent_at, bool accepted) {
    fb_.Gauge("botwatch_socketio_roundtrip_seconds",
              "Round trip of the namespace CONNECT: from sending it to the server's answer.", SecondsSince(sent_at));
    fb_.Gauge("botwatch_socketio_connected", "1 if the namespace CONNECT was accepted.", accepted ? 1 : 0);
  }

  // A CONNECT_ERROR packet: the server's middleware refused the CONNECT.
  ProbeResult ConnectRefused(Clock::time_point sent_at, const SocketIoPacket& packet) {
    AddConnectFamilies(sent_at, false);
    Json err = Json::parse(packet.data, nullptr, false);
    std::string why = err.is_object() && err.contains("message") && err["message"].is_string()
                          ? err["message"].get<std::string>()
                          : packet.data;
    Close();
    return Down(socketio_reason::kConnectError,
                "connect to " + config_.nsp + " refused: " + QuotePeer(why, collector_.Secrets()));
  }

  // Closing is best effort and bounded: a session left open times out on the
  // server after pingInterval + pingTimeout anyway.
  void Close() {
    Duration left = std::min<Duration>(ctx_.Remaining(), std::chrono::seconds(1));
    if (left.count() > 0) collector_.Poll(sid_, std::string("1"), left);
  }

  ProbeResult Down(const char* why, const std::string& message) {
    ProbeResult r = ProbeResult::Down(why, RedactSecrets(message, collector_.Secrets()));
    r.families = fb_.Take();
    return r;
  }

  ProbeResult TransportError(const char* step, const ProbeResponse& resp) {
    if (!resp.ok()) return Down(ReasonForCurlCode(resp.curl_code), std::string(step) + ": " + resp.curl_error);
    return Down(reason::kProtocol, std::string(step) + ": HTTP " + std::to_string(resp.status) + ": " +
                                       QuotePeer(resp.body, collector_.Secrets()));
  }

  const SocketIoCollector& collector_;
  const SocketIoConfig& config_;
  const ProbeContext& ctx_;
  FamilyBuilder& fb_;
  std::string sid_;
  std::optional<std::vector<std::string>> upgrades_;
};

ProbeResult SocketIoCollector::Collect(const ProbeContext& ctx) {
  FamilyBuilder fb;
  if (config_.listen) AddListenFamilies(&fb);
  Probe probe(*this, ctx, fb);
  if (auto failure = probe.Handshake()) return std::move(*failure);
  if (config_.connect) {
    if (auto failure = probe.ConnectNamespace()) return std::move(*failure);
  }
  return probe.Finish();
}

std::optional<std::pair<const char*, std::string>> SocketIoCollector::UpgradeAndClose(
    const std::string& sid, const std::optional<std::vector<std::string>>& upgrades, const ProbeContext& ctx,
    FamilyBuilder* fb) const {
  auto failed = [&](const char* why, const std::string& message) {
    fb->Gauge("botwatch_socketio_websocket_upgraded", "1 if the session was upgraded to a WebSocket.", 0);
    return std::make_optional(std::make_pair(why, "websocket: " + message));
  };
  auto client_error = [&](const char* step, const WebSocketError& e) {
    const char* why = ReasonOf(e);
    return failed(why, std::string(step) + ": " + QuotePeer(e.message, Secrets()));
  };
  if (upgrades && std::find(upgrades->begin(), upgrades->end(), "websocket") == upgrades->end()) {
    return failed(socketio_reason::kWebSocketRefused, "the open packet does not offer the websocket upgrade");
  }

  const SteadyTime deadline = ctx.deadline;
  auto start = Clock::now();
  WebSocketClient ws;
  std::string target = config_.ws_prefix + config_.path + "?EIO=4&transport=websocket&sid=" + UrlEncode(sid);
  WebSocketTls tls;
  tls.enabled = config_.ws_tls;
  tls.verify = config_.tls_verify;
  tls.ca_file = config_.ca_file;
  tls.server_name = config_.ws_host;
  if (auto e = ws.Connect(config_.ws_host, config_.ws_port, config_.ws_host_header, target, deadline, tls)) {
    return client_error("handshake", *e);
  }
  auto probe_sent = Clock::now();
  if (auto e = ws.SendText("2probe", deadline)) return client_error("probe", *e);
  std::string answer;
  do {  // skip noops
    if (auto e = ws.Receive(&answer, deadline)) return client_error("probe", *e);
  } while (answer == "6");
  if (answer != "3probe") {
    return failed(socketio_reason::kWebSocketHandshake,
                  "probe: expected 3probe, got \"" + QuotePeer(answer, Secrets(), 80) + "\"");
  }
  double roundtrip = SecondsSince(probe_sent);
  if (auto e = ws.SendText("5", deadline)) return client_error("upgrade", *e);
  double upgrade = SecondsSince(start);
  fb->Gauge("botwatch_socketio_websocket_upgraded", "1 if the session was upgraded to a WebSocket.", 1);
  fb->Gauge("botwatch_socketio_websocket_upgrade_seconds",
            "Duration of the WebSocket upgrade: TCP connect, RFC 6455 handshake, 2probe/3probe, upgrade packet.",
            upgrade);
  fb->Gauge("botwatch_socketio_websocket_roundtrip_seconds",
            "Round trip of the Engine.IO probe ping over the WebSocket (2probe to 3probe).", roundtrip);

  // Best-effort close of the upgraded session, bounded like the polling close.
  SteadyTime close_by = std::min<SteadyTime>(deadline, Clock::now() + std::chrono::seconds(1));
  if (!ws.SendText("1", close_by)) ws.Close(close_by);
  return std::nullopt;
}

}  // namespace botwatch
