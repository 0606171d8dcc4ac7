#include "base/redact.h"

#include <algorithm>
#include <cstdint>

#include "base/base64.h"

namespace botwatch {
namespace {

constexpr std::string_view kMark = "<secret>";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads `digits` hex digits at text[i]; -1 if any is not one.
long ParseHex(std::string_view text, size_t i, size_t digits) {
  if (i + digits > text.size()) return -1;
  long v = 0;
  for (size_t d = 0; d < digits; ++d) {
    int h = HexValue(text[i + d]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

// UTF-8 of a code point into out; 0 for surrogates and values past U+10FFFF.
size_t EncodeUtf8(long cp, char* out) {
  if (cp < 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

// One way to read the text at a position: `size` decoded bytes from `used`
// bytes of text.
struct DecodedUnit {
  char bytes[4];
  size_t size = 0;
  size_t used = 0;
};

// The escape starting at text[i], if there is one. The byte itself is always
// a second reading (a backslash may be just a backslash).
bool EscapeAt(std::string_view text, size_t i, DecodedUnit* u) {
  const char c = text[i];
  if (c == '\\' && i + 1 < text.size()) {
    const char e = text[i + 1];
    if (e == 'u') {
      long cp = ParseHex(text, i + 2, 4);
      if (cp < 0) return false;
      size_t used = 6;
      if (cp >= 0xD800 && cp < 0xDC00) {  // a surrogate pair: both halves or nothing
        if (i + 12 > text.size() || text[i + 6] != '\\' || text[i + 7] != 'u') return false;
        long low = ParseHex(text, i + 8, 4);
        if (low < 0xDC00 || low > 0xDFFF) return false;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        used = 12;
      }
      u->size = EncodeUtf8(cp, u->bytes);
      u->used = used;
      return u->size > 0;
    }
    static constexpr std::string_view kFrom = "/\"\\bfnrt'";
    static constexpr std::string_view kTo = "/\"\\\b\f\n\r\t'";
    size_t k = kFrom.find(e);
    if (k == std::string_view::npos) return false;
    u->bytes[0] = kTo[k];
    u->size = 1;
    u->used = 2;
    return true;
  }
  if (c == '%') {
    long b = ParseHex(text, i + 1, 2);
    if (b < 0) return false;
    u->bytes[0] = static_cast<char>(b);
    u->size = 1;
    u->used = 3;
    return true;
  }
  if (c == '+') {
    u->bytes[0] = ' ';
    u->size = 1;
    u->used = 1;
    return true;
  }
  if (c == '&') {
    size_t semi = text.find(';', i + 1);
    if (semi == std::string_view::npos || semi - i > 10) return false;
    std::string_view name = text.substr(i + 1, semi - i - 1);
    long cp = -1;
    if (name == "lt") {
      cp = '<';
    } else if (name == "gt") {
      cp = '>';
    } else if (name == "amp") {
      cp = '&';
    } else if (name == "quot") {
      cp = '"';
    } else if (name == "apos") {
      cp = '\'';
    } else if (name.size() >= 3 && name[0] == '#' && (name[1] == 'x' || name[1] == 'X')) {
      cp = ParseHex(name, 2, name.size() - 2);
    } else if (name.size() >= 2 && name[0] == '#') {
      cp = 0;
      for (char d : name.substr(1)) {
        if (d < '0' || d > '9') return false;
        cp = cp * 10 + (d - '0');
      }
    }
    u->size = EncodeUtf8(cp, u->bytes);
    u->used = semi - i + 1;
    return u->size > 0;
  }
  return false;
}

// The end of the longest stretch of `text` from `start` that decodes to
// `needle`, reading each position literally or as an escape; npos if none.
// Breadth-first over (needle bytes matched, text position), so a text full of
// ambiguous bytes (backslashes, '+') costs needle size × stretch, never more.
size_t MatchAt(std::string_view text, size_t start, std::string_view needle) {
  // frontier[k]: text positions reached with k needle bytes matched.
  // Reused between calls: most texts offer many candidate starts.
  thread_local std::vector<std::vector<size_t>> frontier;
  if (frontier.size() < needle.size() + 1) frontier.resize(needle.size() + 1);
  for (size_t k = 0; k <= needle.size(); ++k) frontier[k].clear();
  frontier[0].push_back(start);
  for (size_t k = 0; k < needle.size(); ++k) {
    for (size_t i : frontier[k]) {
      if (i >= text.size()) continue;
      auto advance = [&](const char* bytes, size_t size, size_t used) {
        if (k + size > needle.size() || needle.compare(k, size, std::string_view(bytes, size)) != 0) return;
        std::vector<size_t>& next = frontier[k + size];
        if (std::find(next.begin(), next.end(), i + used) == next.end()) next.push_back(i + used);
      };
      advance(&text[i], 1, 1);
      DecodedUnit u;
      if (EscapeAt(text, i, &u)) advance(u.bytes, u.size, u.used);
    }
  }
  if (frontier[needle.size()].empty()) return std::string_view::npos;
  return *std::max_element(frontier[needle.size()].begin(), frontier[needle.size()].end());
}

bool MayStart(char c, char first) { return c == first || c == '\\' || c == '%' || c == '&' || c == '+'; }

std::string UrlSafe(std::string s) {
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return s;
}

// The base64 characters that depend only on `secret` when it follows `r`
// (0..2) other bytes in the encoded data and is followed by anything: what a
// peer's base64 of "user:" + secret, or of a blob holding it, must contain.
std::string Base64Core(std::string_view secret, size_t r) {
  std::string data(r, '\0');
  data.append(secret);
  std::string encoded = Base64Encode(data);
  size_t first = (8 * r + 5) / 6;    // first character with no bit of the r bytes before
  size_t end = 8 * data.size() / 6;  // past the last character with every bit from the secret
  if (end <= first) return "";
  return encoded.substr(first, end - first);
}

}  // namespace

void Redactor::AddNeedle(std::string needle) {
  if (needle.empty()) return;
  if (std::find(needles_.begin(), needles_.end(), needle) != needles_.end()) return;
  needles_.push_back(std::move(needle));
  // Longest first: a secret that contains another is redacted whole.
  std::stable_sort(needles_.begin(), needles_.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

void Redactor::Add(std::string_view secret) {
  if (secret.empty()) return;
  AddNeedle(std::string(secret));
  // Shorter cores would match ordinary words; such secrets are weak anyway.
  constexpr size_t kMinCore = 8;
  std::string full = Base64Encode(secret);
  AddNeedle(full);
  AddNeedle(UrlSafe(full));
  for (size_t r = 0; r < 3; ++r) {
    std::string core = Base64Core(secret, r);
    if (core.size() < kMinCore) continue;
    AddNeedle(core);
    AddNeedle(UrlSafe(core));
  }
}

void Redactor::AddBasicAuth(std::string_view user, std::string_view password) {
  Add(password);
  if (password.empty()) return;
  std::string pair = std::string(user) + ":" + std::string(password);
  AddNeedle(Base64Encode(pair));
  AddNeedle(UrlSafe(Base64Encode(pair)));
}

void Redactor::AddHeaderValue(std::string_view value) {
  Add(value);
  size_t space = value.find(' ');
  if (space == std::string_view::npos) return;
  std::string_view scheme = value.substr(0, space);
  std::string_view credential = value.substr(space + 1);
  while (!credential.empty() && credential.front() == ' ') credential.remove_prefix(1);
  bool word = !scheme.empty() && std::all_of(scheme.begin(), scheme.end(),
                                             [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); });
  // Only "<scheme> <credential>": a password with spaces is not split into words.
  if (!word || credential.size() < 4 || credential.find(' ') != std::string_view::npos) return;
  Add(credential);
  std::string lower(scheme);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (lower != "basic") return;
  if (std::optional<std::string> pair = Base64Decode(credential)) {
    Add(*pair);
    size_t colon = pair->find(':');
    if (colon != std::string::npos) Add(std::string_view(*pair).substr(colon + 1));
  }
}

std::string Redactor::Redact(std::string text) const {
  for (const std::string& needle : needles_) {
    std::string out;
    size_t copied = 0;
    for (size_t i = 0; i < text.size();) {
      // Most positions fail on their first two bytes; only those that may
      // begin a match (or an escape) get the full search.
      if (!MayStart(text[i], needle[0]) ||
          (needle.size() > 1 && i + 1 < text.size() && text[i] == needle[0] && !MayStart(text[i + 1], needle[1]))) {
        ++i;
        continue;
      }
      size_t end = MatchAt(text, i, needle);
      if (end == std::string_view::npos) {
        ++i;
        continue;
      }
      out.append(text, copied, i - copied);
      out.append(kMark);
      copied = i = end;
    }
    if (copied == 0) continue;
    out.append(text, copied, std::string::npos);
    text = std::move(out);
  }
  return text;
}

}  // namespace botwatch
