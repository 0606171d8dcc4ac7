#pragma once

// OpenSSL is loaded on first use (base/lazy_openssl.cc). Where it cannot be,
// this says why, for an operator.

#include <string>

namespace botwatch {

// "" once libcrypto and libssl are loaded (loading them now if needed);
// otherwise one line naming the library, the Debian package (libssl3) and
// dlopen's reason.
std::string OpenSslMissing();

}  // namespace botwatch
