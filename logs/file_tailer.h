#pragma once

// The file source: follows every file matching a set of globs (re-scanned on
// each poll, so new files are picked up), through rotation by rename+create,
// copytruncate and delete+recreate, and hands complete lines to a LineSink.
// It knows nothing of formats or rules.
//
// Identity of a file is (device, inode) plus a fingerprint of its first line
// (first 1 KiB at most), so a reused inode is not mistaken for the old file.
// Positions are the offset just past the last complete line delivered, which
// is what makes restarts exact: a partial line is re-read, never half-counted.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "logs/line_sink.h"
#include "logs/line_splitter.h"

namespace botwatch {

struct FilePosition {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t fingerprint = 0;  // 0: the file had no complete first line yet
  uint64_t offset = 0;
  std::string path;  // informational
};

// Hash of the first line (or first 1 KiB) of an open file; 0 if not yet complete.
uint64_t FileFingerprint(int fd);

class FileTailer {
 public:
  struct Options {
    std::vector<std::string> globs;
    bool start_at_end = true;  // for files found at the first scan when there is no saved state
    size_t max_line_bytes = 64 * 1024;
    size_t block_bytes = 256 * 1024;
    // How long a rotated-away file is still read (writers may append to it
    // briefly before reopening). Zero: read it once to its end and close it.
    std::chrono::milliseconds rotate_wait{2000};
  };

  // `saved` are the positions from the state file (or the previous tailer on
  // reload); `have_state` says whether any state existed, in which case files
  // not in it are new and read from their beginning.
  FileTailer(Options options, std::vector<FilePosition> saved, bool have_state);
  ~FileTailer();
  FileTailer(const FileTailer&) = delete;
  FileTailer& operator=(const FileTailer&) = delete;

  // Re-scans the globs and reads every followed file to its current end.
  void Poll(LineSink& sink);
  // One-shot mode: a file's unterminated last line is delivered too.
  void FlushPartialLines(LineSink& sink);

  std::vector<FilePosition> Positions() const;
  size_t files_watched() const;
  uint64_t lag_bytes() const;
  // Rotations and truncations since the last call.
  uint64_t TakeRotations();

 private:
  struct Reader;
  std::unique_ptr<Reader> Open(const std::string& path, bool first_scan);
  void ReadToEnd(Reader& r, LineSink& sink);
  void CheckReplaced(Reader& r, LineSink& sink);
  void Close(Reader& r, LineSink& sink);
  // Logs once per path why a matching path cannot be followed (permissions,
  // not a regular file); again only after it was readable in between.
  void ReportUnreadable(const std::string& path, const std::string& why);

  std::map<std::string, std::string> unreadable_;  // path -> reason already logged

  Options options_;
  bool have_state_;
  bool first_scan_done_ = false;
  std::vector<FilePosition> known_;  // last positions of files not currently open
  std::vector<std::unique_ptr<Reader>> active_;
  std::vector<std::unique_ptr<Reader>> draining_;  // rotated away, still being read
  std::vector<char> buffer_;
  uint64_t rotations_ = 0;
};

}  // namespace botwatch
