// Fuzz target: the log pipeline's JSON parser (simdjson On-Demand with
// dotted paths). Any bytes: an event or "malformed", never a crash, a hang,
// a read past the line, or a non-finite number.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "logs/parser.h"
#include "tests/fuzz/parser_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const botwatch::FieldTable fields = botwatch::fuzz::ParserFields();
  static botwatch::JsonParser parser(fields);  // reused like the daemon reuses it
  botwatch::Event event;
  event.Reset(fields.size());
  std::string_view line(reinterpret_cast<const char*>(data), size);
  if (parser.Parse(line, event)) botwatch::fuzz::CheckEvent(event);
  return 0;
}
