#pragma once

// A shared library opened with dlopen on first use and its functions looked up
// by name: collectors/lib/lazy_{curl,libpq,hiredis}.cc and base/lazy_openssl.cc
// load libcurl, libpq, hiredis and OpenSSL this way, so a botwatch that never
// probes HTTP, PostgreSQL or Redis, and serves no TLS, never maps them.

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

// A library's table of function pointers, filled once: `api` is null when the
// library or one of its functions is missing, and `error` then says why.
template <typename Api>
struct LoadedApi {
  const Api* api = nullptr;
  std::string error;
};

// Opens `soname` and lets `fill(lib, table)` look up each function; `package`
// names the Debian package for the error. Call it from a function-local static
// so it runs once, thread-safely, on first use.
template <typename Api, typename Fill>
LoadedApi<Api> LoadApi(const char* soname, const char* package, Fill fill) {
  static Api table;  // one per Api type, alive until exit like the library
  SharedLibrary lib(soname);
  fill(lib, table);
  if (!lib.ok()) return {nullptr, lib.Why(package)};
  return {&table, ""};
}

}  // namespace botwatch

// For the X-macro lists of lazy_libpq.cc and lazy_hiredis.cc: the pointer
// member, its lookup, and the exported function that forwards to it (or
// returns `missing` when the library could not be loaded). The forwarder
// expects an `Api()` returning the table, or nullptr.
#define BOTWATCH_LAZY_POINTER(ret, name, params, args, missing) ret(*name) params;
#define BOTWATCH_LAZY_LOAD(ret, name, params, args, missing) lib.Load(table.name, #name);
#define BOTWATCH_LAZY_FORWARD(ret, name, params, args, missing) \
  ret name params {                                             \
    const auto* api = Api();                                    \
    if (api == nullptr) return missing;                         \
    return api->name args;                                      \
  }
