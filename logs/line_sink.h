#pragma once

// Where every source delivers its lines. The file tailer uses it today; the
// stdout of a supervised child and the HTTP intake deliver to the same
// interface, so parsers and rules never know where a line came from.

#include <cstddef>
#include <string_view>

namespace botwatch {

class LineSink {
 public:
  virtual ~LineSink() = default;
  // One complete line, without its newline.
  virtual void Line(std::string_view line) = 0;
  // A line longer than the source's max_line_bytes was skipped.
  virtual void TooLong() = 0;
};

// Lines of only blanks (and a CR) carry nothing to count or parse.
inline bool BlankLine(std::string_view line) { return line.find_first_not_of(" \t\r") == std::string_view::npos; }

}  // namespace botwatch
