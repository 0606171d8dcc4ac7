#pragma once

// OpenSSL (libssl and libcrypto), loaded on first use instead of at start-up
// (base/lazy_libcrypto.cc and base/lazy_libssl.cc, like libcurl in
// collectors/lib/lazy_curl.cc): a botwatch with no TLS, no basic auth and no
// HTTPS or WebSocket probe never maps them, which saves about 1.7 MB of RSS
// (libcrypto runs its initialisation as soon as it is loaded). Call sites use
// the OpenSSL headers unchanged (Boost.Asio's TLS stream, in web/web_server.cc,
// among them: it drives OpenSSL through a BIO pair, so the functions listed
// there are all it needs). SSL_CTX_set_min_proto_version and
// SSL_set_tlsext_host_name are macros over SSL_CTX_ctrl and SSL_ctrl.
//
// If OpenSSL cannot be loaded, the calls fail the way OpenSSL reports its own
// failures (SSL_CTX_new returns nullptr, RAND_bytes 0, ...), and the error
// strings say so.

#include <string>

namespace botwatch {

// "" once the library is loaded (loading it now if needed); otherwise one
// line naming the library, the Debian package (libssl3) and dlopen's reason.
std::string LibcryptoMissing();
std::string LibsslMissing();

// Both of the above: libcrypto's reason first, as libssl needs it.
inline std::string OpenSslMissing() {
  std::string crypto = LibcryptoMissing();
  return crypto.empty() ? LibsslMissing() : crypto;
}

}  // namespace botwatch
