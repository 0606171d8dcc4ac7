#pragma once

// Wakes the polling thread of the file sources when something happens in the
// directories their globs name (a write, a creation, a rename, a deletion),
// through inotify, so a file that lives for milliseconds is still read. The
// poll interval stays the fallback: for directories with wildcards, file
// systems without inotify (NFS), or when inotify is unavailable.

#include <chrono>
#include <string>
#include <vector>

namespace botwatch {

class FileWaker {
 public:
  explicit FileWaker(const std::vector<std::string>& globs);
  ~FileWaker();
  FileWaker(const FileWaker&) = delete;
  FileWaker& operator=(const FileWaker&) = delete;

  // Returns when a watched directory changed, Interrupt() was called, or
  // `timeout` passed. Events that arrive together are consumed together.
  void Wait(std::chrono::milliseconds timeout);
  // From any thread: makes the current (or next) Wait return.
  void Interrupt();
  size_t directories_watched() const { return watched_; }

 private:
  int inotify_fd_ = -1;
  int interrupt_fd_ = -1;  // eventfd
  size_t watched_ = 0;
};

}  // namespace botwatch
