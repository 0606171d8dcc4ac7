#pragma once

// The forms in which a peer may echo a credential back (issue 28): written
// here independently of base/redact.cc, so the tests check redaction against
// encoders of their own, not against the code under test.

#include <string>
#include <utility>
#include <vector>

namespace botwatch::testing {

// A secret with every character that escaping changes, and non-ASCII (two-,
// three- and four-byte UTF-8).
inline const char* const kHostileSecretPart = "<x>&y\"z/w\\v-\xC3\xA9\xE6\xBC\xA2\xF0\x9F\x94\x91";

// Go's encoding/json: < > & as \u003c \u003e \u0026, " and \ escaped, / as \/.
std::string GoJsonEscape(const std::string& s);
// Every character as \uXXXX (lower-case hex), surrogate pairs past U+FFFF.
std::string UnicodeEscapeAll(const std::string& s);
// Every byte but RFC 3986's unreserved ones as %XX (upper-case hex).
std::string PercentEncodeAll(const std::string& s);
// &lt; &gt; &amp; &quot; and &#N; for every non-ASCII character.
std::string HtmlEscape(const std::string& s);
std::string Base64(const std::string& s);

// Named forms of `secret` (and of base64("user:secret") when `user` is set):
// literal, go-json, json-\u, percent, html, base64, base64(user:secret).
std::vector<std::pair<std::string, std::string>> EchoForms(const std::string& secret, const std::string& user = "");

// The name of the first form whose text (or an 8-byte piece of it) appears in
// `text`, and of the literal secret's pieces; "" when none does.
std::string LeakedForm(const std::string& text, const std::string& secret, const std::string& user = "");

}  // namespace botwatch::testing
