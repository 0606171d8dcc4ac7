// Fuzz target: the log pipeline's logfmt parser (quoted values with escapes).
// Any bytes: an event or "malformed", never a crash or a read past the line.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "logs/parser.h"
#include "tests/fuzz/parser_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const botwatch::FieldTable fields = botwatch::fuzz::ParserFields();
  static botwatch::LogfmtParser parser(fields);
  botwatch::Event event;
  event.Reset(fields.size());
  std::string_view line(reinterpret_cast<const char*>(data), size);
  if (parser.Parse(line, event)) botwatch::fuzz::CheckEvent(event);
  return 0;
}
