// hiredis, loaded on first use instead of at start-up (like lazy_libpq.cc):
// a botwatch without a redis collector never maps it, and a copied binary on a
// machine without libhiredis0.14 still starts. Call sites use <hiredis/hiredis.h>
// unchanged; the compiler checks each signature here against that header.
//
// If hiredis cannot be loaded, redisConnectWithTimeout() returns nullptr, which
// the redis collector reports with HiredisMissing()'s words.

#include <hiredis/hiredis.h>

#include "collectors/lib/lazy_libraries.h"
#include "collectors/lib/shared_library.h"

namespace {

// X(return type, name, (parameters), (arguments), value when hiredis is missing)
#define BOTWATCH_HIREDIS_FUNCTIONS(X)                                                                 \
  X(redisContext*, redisConnectWithTimeout, (const char* ip, int port, const struct timeval tv),     \
    (ip, port, tv), nullptr)                                                                          \
  X(int, redisSetTimeout, (redisContext * c, const struct timeval tv), (c, tv), REDIS_ERR)            \
  X(void, redisFree, (redisContext * c), (c), )                                                       \
  X(void*, redisCommandArgv, (redisContext * c, int argc, const char** argv, const size_t* argvlen), \
    (c, argc, argv, argvlen), nullptr)                                                                \
  X(int, redisAppendCommandArgv, (redisContext * c, int argc, const char** argv, const size_t* argvlen), \
    (c, argc, argv, argvlen), REDIS_ERR)                                                              \
  X(int, redisGetReply, (redisContext * c, void** reply), (c, reply), REDIS_ERR)                      \
  X(void, freeReplyObject, (void* reply), (reply), )

struct HiredisApi {
#define BOTWATCH_POINTER(ret, name, params, args, missing) ret(*name) params;
  BOTWATCH_HIREDIS_FUNCTIONS(BOTWATCH_POINTER)
#undef BOTWATCH_POINTER
};

std::string& LoadError() {
  static std::string why;
  return why;
}

const HiredisApi* Api() {
  static const HiredisApi* api = []() -> const HiredisApi* {
    botwatch::SharedLibrary lib("libhiredis.so.0.14");
    static HiredisApi a;
#define BOTWATCH_LOAD(ret, name, params, args, missing) lib.Load(a.name, #name);
    BOTWATCH_HIREDIS_FUNCTIONS(BOTWATCH_LOAD)
#undef BOTWATCH_LOAD
    if (!lib.ok()) LoadError() = lib.Why("libhiredis0.14");
    return lib.ok() ? &a : nullptr;
  }();
  return api;
}

}  // namespace

namespace botwatch {
std::string HiredisMissing() { return Api() ? std::string() : LoadError(); }
}  // namespace botwatch

extern "C" {
#define BOTWATCH_FORWARD(ret, name, params, args, missing) \
  ret name params {                                        \
    const HiredisApi* api = Api();                         \
    if (api == nullptr) return missing;                    \
    return api->name args;                                 \
  }
BOTWATCH_HIREDIS_FUNCTIONS(BOTWATCH_FORWARD)
#undef BOTWATCH_FORWARD
}  // extern "C"
