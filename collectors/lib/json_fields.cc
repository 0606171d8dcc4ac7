#include "collectors/lib/json_fields.h"

namespace botwatch {

Json ParseJsonLenient(const std::string& text) { return Json::parse(text, nullptr, /*allow_exceptions=*/false); }

std::string JsonString(const Json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

double JsonNumber(const Json& obj, const char* key, double def) {
  if (!obj.is_object()) return def;
  auto it = obj.find(key);
  return it != obj.end() && it->is_number() ? it->get<double>() : def;
}

bool JsonBool(const Json& obj, const char* key, bool def) {
  if (!obj.is_object()) return def;
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() ? it->get<bool>() : def;
}

std::vector<std::string> JsonStrings(const Json& obj, const char* key) {
  std::vector<std::string> out;
  if (!obj.is_object()) return out;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) return out;
  for (const Json& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace botwatch
