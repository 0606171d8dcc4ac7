#pragma once

// Reading the fields of a peer's JSON answer (Graph API, Gemini API) without
// exceptions: a missing field or one of another type reads as the default.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace botwatch {

using Json = nlohmann::json;

// The parsed text, or a discarded value (is_object() false) if it is not JSON.
Json ParseJsonLenient(const std::string& text);

std::string JsonString(const Json& obj, const char* key);  // "" unless a string
double JsonNumber(const Json& obj, const char* key, double def);
bool JsonBool(const Json& obj, const char* key, bool def);
// The string elements of the array `key` (others skipped); empty if not an array.
std::vector<std::string> JsonStrings(const Json& obj, const char* key);

}  // namespace botwatch
