#pragma once

// Shared by the log parser fuzz targets: a fixed field table (top-level,
// nested and deep paths), and the invariants any parsed event must hold.

#include <cmath>
#include <cstdlib>
#include <string_view>

#include "logs/event.h"

namespace botwatch::fuzz {

inline FieldTable ParserFields() {
  FieldTable t;
  for (const char* path :
       {"level", "message", "msg", "time", "ms", "meta.userId", "meta.ms", "a.b.c.d.e", "err.code", "tokens"}) {
    t.Intern(path);
  }
  return t;
}

// A parsed value never claims a non-finite number, and its helpers
// (number conversion, timestamps) accept whatever the parser produced.
inline void CheckEvent(const Event& event) {
  for (const FieldValue& v : event.fields) {
    if (v.kind == FieldValue::Kind::kNumber && !std::isfinite(v.number)) std::abort();
    std::optional<double> n = v.AsNumber();
    if (n && !std::isfinite(*n)) std::abort();
    (void)ParseTimestamp(v);
    if (v.kind == FieldValue::Kind::kAbsent && !v.text.empty()) std::abort();
  }
}

}  // namespace botwatch::fuzz
