#include "collectors/lib/websocket_client.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string_view>

#include "base/ascii.h"
#include "base/lazy_openssl.h"
#include "base/openssl_error.h"
#include "collectors/lib/tcp_connect.h"

namespace botwatch {
namespace {

constexpr char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// The server's HTTP answer to the upgrade request (status line and headers).
constexpr size_t kMaxResponseHeadBytes = 16 * 1024;

using Kind = WebSocketError::Kind;

WebSocketError Error(Kind kind, std::string message) { return WebSocketError{kind, std::move(message)}; }

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

bool RandomBytes(unsigned char* out, int n) { return RAND_bytes(out, n) == 1; }

}  // namespace

std::string WebSocketAccept(std::string_view key) {
  std::string input(key);
  input += kGuid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string EncodeWebSocketFrame(uint8_t opcode, std::string_view payload,
                                 const std::optional<std::array<uint8_t, 4>>& mask) {
  std::string out;
  out.reserve(payload.size() + 14);
  out += static_cast<char>(0x80 | (opcode & 0x0F));
  const uint8_t mask_bit = mask ? 0x80 : 0;
  uint64_t n = payload.size();
  if (n <= 125) {
    out += static_cast<char>(mask_bit | n);
  } else if (n <= 0xFFFF) {
    out += static_cast<char>(mask_bit | 126);
    out += static_cast<char>(n >> 8 & 0xFF);
    out += static_cast<char>(n & 0xFF);
  } else {
    out += static_cast<char>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>(n >> shift & 0xFF);
  }
  if (!mask) {
    out.append(payload);
    return out;
  }
  for (uint8_t b : *mask) out += static_cast<char>(b);
  for (size_t i = 0; i < payload.size(); ++i) {
    out += static_cast<char>(static_cast<unsigned char>(payload[i]) ^ (*mask)[i % 4]);
  }
  return out;
}

FrameDecode DecodeWebSocketFrame(std::string_view buffer, size_t max_payload, WebSocketFrame* frame, size_t* consumed,
                                 std::string* error) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(buffer[i]); };
  if (buffer.size() < 2) return FrameDecode::kIncomplete;
  const uint8_t b0 = byte(0), b1 = byte(1);
  if (b0 & 0x70) {
    *error = "frame with reserved bits set";
    return FrameDecode::kInvalid;
  }
  const uint8_t opcode = b0 & 0x0F;
  const bool fin = (b0 & 0x80) != 0;
  const bool control = (opcode & 0x08) != 0;
  if (opcode > ws_opcode::kBinary && !control) {
    *error = "frame with reserved opcode " + std::to_string(opcode);
    return FrameDecode::kInvalid;
  }
  if (control && opcode > ws_opcode::kPong) {
    *error = "frame with reserved opcode " + std::to_string(opcode);
    return FrameDecode::kInvalid;
  }
  if (b1 & 0x80) {
    *error = "masked frame from the server";
    return FrameDecode::kInvalid;
  }
  uint64_t length = b1 & 0x7F;
  size_t pos = 2;
  if (length == 126) {
    if (buffer.size() < 4) return FrameDecode::kIncomplete;
    length = static_cast<uint64_t>(byte(2)) << 8 | byte(3);
    pos = 4;
  } else if (length == 127) {
    if (buffer.size() < 10) return FrameDecode::kIncomplete;
    length = 0;
    for (size_t i = 2; i < 10; ++i) length = length << 8 | byte(i);
    pos = 10;
    if (length >> 63) {
      *error = "frame length with the most significant bit set";
      return FrameDecode::kInvalid;
    }
  }
  if (control && (!fin || length > 125)) {
    *error = "fragmented or oversized control frame";
    return FrameDecode::kInvalid;
  }
  if (length > max_payload) {
    *error = "frame of " + std::to_string(length) + " bytes exceeds the limit of " + std::to_string(max_payload);
    return FrameDecode::kInvalid;
  }
  if (buffer.size() - pos < length) return FrameDecode::kIncomplete;
  frame->fin = fin;
  frame->opcode = opcode;
  frame->payload.assign(buffer.substr(pos, static_cast<size_t>(length)));
  *consumed = pos + static_cast<size_t>(length);
  return FrameDecode::kOk;
}

WebSocketClient::~WebSocketClient() { Shutdown(); }

