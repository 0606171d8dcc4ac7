#pragma once

// gzip for /metrics, as Prometheus asks for it (Accept-Encoding: gzip): the
// text format compresses about tenfold, which matters on metered links and
// for fleets scraped from afar.

#include <optional>
#include <string>
#include <string_view>

namespace botwatch {

// Whether an Accept-Encoding header value accepts gzip (a "gzip" or "*"
// coding whose q-value is not 0). nullptr or empty: no.
bool AcceptsGzip(const char* accept_encoding);

// `data` as one gzip member (RFC 1952), at zlib's fastest level: scrapes are
// frequent and the text is repetitive, so speed wins over the last few bytes.
// nullopt only if zlib fails (out of memory).
std::optional<std::string> Gzip(std::string_view data);

}  // namespace botwatch
