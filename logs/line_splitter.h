#pragma once

// Turns a byte stream into lines. Pure: no I/O, no clock. A partial last line
// waits for its newline; a line longer than the limit is reported once and its
// bytes are discarded up to the next newline, so one runaway line never breaks
// the stream or grows memory. "\r\n" endings lose their "\r".

#include <cstddef>
#include <string>
#include <string_view>

namespace botwatch {

class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

  // Calls on_line(std::string_view) for each complete line (without its
  // newline) and on_too_long() once per oversized line.
  template <typename OnLine, typename OnTooLong>
  void Ingest(std::string_view chunk, OnLine&& on_line, OnTooLong&& on_too_long);

  // Hands over a partial last line as a line (the file it came from is gone and
  // will never complete it). Returns whether there was one.
  template <typename OnLine>
  bool Flush(OnLine&& on_line);

  void Reset() {
    pending_.clear();
    discarding_ = false;
  }
  // Bytes received but not yet part of a complete line (or being discarded).
  size_t pending_bytes() const { return discarding_ ? discarded_ : pending_.size(); }

 private:
  static std::string_view StripCr(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  }

  size_t max_line_bytes_;
  std::string pending_;
  bool discarding_ = false;
  size_t discarded_ = 0;
};

template <typename OnLine, typename OnTooLong>
void LineSplitter::Ingest(std::string_view chunk, OnLine&& on_line, OnTooLong&& on_too_long) {
  while (!chunk.empty()) {
    size_t nl = chunk.find('\n');
    if (discarding_) {
      if (nl == std::string_view::npos) {
        discarded_ += chunk.size();
        return;
      }
      discarding_ = false;
      discarded_ = 0;
      chunk.remove_prefix(nl + 1);
      continue;
    }
    if (nl == std::string_view::npos) {
      if (pending_.size() + chunk.size() > max_line_bytes_) {
        on_too_long();
        discarding_ = true;
        discarded_ = pending_.size() + chunk.size();
        pending_.clear();
        return;
      }
      pending_.append(chunk);
      return;
    }
    if (pending_.size() + nl > max_line_bytes_) {
      on_too_long();
      pending_.clear();
    } else if (pending_.empty()) {
      on_line(StripCr(chunk.substr(0, nl)));  // the common case: no copy
    } else {
      pending_.append(chunk.substr(0, nl));
      on_line(StripCr(pending_));
      pending_.clear();
    }
    chunk.remove_prefix(nl + 1);
  }
}

template <typename OnLine>
bool LineSplitter::Flush(OnLine&& on_line) {
  bool had = !discarding_ && !pending_.empty();
  if (had) on_line(StripCr(pending_));
  Reset();
  return had;
}

}  // namespace botwatch
