#pragma once

// Base64 (RFC 4648): the WebSocket handshake, Basic auth headers, and the
// encoded forms of a secret that redaction looks for.

#include <optional>
#include <string>
#include <string_view>

namespace botwatch {

// Standard alphabet with padding.
std::string Base64Encode(std::string_view data);

// Standard or URL-safe alphabet, padding optional; nullopt on any other byte.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace botwatch
