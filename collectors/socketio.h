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
// With `websocket_upgrade: true` (http:// urls only), the session is then
// upgraded the way Socket.IO clients do it, and closed over the WebSocket:
//   GET {path}?EIO=4&transport=websocket&sid=SID  (RFC 6455 handshake)  -> 101
//   -> "2probe"   <- "3probe"   -> "5" (upgrade)   -> "1" (close), close frame
// The upgrade time runs from the TCP connect to the "5"; the WebSocket round
// trip is the 2probe/3probe exchange (the only client-initiated ping Engine.IO
// v4 answers). The client lives in collectors/lib/websocket_client.h.

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/secret.h"
#include "collectors/collector.h"
#include "collectors/lib/http_request.h"

namespace botwatch {

class ConfigMap;

struct SocketIoConfig {
  std::string url;              // scheme://host:port
  std::string path = "/socket.io/";
  std::string nsp = "/";        // namespace
  bool connect = true;          // send the namespace CONNECT
  std::optional<Secret> auth;   // the auth payload as JSON; values may be credentials
  std::map<std::string, Secret> auth_values;
  std::string ca_file;
  bool websocket_upgrade = false;
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
  int type = -1;          // 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR, ...
  std::string nsp = "/";
  std::string data;       // the JSON after the namespace (and ack id)
};

// Splits a polling payload into Engine.IO packets (separated by 0x1E).
std::vector<std::string> SplitPollingPayload(const std::string& payload);
// Parses the Socket.IO packet inside an Engine.IO message; nullopt if malformed.
std::optional<SocketIoPacket> ParseSocketIoPacket(const std::string& engine_packet);

class SocketIoCollector : public Collector {
 public:
  static std::unique_ptr<Collector> Create(const CollectorSpec& spec, ConfigMap& config);

  explicit SocketIoCollector(SocketIoConfig config);
  ProbeResult Collect(const ProbeContext& ctx) override;

 private:
  ProbeResponse Poll(const std::string& sid, const std::optional<std::string>& body, Duration timeout) const;
  std::vector<const Secret*> Secrets() const;  // redacted from every message
  // The WebSocket upgrade of session `sid` and its close; adds its families to
  // *fb. nullopt when it worked, else the down result's reason and message.
  std::optional<std::pair<const char*, std::string>> UpgradeAndClose(const std::string& sid,
                                                                     const std::optional<std::vector<std::string>>& upgrades,
                                                                     const ProbeContext& ctx,
                                                                     FamilyBuilder* fb) const;

  SocketIoConfig config_;
};

}  // namespace botwatch
