#include "tests/support/secret_forms.h"

#include <cstdio>

#include "tests/support/probe_helpers.h"

namespace botwatch::testing {
namespace {

// Code points of a UTF-8 string (the test secrets are valid UTF-8).
std::vector<unsigned long> CodePoints(const std::string& s) {
  std::vector<unsigned long> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    unsigned long cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += n;
  }
  return out;
}

std::string Hex4(unsigned long v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "\\u%04lx", v & 0xFFFF);
  return buf;
}

}  // namespace

std::string GoJsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '/':
        out += "\\/";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string UnicodeEscapeAll(const std::string& s) {
  std::string out;
  for (unsigned long cp : CodePoints(s)) {
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out += Hex4(0xD800 + (cp >> 10)) + Hex4(0xDC00 + (cp & 0x3FF));
    } else {
      out += Hex4(cp);
    }
  }
  return out;
}

std::string PercentEncodeAll(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (unsigned long cp : CodePoints(s)) {
    if (cp == '<') {
      out += "&lt;";
    } else if (cp == '>') {
      out += "&gt;";
    } else if (cp == '&') {
      out += "&amp;";
    } else if (cp == '"') {
      out += "&quot;";
    } else if (cp >= 0x80) {
      out += "&#" + std::to_string(cp) + ";";
    } else {
      out += static_cast<char>(cp);
    }
  }
  return out;
}

std::string Base64(const std::string& s) {
  static const char* kA = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned long acc = 0;
  int bits = 0;
  for (unsigned char c : s) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kA[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kA[(acc << (6 - bits)) & 63];
  while (out.size() % 4 != 0) out += '=';
  return out;
}

std::vector<std::pair<std::string, std::string>> EchoForms(const std::string& secret, const std::string& user) {
  std::vector<std::pair<std::string, std::string>> forms = {
      {"literal", secret},
      {"go-json", GoJsonEscape(secret)},
      {"json-\\u", UnicodeEscapeAll(secret)},
      {"percent", PercentEncodeAll(secret)},
      {"html", HtmlEscape(secret)},
      {"base64", Base64(secret)},
  };
  if (!user.empty()) forms.emplace_back("base64(user:password)", Base64(user + ":" + secret));
  return forms;
}

std::string LeakedForm(const std::string& text, const std::string& secret, const std::string& user) {
  for (const auto& [name, form] : EchoForms(secret, user)) {
    // Escaped forms are long: a 12-byte piece is still far below one secret.
    std::string piece = PieceOfSecretIn(text, form, name == "literal" ? 8 : 12);
    if (!piece.empty()) return name + " (\"" + piece + "\")";
  }
  return "";
}

}  // namespace botwatch::testing
