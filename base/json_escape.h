#pragma once

#include <string>
#include <string_view>

namespace botwatch {

// Appends `s` as a JSON string literal (with quotes). Invalid UTF-8 bytes are
// replaced by U+FFFD so the output is always valid JSON.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace botwatch
