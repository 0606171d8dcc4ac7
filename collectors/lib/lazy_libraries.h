#pragma once

// libcurl, libpq and hiredis are loaded on first use (collectors/lib/lazy_*.cc). The
// .deb depends on all three; a hand-built or copied binary may run where one is
// missing, and then the operator gets these words instead of a misleading
// libcurl, libpq or hiredis error.

#include <string>

namespace botwatch {

// "" once the library is loaded (loading it now if needed); otherwise one
// line naming the library, the Debian package that provides it, and dlopen's
// reason.
std::string LibcurlMissing();
std::string LibpqMissing();
std::string HiredisMissing();

}  // namespace botwatch
