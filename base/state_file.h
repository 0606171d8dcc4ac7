#pragma once

// Files in `state_dir` (log positions and counts, remote_write segments):
// the directory is botwatch's alone, and every file in it is opened so that a
// link planted there is refused rather than followed.
//
// - PrepareStateDir creates the directory 0700 and refuses one that another
//   user owns or that is group- or world-writable (anyone who can write there
//   can replace botwatch's files).
// - Files are created 0600 (tightened to 0600 when an older botwatch left them
//   wider); every open is O_NOFOLLOW | O_CLOEXEC.
// - Whole-file writes go to a fresh temp file made with mkostemp (O_EXCL) in
//   the same directory, fsynced, renamed over the target (a rename replaces a
//   link, never writes through it), then the directory is fsynced.
//
// StateWriteHealth makes a failing disk loud: one error line when writes to a
// file start failing, one info line when they succeed again, and a count per
// file for botwatch_state_write_errors_total{file}.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "base/status.h"

namespace botwatch {

Status PrepareStateDir(const std::string& dir);

// `*exists` false (and Ok) when there is no such file.
Status ReadStateFile(const std::string& path, std::string* data, bool* exists);
Status WriteStateFileAtomically(const std::string& path, std::string_view data);
// Appends `data` to `path`, which holds `size_before` bytes (created when
// absent). On failure the file is cut back to `size_before`, so no torn
// record stays behind for later appends to follow.
Status AppendStateFile(const std::string& path, std::string_view data, uint64_t size_before);
Status TruncateStateFile(const std::string& path, uint64_t size);
// Ok when the file is gone afterwards (absent already included).
Status RemoveStateFile(const std::string& path);

class StateWriteHealth {
 public:
  // `file`: the metric label (a file name in state_dir, never a path outside it).
  explicit StateWriteHealth(std::string file) : file_(std::move(file)) {}
  // Records the outcome of one write; returns `st`'s ok().
  bool Record(const Status& st);
  bool failing() const { return !error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  std::string file_;
  std::string error_;  // the failure of the current streak; "" when healthy
};

// Failed writes per file name since start (botwatch_state_write_errors_total).
std::map<std::string, uint64_t> StateWriteErrors();

}  // namespace botwatch