void WebSocketClient::Shutdown() {
  if (ssl_) SSL_free(static_cast<SSL*>(ssl_));
  if (ssl_ctx_) SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
  ssl_ = nullptr;
  ssl_ctx_ = nullptr;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

namespace {

std::string TlsErrorText() { return TakeOpenSslError("unknown error"); }

}  // namespace

std::optional<WebSocketError> WebSocketClient::StartTls(const WebSocketTls& tls, SteadyTime deadline) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    const std::string missing = OpenSslMissing();
    return Error(Kind::kTls, missing.empty() ? "SSL_CTX_new: " + TlsErrorText() : missing);
  }
  ssl_ctx_ = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (tls.verify) {
    int loaded = tls.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                                     : SSL_CTX_load_verify_locations(ctx, tls.ca_file.c_str(), nullptr);
    if (loaded != 1)
      return Error(Kind::kTls, "cannot load CA certificates from " + tls.ca_file + ": " + TlsErrorText());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  SSL* ssl = SSL_new(ctx);
  if (!ssl) return Error(Kind::kTls, "SSL_new: " + TlsErrorText());
  ssl_ = ssl;
  SSL_set_fd(ssl, fd_);
  unsigned char ip[16];
  bool is_ip =
      inet_pton(AF_INET, tls.server_name.c_str(), ip) == 1 || inet_pton(AF_INET6, tls.server_name.c_str(), ip) == 1;
  if (!is_ip) SSL_set_tlsext_host_name(ssl, tls.server_name.c_str());
  if (tls.verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, tls.server_name.c_str())
                   : X509_VERIFY_PARAM_set1_host(param, tls.server_name.c_str(), 0);
    if (ok != 1) return Error(Kind::kTls, "cannot set the name to verify: " + TlsErrorText());
  }
  while (true) {
    int r = SSL_connect(ssl);
    if (r == 1) return std::nullopt;
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (!WaitForSocket(fd_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        return Error(Kind::kTimeout, "TLS handshake timed out");
      }
      continue;
    }
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      ERR_clear_error();
      return Error(Kind::kTls, std::string("TLS certificate verify failed: ") + X509_verify_cert_error_string(verify));
    }
    return Error(Kind::kTls, "TLS handshake failed: " + TlsErrorText());
  }
}

namespace {

// The server's answer to the upgrade request, as far as the handshake needs it.
struct UpgradeResponseHead {
  std::string status_line;
  long status = 0;  // 0: not an HTTP response
  std::string upgrade;
  std::string connection;  // every Connection value, lower case, each followed by ','
  std::string accept;
  size_t content_length = 0;
};

UpgradeResponseHead ParseUpgradeResponseHead(const std::string& head) {
  UpgradeResponseHead h;
  // Status line: "HTTP/1.1 101 Switching Protocols".
  size_t line_end = head.find("\r\n");
  h.status_line = head.substr(0, line_end);
  if (h.status_line.rfind("HTTP/1.", 0) == 0 && h.status_line.size() >= 12) {
    h.status = std::strtol(h.status_line.c_str() + 9, nullptr, 10);
  }
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) end = head.size();
    std::string_view line(head.data() + pos, end - pos);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name = AsciiLower(std::string(line.substr(0, colon)));
      std::string value = Trim(line.substr(colon + 1));
      if (name == "upgrade") h.upgrade = AsciiLower(value);
      if (name == "connection") h.connection += AsciiLower(value) + ",";  // repeated headers form one list
      if (name == "sec-websocket-accept") h.accept = value;
      if (name == "content-length") h.content_length = std::strtoul(value.c_str(), nullptr, 10);
    }
    pos = end + 2;
  }
  return h;
}

}  // namespace

