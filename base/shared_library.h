#pragma once

// A shared library opened with dlopen on first use and its functions looked up
// by name: collectors/lib/lazy_{curl,libpq,hiredis}.cc and
// base/lazy_{libcrypto,libssl}.cc load libcurl, libpq, hiredis and OpenSSL this
// way, so a botwatch that never probes HTTP, PostgreSQL or Redis, and serves no
// TLS, never maps them. Each of those files is one table in the same shape: the
// library's functions as an X-macro list, then one BOTWATCH_LAZY_LIBRARY line.

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

// The X-macro lists name each function as
//   X(return type, name, (parameters), (arguments), value when the library is missing)
// and these expand one entry into the table's pointer member, its lookup, and
// the exported function that forwards to it (or returns the missing value).
#define BOTWATCH_LAZY_POINTER(ret, name, params, args, missing) ret(*name) params;
#define BOTWATCH_LAZY_LOAD(ret, name, params, args, missing) lib.Load(table.name, #name);
#define BOTWATCH_LAZY_FORWARD(ret, name, params, args, missing) \
  ret name params {                                             \
    const auto* api = Api();                                    \
    if (api == nullptr) return missing;                         \
    return api->name args;                                      \
  }
// An empty list, for a library whose functions are all forwarded by the macro.
#define BOTWATCH_LAZY_NONE(X)

// One dlopen'ed library, at file scope of its own .cc (the helpers below have
// the same names in every such file, so CMake keeps these files out of the
// unity build). Defines:
// - `LazyApi`, the table of function pointers, and `const LazyApi* Api()`,
//   which loads `soname` on first use and is nullptr when it cannot;
// - `std::string botwatch::missing_fn()`: "" once loaded, otherwise one line
//   naming the library, the Debian `package` and dlopen's reason;
// - an extern "C" definition of every function in FORWARDED, so call sites use
//   the library's own header unchanged and the compiler checks each signature
//   against it.
// BY_HAND lists functions the table holds but the file forwards itself
// (variadic ones, or ones that must work without the library). `on_load(table)`
// runs once, after every function was found.
#define BOTWATCH_LAZY_LIBRARY(missing_fn, soname, package, FORWARDED, BY_HAND, on_load)                \
  namespace {                                                                                          \
  struct LazyApi {                                                                                     \
    FORWARDED(BOTWATCH_LAZY_POINTER)                                                                   \
    BY_HAND(BOTWATCH_LAZY_POINTER)                                                                     \
  };                                                                                                   \
  const botwatch::LoadedApi<LazyApi>& Loaded() {                                                       \
    static const botwatch::LoadedApi<LazyApi> loaded =                                                 \
        botwatch::LoadApi<LazyApi>(soname, package, [](botwatch::SharedLibrary& lib, LazyApi& table) { \
          FORWARDED(BOTWATCH_LAZY_LOAD)                                                                \
          BY_HAND(BOTWATCH_LAZY_LOAD)                                                                  \
          if (lib.ok()) (on_load)(table);                                                              \
        });                                                                                            \
    return loaded;                                                                                     \
  }                                                                                                    \
  [[maybe_unused]] const LazyApi* Api() { return Loaded().api; }                                       \
  }                                                                                                    \
  namespace botwatch {                                                                                 \
  std::string missing_fn() { return Loaded().error; }                                                  \
  }                                                                                                    \
  extern "C" {                                                                                         \
  FORWARDED(BOTWATCH_LAZY_FORWARD)                                                                     \
  }
// For BOTWATCH_LAZY_LIBRARY's on_load when there is nothing to do.
#define BOTWATCH_LAZY_NOTHING_ON_LOAD [](LazyApi&) {}
