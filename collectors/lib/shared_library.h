#pragma once

// A shared library opened with dlopen on first use and its functions looked up
// by name: lazy_curl.cc and lazy_libpq.cc load libcurl and libpq this way, so
// a botwatch that never probes HTTP or PostgreSQL never maps them.

#include <dlfcn.h>

#include <string>

namespace botwatch {

class SharedLibrary {
 public:
  explicit SharedLibrary(const char* soname) : soname_(soname), handle_(dlopen(soname, RTLD_NOW | RTLD_LOCAL)) {
    if (handle_ == nullptr) error_ = Dlerror();
  }

  // Sets `fn` to the function `name` (nullptr if absent); a missing one makes ok() false.
  template <typename Fn>
  void Load(Fn& fn, const char* name) {
    fn = handle_ == nullptr ? nullptr : reinterpret_cast<Fn>(dlsym(handle_, name));
    if (fn == nullptr && handle_ != nullptr && error_.empty()) error_ = soname_ + " lacks " + name;
    ok_ = ok_ && fn != nullptr;
  }
  // The library opened and every function loaded so far was found.
  bool ok() const { return handle_ != nullptr && ok_; }
  // Why not, for an operator: what failed and which Debian package provides it.
  std::string Why(const char* package) const {
    return "cannot load " + soname_ + " (install Debian's " + package + " package): " + error_;
  }

 private:
  static std::string Dlerror() {
    const char* e = dlerror();
    return e != nullptr ? e : "dlopen failed";
  }

  std::string soname_;
  void* handle_;  // never closed: the functions stay in use until exit
  bool ok_ = true;
  std::string error_;
};

}  // namespace botwatch