std::optional<WebSocketError> WebSocketClient::Connect(const std::string& host, const std::string& port,
                                                       const std::string& host_header, const std::string& target,
                                                       SteadyTime deadline, const WebSocketTls& tls) {
  Shutdown();
  in_.clear();
  partial_.clear();
  in_message_ = false;
  if (auto err = ConnectSocket(host, port, deadline)) return err;
  if (tls.enabled) {
    if (auto err = StartTls(tls, deadline)) return err;
  }

  unsigned char nonce[16];
  if (!RandomBytes(nonce, sizeof nonce)) return Error(Kind::kIo, "no random bytes for Sec-WebSocket-Key");
  const std::string key = Base64Encode(std::string_view(reinterpret_cast<const char*>(nonce), sizeof nonce));
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: " + host_header +
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                        "\r\nSec-WebSocket-Version: 13\r\nUser-Agent: botwatch\r\n\r\n";
  if (auto err = WriteAll(request, deadline)) return err;

  std::string head;
  if (auto err = ReadResponseHead(&head, deadline)) return err;
  UpgradeResponseHead h = ParseUpgradeResponseHead(head);
  if (h.status == 0) return Error(Kind::kHandshake, "not an HTTP response: \"" + h.status_line + "\"");
  if (h.status != 101) return UpgradeRefused(h.status, h.content_length, deadline);
  if (h.upgrade != "websocket" || h.connection.find("upgrade") == std::string::npos) {
    return Error(Kind::kHandshake, "101 without Upgrade: websocket and Connection: Upgrade");
  }
  if (h.accept != WebSocketAccept(key)) {
    return Error(Kind::kHandshake, "Sec-WebSocket-Accept does not match the key");
  }
  return std::nullopt;
}

std::optional<WebSocketError> WebSocketClient::ConnectSocket(const std::string& host, const std::string& port,
                                                             SteadyTime deadline) {
  TcpConnection conn = ConnectTcp(host, port, deadline);
  if (conn.fd < 0) {
    // By content: each translation unit may hold its own copy of a reason's
    // literal (ASan builds do not merge them), so the pointers can differ.
    const std::string_view why = conn.reason != nullptr ? conn.reason : "";
    Kind kind = why == reason::kDns                 ? Kind::kDns
                : why == reason::kTimeout           ? Kind::kTimeout
                : why == reason::kConnectionRefused ? Kind::kRefused
                                                    : Kind::kIo;
    return Error(kind, conn.message);
  }
  fd_ = conn.fd;
  return std::nullopt;
}

// The status line and headers, taken out of in_ (what follows stays there).
std::optional<WebSocketError> WebSocketClient::ReadResponseHead(std::string* head, SteadyTime deadline) {
  size_t head_end;
  while ((head_end = in_.find("\r\n\r\n")) == std::string::npos) {
    if (in_.size() > kMaxResponseHeadBytes) return Error(Kind::kHandshake, "upgrade response headers too long");
    if (auto err = ReadMore(deadline)) return err;
  }
  *head = in_.substr(0, head_end);
  in_.erase(0, head_end + 4);
  return std::nullopt;
}

// Quotes the body (the reason, e.g. engine.io's {"code":0,"message":"Transport unknown"})
// when it arrives before the deadline; never waits for more than a short answer.
WebSocketError WebSocketClient::UpgradeRefused(long status, size_t content_length, SteadyTime deadline) {
  content_length = std::min<size_t>(content_length, 512);
  while (in_.size() < content_length && !ReadMore(deadline)) {
  }
  std::string body = in_.substr(0, std::min<size_t>(in_.size(), 512));
  std::string message = "HTTP " + std::to_string(status);
  if (!body.empty()) message += ": " + body;
  return Error(Kind::kUpgradeRefused, message);
}

std::optional<WebSocketError> WebSocketClient::WriteAll(std::string_view data, SteadyTime deadline) {
  size_t sent = 0;
  while (sent < data.size()) {
    if (ssl_) {
      ERR_clear_error();
      int n = SSL_write(static_cast<SSL*>(ssl_), data.data() + sent, static_cast<int>(data.size() - sent));
      if (n > 0) {
        sent += static_cast<size_t>(n);
        continue;
      }
      int e = SSL_get_error(static_cast<SSL*>(ssl_), n);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return Error(Kind::kIo, "TLS send: " + TlsErrorText());
      if (!WaitForSocket(fd_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        return Error(Kind::kTimeout, "send timed out");
      }
      continue;
    }
    if (!WaitForSocket(fd_, POLLOUT, deadline)) return Error(Kind::kTimeout, "send timed out");
    ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Error(errno == ECONNREFUSED ? Kind::kRefused : Kind::kIo, std::string("send: ") + std::strerror(errno));
    }
    sent += static_cast<size_t>(n);
  }
  return std::nullopt;
}

