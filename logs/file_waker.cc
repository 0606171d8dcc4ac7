#include "logs/file_waker.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <set>

namespace botwatch {
namespace {

// The directory part of a glob, if it has no wildcard ("" otherwise).
std::string FixedDirectory(const std::string& glob) {
  size_t slash = glob.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : glob.substr(0, slash);
  return dir.find_first_of("*?[") == std::string::npos ? dir : "";
}

}  // namespace

FileWaker::FileWaker(const std::vector<std::string>& globs) {
  interrupt_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) return;
  std::set<std::string> dirs;
  for (const std::string& g : globs) {
    std::string d = FixedDirectory(g);
    if (!d.empty()) dirs.insert(d);
  }
  for (const std::string& d : dirs) {
    if (::inotify_add_watch(
            inotify_fd_, d.c_str(),
            IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB) >= 0) {
      ++watched_;
    }
  }
}

FileWaker::~FileWaker() {
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (interrupt_fd_ >= 0) ::close(interrupt_fd_);
}

void FileWaker::Wait(std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{interrupt_fd_, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
  int n = ::poll(fds, watched_ > 0 ? 2 : 1, static_cast<int>(timeout.count()));
  if (n <= 0) return;
  char buf[4096];
  if (watched_ > 0 && (fds[1].revents & POLLIN)) {
    while (::read(inotify_fd_, buf, sizeof buf) > 0) {
    }
  }
  // The interrupt stays pending until read, so a Stop() between two Waits is never missed.
  if (fds[0].revents & POLLIN) {
    uint64_t v = 0;
    (void)::read(interrupt_fd_, &v, sizeof v);
  }
}

void FileWaker::Interrupt() {
  uint64_t one = 1;
  if (interrupt_fd_ >= 0) (void)::write(interrupt_fd_, &one, sizeof one);
}

}  // namespace botwatch
