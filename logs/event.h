#pragma once

// The parsed form of one log line as the rules see it: a fixed array of slots,
// one per field path some rule reads. Parsers fill only those slots, so a line
// costs nothing for the fields no rule asks about. Views point into the parser's
// buffers and are valid until the next line is parsed.

#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace botwatch {

struct FieldValue {
  enum class Kind : unsigned char { kAbsent, kString, kNumber, kBool, kNull, kComposite };
  Kind kind = Kind::kAbsent;
  // Strings: the unescaped value. Numbers: the literal as written ("-0", "1.50").
  // Booleans: "true"/"false".
  std::string_view text;
  double number = 0;  // valid when kind == kNumber

  bool present() const { return kind != Kind::kAbsent; }
  // Numbers, and strings that are exactly a decimal number ("42", "0.5").
  std::optional<double> AsNumber() const;
};

// Field paths ("level", "meta.userId") interned to slot numbers at config time.
class FieldTable {
 public:
  int Intern(const std::string& path);
  int Find(const std::string& path) const;  // -1 when absent
  const std::vector<std::string>& paths() const { return paths_; }
  size_t size() const { return paths_.size(); }

 private:
  std::vector<std::string> paths_;
};

struct Event {
  std::vector<FieldValue> fields;
  void Reset(size_t n) { fields.assign(n, FieldValue{}); }
  const FieldValue& at(int slot) const { return fields[static_cast<size_t>(slot)]; }
};

// Parses a decimal number occupying all of `text`; nullopt for anything else,
// including values outside a double's range (1e400).
std::optional<double> ParseNumber(std::string_view text);

// RFC 3339 / ISO 8601 ("2026-11-22T10:00:00.123Z", "+01:00" offsets) to Unix
// seconds; numbers are taken as Unix milliseconds when above 1e11 (pino's
// `time`), else seconds.
std::optional<double> ParseTimestamp(const FieldValue& v);

}  // namespace botwatch
