// The pure parts of the WebSocket client (collectors/lib/websocket_client.h): the
// handshake's accept value and frame encoding/decoding, on RFC test vectors.

#include <catch2/catch.hpp>

#include "collectors/lib/websocket_client.h"

using namespace botwatch;

namespace {

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s += static_cast<char>(b);
  return s;
}

FrameDecode Decode(const std::string& buffer, WebSocketFrame* frame, size_t* consumed, std::string* error,
                   size_t max_payload = 1 << 20) {
  return DecodeWebSocketFrame(buffer, max_payload, frame, consumed, error);
}

}  // namespace

TEST_CASE("Sec-WebSocket-Accept is base64(SHA-1(key + GUID))") {
  // RFC 6455, section 1.3; also what
  //   printf %s 'dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11' | openssl sha1 -binary | base64
  // prints.
  CHECK(WebSocketAccept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("Base64Encode pads like RFC 4648") {
  // RFC 4648, section 10.
  CHECK(Base64Encode("") == "");
  CHECK(Base64Encode("f") == "Zg==");
  CHECK(Base64Encode("fo") == "Zm8=");
  CHECK(Base64Encode("foo") == "Zm9v");
  CHECK(Base64Encode("foob") == "Zm9vYg==");
  CHECK(Base64Encode("fooba") == "Zm9vYmE=");
  CHECK(Base64Encode("foobar") == "Zm9vYmFy");
  CHECK(Base64Encode(Bytes({0xff, 0xfe, 0x00})) == "//4A");
}

TEST_CASE("WebSocket frames encode as in RFC 6455 section 5.7") {
  CHECK(EncodeWebSocketFrame(ws_opcode::kText, "Hello", std::nullopt) ==
        Bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  CHECK(EncodeWebSocketFrame(ws_opcode::kText, "Hello", std::array<uint8_t, 4>{0x37, 0xfa, 0x21, 0x3d}) ==
        Bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
  std::string frame256 = EncodeWebSocketFrame(ws_opcode::kBinary, std::string(256, 'x'), std::nullopt);
  CHECK(frame256.substr(0, 4) == Bytes({0x82, 0x7e, 0x01, 0x00}));
  CHECK(frame256.size() == 4 + 256);
  std::string frame64k = EncodeWebSocketFrame(ws_opcode::kBinary, std::string(65536, 'x'), std::nullopt);
  CHECK(frame64k.substr(0, 10) == Bytes({0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}));
  CHECK(frame64k.size() == 10 + 65536);
  // Masked: the same lengths, then the mask, then the masked payload.
  std::string masked =
      EncodeWebSocketFrame(ws_opcode::kText, std::string(200, 'a'), std::array<uint8_t, 4>{1, 2, 3, 4});
  CHECK(masked.substr(0, 8) == Bytes({0x81, 0xfe, 0x00, 0xc8, 1, 2, 3, 4}));
  CHECK(masked[8] == ('a' ^ 1));
  CHECK(masked[9] == ('a' ^ 2));
  CHECK(masked.size() == 8 + 200);
}

TEST_CASE("WebSocket frames decode, and every prefix is incomplete") {
  WebSocketFrame frame;
  size_t consumed = 0;
  std::string error;
  for (size_t size : {0, 5, 125, 126, 65535, 65536, 70000}) {
    INFO(size);
    std::string payload(size, 'p');
    std::string encoded = EncodeWebSocketFrame(ws_opcode::kBinary, payload, std::nullopt) + "next";
    REQUIRE(Decode(encoded, &frame, &consumed, &error) == FrameDecode::kOk);
    CHECK(frame.fin);
    CHECK(frame.opcode == ws_opcode::kBinary);
    CHECK(frame.payload == payload);
    CHECK(consumed == encoded.size() - 4);
    for (size_t cut : {size_t{0}, size_t{1}, consumed / 2, consumed - 1}) {
      if (cut >= consumed) continue;
      CHECK(Decode(encoded.substr(0, cut), &frame, &consumed, &error) == FrameDecode::kIncomplete);
    }
  }
  // A first fragment of "Hel" (RFC 6455 5.7), a ping and a close with code 1000.
  REQUIRE(Decode(Bytes({0x01, 0x03, 0x48, 0x65, 0x6c}), &frame, &consumed, &error) == FrameDecode::kOk);
  CHECK_FALSE(frame.fin);
  CHECK(frame.payload == "Hel");
  REQUIRE(Decode(Bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}), &frame, &consumed, &error) == FrameDecode::kOk);
  CHECK(frame.opcode == ws_opcode::kPing);
  REQUIRE(Decode(Bytes({0x88, 0x02, 0x03, 0xe8}), &frame, &consumed, &error) == FrameDecode::kOk);
  CHECK(frame.opcode == ws_opcode::kClose);
  CHECK(frame.payload == Bytes({0x03, 0xe8}));
}

TEST_CASE("WebSocket frames a client must reject are invalid") {
  WebSocketFrame frame;
  size_t consumed = 0;
  std::string error;
  auto invalid = [&](const std::string& buffer, size_t max_payload = 1 << 20) {
    error.clear();
    bool is_invalid = Decode(buffer, &frame, &consumed, &error, max_payload) == FrameDecode::kInvalid;
    return is_invalid && !error.empty();
  };
  // Masked by the server.
  CHECK(invalid(EncodeWebSocketFrame(ws_opcode::kText, "Hello", std::array<uint8_t, 4>{1, 2, 3, 4})));
  CHECK(invalid(Bytes({0xc1, 0x00})));                             // RSV1 without a negotiated extension
  CHECK(invalid(Bytes({0x83, 0x00})));                             // reserved data opcode
  CHECK(invalid(Bytes({0x8b, 0x00})));                             // reserved control opcode
  CHECK(invalid(Bytes({0x09, 0x00})));                             // fragmented ping
  CHECK(invalid(Bytes({0x89, 0x7e, 0x00, 0x7e})));                 // control frame over 125 bytes
  CHECK(invalid(Bytes({0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0})));  // 64-bit length with the top bit
  CHECK(invalid(Bytes({0x82, 0x7f, 0, 0, 0, 0x01, 0, 0, 0, 0})));  // 4 GiB: over the limit
  CHECK(invalid(EncodeWebSocketFrame(ws_opcode::kText, std::string(11, 'x'), std::nullopt), 10));
  // Over the limit is known from the header alone, before the payload arrives.
  CHECK(invalid(Bytes({0x81, 0x7e, 0x10, 0x00}), 100));
}
