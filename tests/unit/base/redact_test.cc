// base/redact.h: a secret is redacted in every form a peer may echo it in
// (issue 28 item 1), checked with the test's own encoders (secret_forms.h).

#include "base/redact.h"

#include <catch2/catch.hpp>

#include "base/base64.h"
#include "tests/support/secret_forms.h"

using namespace botwatch;
using namespace botwatch::testing;

namespace {

const std::string kSecret = std::string("RWTOK2") + kHostileSecretPart + "tail";

}  // namespace

TEST_CASE("redact: each echo form of a hostile secret becomes <secret>") {
  Redactor r;
  r.AddBasicAuth("bot-user", kSecret);
  for (const auto& [name, form] : EchoForms(kSecret, "bot-user")) {
    INFO(name << ": " << form);
    std::string text = "peer said: \"" + form + "\" (rejected)";
    std::string out = r.Redact(text);
    CHECK(out == "peer said: \"<secret>\" (rejected)");
    CHECK(LeakedForm(out, kSecret, "bot-user") == "");
  }
}

TEST_CASE("redact: escapes mixed within one occurrence, either hex case") {
  Redactor r;
  r.Add("ab<c>&d/\xC3\xA9");
  CHECK(r.Redact("x ab%3Cc\\u003E&amp;d\\/%C3%a9 y") == "x <secret> y");
  CHECK(r.Redact("ab\\u003Cc\\u003e\\u0026d/\\u00E9") == "<secret>");
  CHECK(r.Redact("ab&#60;c&#x3e;&d/&#233;!") == "<secret>!");
  Redactor space;
  space.Add("two words");
  CHECK(space.Redact("q=two+words&x") == "q=<secret>&x");
}

TEST_CASE("redact: base64 of a secret inside a longer base64 blob") {
  Redactor r;
  r.Add(kSecret);
  for (const char* prefix : {"u:", "us:", "use:", "{\"token\":\""}) {
    std::string blob = Base64(prefix + kSecret + "\"}");
    INFO(prefix << " -> " << blob);
    std::string out = r.Redact("Authorization: Basic " + blob);
    CHECK(out.find("<secret>") != std::string::npos);
    // At most the characters that also carry bits of the bytes around it remain.
    CHECK(LeakedForm(out, kSecret) == "");
    // What is left: the prefix's own characters, "<secret>", and at most the
    // two characters (and padding) that mix the secret with the bytes after it.
    CHECK(out.size() <= std::string("Authorization: Basic ").size() + Base64(prefix).size() + 8 + 6);
  }
}

TEST_CASE("redact: a Bearer or Basic header value is also redacted by its credential") {
  Redactor r;
  r.AddHeaderValue("Basic " + Base64Encode("admin:pa<ss>w0rd"));
  CHECK(r.Redact("user admin:pa<ss>w0rd") == "user <secret>");
  CHECK(r.Redact("password pa\\u003css\\u003ew0rd") == "password <secret>");
  Redactor bearer;
  bearer.AddHeaderValue("Bearer tok<en>-123");
  CHECK(bearer.Redact("got tok%3Cen%3E-123") == "got <secret>");
  Redactor words;
  words.AddHeaderValue("correct horse battery staple");  // not "<scheme> <credential>"
  CHECK(words.Redact("a horse battery staple") == "a horse battery staple");
}

TEST_CASE("redact: text without the secret is unchanged, and ambiguous text stays cheap") {
  Redactor r;
  r.Add("\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\x");  // 16 backslashes and x
  std::string text(50000, '\\');
  CHECK(r.Redact(text) == text);
  CHECK(r.Redact(std::string(32, '\\') + "x") == "<secret>");
  CHECK(r.Redact(std::string(64, '\\') + "x").find("<secret>") != std::string::npos);
  Redactor plus;
  plus.Add("a b c d e f g h i j k l m n o p");
  std::string pluses(50000, '+');
  CHECK(plus.Redact(pluses) == pluses);
  CHECK(Redactor().Redact("nothing \\u003c") == "nothing \\u003c");
}

TEST_CASE("base64: decode accepts both alphabets and optional padding") {
  CHECK(Base64Decode("Zm9vYg==") == std::optional<std::string>("foob"));
  CHECK(Base64Decode("Zm9vYg") == std::optional<std::string>("foob"));
  CHECK(Base64Decode("-_8") == Base64Decode("+/8"));
  CHECK_FALSE(Base64Decode("Zm9v!").has_value());
}
