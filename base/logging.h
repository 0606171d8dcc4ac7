#pragma once

// botwatch's own log: one line per event on stderr, logfmt or JSON.
// Callers pass structured fields; never pass a Secret's value (Secret has no
// string conversion precisely so that this cannot happen by accident).

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace botwatch::logging {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kLogfmt, kJson };

bool ParseLevel(std::string_view text, Level* out);
bool ParseFormat(std::string_view text, Format* out);

void Configure(Level level, Format format);
// Tests capture output here instead of stderr; nullptr restores stderr.
void SetSinkForTesting(std::string* sink);

using Field = std::pair<std::string_view, std::string>;
void Write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void Debug(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kDebug, msg, f); }
inline void Info(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kInfo, msg, f); }
inline void Warn(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kWarn, msg, f); }
inline void Error(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kError, msg, f); }

// Exposed for tests.
std::string FormatLine(Level level, Format format, std::string_view timestamp, std::string_view msg,
                       std::initializer_list<Field> fields);

}  // namespace botwatch::logging
