#pragma once

// `type: socketio`: a Socket.IO 4 server (the bot's admin backend), spoken to
// as a client over Engine.IO v4 HTTP long-polling, so no WebSocket library is
// needed:
//   GET  {url}{path}?EIO=4&transport=polling        -> 0{"sid",...,"pingInterval","pingTimeout"}
//   POST ...&sid=SID   40[/nsp,]{auth}              -> "ok"
//   GET  ...&sid=SID                                 -> 40[/nsp,]{"sid":...} or 44[/nsp,]{"message":...}
//   POST ...&sid=SID   1                             (close)
// The handshake time is the first GET. The round trip is the namespace CONNECT
// exchange (POST to its answer): every Socket.IO 4 server answers it, through
// its auth middleware, with no application handler needed. (A client ping is
// not an option: in Engine.IO v4 only the server pings.)
//
// With `websocket_upgrade: true`, the session is then
// upgraded the way Socket.IO clients do it, and closed over the WebSocket:
//   GET {path}?EIO=4&transport=websocket&sid=SID  (RFC 6455 handshake)  -> 101
//   -> "2probe"   <- "3probe"   -> "5" (upgrade)   -> "1" (close), close frame
// The upgrade time runs from the TCP connect to the "5"; the WebSocket round
// trip is the 2probe/3probe exchange (the only client-initiated ping Engine.IO
// v4 answers). The client lives in collectors/lib/websocket_client.h. An
// https:// url upgrades over wss:// (TLS verified like the polling requests:
// `ca_file`, `insecure_skip_verify`).
//
// With `listen:`, the collector also keeps one authenticated Socket.IO
// connection open on a thread of its own (WebSocket transport from the start:
// GET {path}?EIO=4&transport=websocket, then 40[/nsp,]{auth}, then the
// configured join emits) and counts the events the server pushes, per name
// from the allow-list; every other name counts under event="other", so the
// label stays bounded. It answers the server's pings, treats silence past
// pingInterval + pingTimeout as a disconnect, and reconnects with exponential
// backoff. A probe never waits on it: Collect copies a snapshot under a mutex.

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/secret.h"
#include "collectors/collector.h"
#include "collectors/lib/http_request.h"

namespace botwatch {

class ConfigMap;

struct SocketIoConfig {
  std::string url;  // scheme://host:port
  std::string path = "/socket.io/";
  std::string nsp = "/";       // namespace
  bool connect = true;         // send the namespace CONNECT
  std::optional<Secret> auth;  // the auth payload as JSON; values may be credentials
  std::map<std::string, Secret> auth_values;
  std::string ca_file;
  bool tls_verify = true;
  bool websocket_upgrade = false;
  bool ws_tls = false;  // wss:// (an https:// url)
  struct Listen {
    std::vector<std::string> events;  // the allow-list: label values
    std::string join_event;           // emitted once per room after each connect
    std::vector<std::string> rooms;
    Duration backoff_min = std::chrono::milliseconds(500);
    Duration backoff_max = std::chrono::seconds(30);
    Duration connect_timeout = std::chrono::seconds(5);
  };
  std::optional<Listen> listen;
  // From `url`, for the WebSocket connection: host and port to connect to, the
  // Host header, and the path prefix before `path` ("" for a bare origin).
  std::string ws_host, ws_port, ws_host_header, ws_prefix;
};

namespace socketio_reason {
inline constexpr const char* kConnectError = "connect_error";
// The server answered the WebSocket upgrade request with a status other than
// 101 (e.g. `transports: ['polling']`, or a proxy without Upgrade support), or
// does not list "websocket" in the open packet's upgrades.
inline constexpr const char* kWebSocketRefused = "websocket_refused";
// A 101 without a valid Sec-WebSocket-Accept, an invalid frame, or no 3probe
// answer to the probe.
inline constexpr const char* kWebSocketHandshake = "websocket_handshake";
}  // namespace socketio_reason

// One Socket.IO packet carried in an Engine.IO message packet ("4...").
struct SocketIoPacket {
  int type = -1;  // 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR, ...
  std::string nsp = "/";
  std::string data;  // the JSON after the namespace (and ack id)
};

// Splits a polling payload into Engine.IO packets (separated by 0x1E).
std::vector<std::string> SplitPollingPayload(const std::string& payload);
// Parses the Socket.IO packet inside an Engine.IO message; nullopt if malformed.
std::optional<SocketIoPacket> ParseSocketIoPacket(const std::string& engine_packet);

class SocketIoCollector : public Collector {
 public:
  static std::unique_ptr<Collector> Create(const CollectorSpec& spec, ConfigMap& config);

  explicit SocketIoCollector(SocketIoConfig config);
  ~SocketIoCollector() override;
  ProbeResult Collect(const ProbeContext& ctx) override;

 private:
  class Probe;  // one Collect, step by step (socketio.cc)

  // The listen thread: sessions until stop_, with backoff between them.
  void ListenLoop();
  // One session: returns when it ends; the reason (a bounded label value) and
  // an unredacted message, or {nullptr,...} when stopped.
  std::pair<const char*, std::string> ListenSession();
  void CountEvent(const std::string& name);
  void AddListenFamilies(FamilyBuilder* fb);

  ProbeResponse Poll(const std::string& sid, const std::optional<std::string>& body, Duration timeout) const;
  std::vector<const Secret*> Secrets() const;  // redacted from every message
  // The WebSocket upgrade of session `sid` and its close; adds its families to
  // *fb. nullopt when it worked, else the down result's reason and message.
  std::optional<std::pair<const char*, std::string>> UpgradeAndClose(
      const std::string& sid, const std::optional<std::vector<std::string>>& upgrades, const ProbeContext& ctx,
      FamilyBuilder* fb) const;

  SocketIoConfig config_;

  struct ListenState {
    bool connected = false;
    double connects = 0, disconnects = 0;
    std::map<std::string, double> failures;  // reason -> count
    struct Event {
      double count = 0;
      double last_unix = 0;  // 0: none yet
    };
    std::map<std::string, Event> events;  // the allow-list and "other"
  };
  std::mutex mu_;  // guards state_ and stop_ (with cv_)
  ListenState state_;
  bool stop_ = false;
  std::condition_variable cv_;
  std::atomic<bool> stopping_{false};
  std::thread listener_;
};

}  // namespace botwatch
