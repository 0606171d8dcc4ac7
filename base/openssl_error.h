#pragma once

// OpenSSL's error queue as text, for the messages of the TLS client and server.

#include <string>
#include <string_view>

namespace botwatch {

// The first error queued on this thread, as OpenSSL words it, or `if_none` when
// the queue is empty. The queue is cleared: the next call sees only new errors.
std::string TakeOpenSslError(std::string_view if_none);

}  // namespace botwatch
