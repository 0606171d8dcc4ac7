#pragma once

// Redaction of credentials from text that quotes a peer (an API's error
// message, a receiver's response body, a library's error) before that text
// reaches a log line, the status API or a metric.
//
// A peer rarely echoes a credential byte for byte: a Go service JSON-encodes
// `<` as \u003c, a URL carries it percent-encoded, an HTML error page writes
// &lt;, and a proxy that reflects request headers sends base64 of
// `user:password`. So a secret is matched in each of those forms, and in any
// mix of them within one occurrence (each character of the secret may be
// written literally or escaped), not only literally:
//   - literal bytes;
//   - JSON escapes: \uXXXX for any character (either hex case, surrogate
//     pairs for characters past U+FFFF), \/ \" \\ \b \f \n \r \t;
//   - percent-encoding (%XX, either case; `+` for a space);
//   - HTML character references: &lt; &gt; &amp; &quot; &apos; &#N; &#xN;
//   - base64 (standard and URL-safe alphabets, with or without padding) of
//     the secret itself, and of `user:password` where the caller knows both
//     (AddBasicAuth); these encoded forms are themselves matched escaped too.

#include <string>
#include <string_view>
#include <vector>

namespace botwatch {

class Redactor {
 public:
  // Empty values are ignored.
  void Add(std::string_view secret);
  // Basic auth: the password alone, and base64 of "user:password".
  void AddBasicAuth(std::string_view user, std::string_view password);
  // A header value such as "Bearer <token>" or "Basic <base64>": the whole
  // value, the credential after the scheme word, and for Basic the decoded
  // "user:password" and its password.
  void AddHeaderValue(std::string_view value);

  // Every occurrence, in any of the forms above, becomes "<secret>".
  std::string Redact(std::string text) const;

  bool empty() const { return needles_.empty(); }

 private:
  void AddNeedle(std::string needle);
  std::vector<std::string> needles_;  // literal byte strings, longest first
};

}  // namespace botwatch
