#pragma once

// ASCII case folding for protocol tokens (header names, enum-like values):
// never for user text, whose case is not ASCII's to fold.

#include <string>

namespace botwatch {

inline std::string AsciiLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

}  // namespace botwatch