std::optional<WebSocketError> WebSocketClient::ReadMore(SteadyTime deadline) {
  char buf[4096];
  while (ssl_) {
    SSL* ssl = static_cast<SSL*>(ssl_);
    ERR_clear_error();
    int n = SSL_read(ssl, buf, sizeof buf);
    if (n > 0) {
      in_.append(buf, static_cast<size_t>(n));
      return std::nullopt;
    }
    int e = SSL_get_error(ssl, n);
    if (e == SSL_ERROR_ZERO_RETURN) return Error(Kind::kIo, "the server closed the connection");
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return Error(Kind::kIo, "the server closed the connection");
      return Error(Kind::kIo, "TLS receive: " + TlsErrorText());
    }
    // Decrypted bytes already buffered are read first (poll would not see them).
    if (SSL_pending(ssl) > 0) continue;
    if (!WaitForSocket(fd_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
      return Error(Kind::kTimeout, "no answer before the deadline");
    }
  }
  while (true) {
    if (!WaitForSocket(fd_, POLLIN, deadline)) return Error(Kind::kTimeout, "no answer before the deadline");
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      in_.append(buf, static_cast<size_t>(n));
      return std::nullopt;
    }
    if (n == 0) return Error(Kind::kIo, "the server closed the connection");
    if (errno == EAGAIN || errno == EINTR) continue;
    return Error(Kind::kIo, std::string("receive: ") + std::strerror(errno));
  }
}

std::optional<WebSocketError> WebSocketClient::SendFrame(uint8_t opcode, std::string_view payload,
                                                         SteadyTime deadline) {
  std::array<uint8_t, 4> mask;
  if (!RandomBytes(mask.data(), static_cast<int>(mask.size()))) return Error(Kind::kIo, "no random bytes for a mask");
  return WriteAll(EncodeWebSocketFrame(opcode, payload, mask), deadline);
}

std::optional<WebSocketError> WebSocketClient::SendText(std::string_view text, SteadyTime deadline) {
  if (fd_ < 0) return Error(Kind::kIo, "not connected");
  return SendFrame(ws_opcode::kText, text, deadline);
}

std::optional<WebSocketError> WebSocketClient::Receive(std::string* message, SteadyTime deadline) {
  if (fd_ < 0) return Error(Kind::kIo, "not connected");
  message->clear();
  while (true) {
    WebSocketFrame frame;
    size_t consumed = 0;
    std::string error;
    FrameDecode d = DecodeWebSocketFrame(in_, kMaxMessageBytes, &frame, &consumed, &error);
    if (d == FrameDecode::kInvalid) return Error(Kind::kProtocol, error);
    if (d == FrameDecode::kIncomplete) {
      if (auto err = ReadMore(deadline)) return err;
      continue;
    }
    in_.erase(0, consumed);
    switch (frame.opcode) {
      case ws_opcode::kPing:
        if (auto err = SendFrame(ws_opcode::kPong, frame.payload, deadline)) return err;
        continue;
      case ws_opcode::kPong:
        continue;
      case ws_opcode::kClose: {
        std::string code =
            frame.payload.size() >= 2
                ? std::to_string(static_cast<uint8_t>(frame.payload[0]) << 8 | static_cast<uint8_t>(frame.payload[1]))
                : "none";
        return Error(Kind::kProtocol, "the server closed the WebSocket (code " + code + ")");
      }
      case ws_opcode::kContinuation:
        if (!in_message_) return Error(Kind::kProtocol, "continuation frame without a message");
        break;
      default:  // text or binary
        if (in_message_) return Error(Kind::kProtocol, "new message inside a fragmented one");
        in_message_ = true;
    }
    if (partial_.size() + frame.payload.size() > kMaxMessageBytes) {
      return Error(Kind::kProtocol, "message exceeds " + std::to_string(kMaxMessageBytes) + " bytes");
    }
    partial_.append(frame.payload);
    if (frame.fin) {
      *message = std::move(partial_);
      partial_.clear();
      in_message_ = false;
      return std::nullopt;
    }
  }
}

void WebSocketClient::Close(SteadyTime deadline) {
  if (fd_ < 0) return;
  const char code[2] = {static_cast<char>(1000 >> 8), static_cast<char>(1000 & 0xFF)};
  SendFrame(ws_opcode::kClose, std::string_view(code, 2), deadline);
  Shutdown();
}

}  // namespace botwatch
