#pragma once

// A minimal RFC 6455 WebSocket client over plain TCP, for probes: connect,
// opening handshake, text messages, close. Every call is bounded by a
// deadline (non-blocking socket + poll), so it never blocks past it; the one
// exception is name resolution (getaddrinfo has no timeout: use an IP address
// or an /etc/hosts name for targets that must fail fast). TLS (wss://) through
// OpenSSL, verifying the peer against the system store or a CA file by
// default. No extensions, no subprotocols. Nothing here logs; error messages name at most
// host and port and quote the peer's answer (the caller redacts it).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/base64.h"  // Base64Encode (the handshake and its tests use it)
#include "collectors/collector.h"

namespace botwatch {

// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key:
// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
std::string WebSocketAccept(std::string_view key);

namespace ws_opcode {
inline constexpr uint8_t kContinuation = 0x0;
inline constexpr uint8_t kText = 0x1;
inline constexpr uint8_t kBinary = 0x2;
inline constexpr uint8_t kClose = 0x8;
inline constexpr uint8_t kPing = 0x9;
inline constexpr uint8_t kPong = 0xA;
}  // namespace ws_opcode

struct WebSocketFrame {
  bool fin = true;
  uint8_t opcode = ws_opcode::kText;
  std::string payload;  // unmasked
};

// One frame with FIN set; masked with `mask` when given (a client must mask
// every frame it sends), unmasked otherwise.
std::string EncodeWebSocketFrame(uint8_t opcode, std::string_view payload,
                                 const std::optional<std::array<uint8_t, 4>>& mask);

enum class FrameDecode { kOk, kIncomplete, kInvalid };

// Decodes the frame at the start of `buffer` as received by a client. kOk sets
// *frame and *consumed; kIncomplete means more bytes are needed; kInvalid (with
// *error) for frames a client must reject: reserved bits set (no extension is
// negotiated), a masked frame from the server, an unknown opcode, a control
// frame that is fragmented or longer than 125 bytes, or a payload over
// `max_payload`.
FrameDecode DecodeWebSocketFrame(std::string_view buffer, size_t max_payload, WebSocketFrame* frame, size_t* consumed,
                                 std::string* error);

struct WebSocketError {
  enum class Kind {
    kDns,             // the host does not resolve
    kRefused,         // TCP connection refused
    kTimeout,         // the deadline passed
    kIo,              // other socket errors, or the peer closed the connection
    kUpgradeRefused,  // the server answered the upgrade request with a status other than 101
    kHandshake,       // a 101 without the right Upgrade/Connection/Sec-WebSocket-Accept headers
    kProtocol,        // an invalid frame, or a close frame from the server
    kTls,             // the TLS handshake failed (certificate not verified, ...)
  };
  Kind kind;
  // May quote the server (its status line, up to 512 bytes of a refusal's
  // body) whole: the caller knows the secrets, so it redacts and then cuts.
  std::string message;
};

// TLS for wss://. `server_name` is sent as SNI and checked against the
// certificate (host name or IP address).
struct WebSocketTls {
  bool enabled = false;
  bool verify = true;
  std::string ca_file;  // empty: the system's default CA store
  std::string server_name;
};

class WebSocketClient {
 public:
  WebSocketClient() = default;
  ~WebSocketClient();
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  // Connects to host:port and performs the opening handshake for `target`
  // (path and query). `host_header` is the Host header value.
  std::optional<WebSocketError> Connect(const std::string& host, const std::string& port,
                                        const std::string& host_header, const std::string& target, SteadyTime deadline,
                                        const WebSocketTls& tls = {});
  // Sends one masked text frame.
  std::optional<WebSocketError> SendText(std::string_view text, SteadyTime deadline);
  // Receives the next text or binary message (reassembling fragments),
  // answering pings on the way. A timeout keeps what arrived of a fragmented
  // message, so a caller may poll with short deadlines.
  std::optional<WebSocketError> Receive(std::string* message, SteadyTime deadline);
  // Sends a close frame (1000, best effort, bounded by the deadline) and closes
  // the socket without waiting for the server's close frame.
  void Close(SteadyTime deadline);

  static constexpr size_t kMaxMessageBytes = 1 << 20;

 private:
  std::optional<WebSocketError> SendFrame(uint8_t opcode, std::string_view payload, SteadyTime deadline);
  std::optional<WebSocketError> WriteAll(std::string_view data, SteadyTime deadline);
  // Appends what arrives to in_; an error on EOF or at the deadline.
  std::optional<WebSocketError> ReadMore(SteadyTime deadline);

  // The steps of Connect().
  std::optional<WebSocketError> ConnectSocket(const std::string& host, const std::string& port, SteadyTime deadline);
  std::optional<WebSocketError> StartTls(const WebSocketTls& tls, SteadyTime deadline);
  std::optional<WebSocketError> ReadResponseHead(std::string* head, SteadyTime deadline);
  WebSocketError UpgradeRefused(long status, size_t content_length, SteadyTime deadline);
  void Shutdown();

  int fd_ = -1;
  void* ssl_ctx_ = nullptr;  // SSL_CTX*, owned
  void* ssl_ = nullptr;      // SSL*, owned
  std::string in_;           // received, not yet decoded
  std::string partial_;      // fragments of the message being received
  bool in_message_ = false;
};

}  // namespace botwatch
