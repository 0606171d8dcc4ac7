// hiredis, loaded on first use instead of at start-up (like lazy_libpq.cc):
// a botwatch without a redis collector never maps it, and a copied binary on a
// machine without libhiredis0.14 still starts. Call sites use <hiredis/hiredis.h>
// unchanged; the compiler checks each signature here against that header.
//
// If hiredis cannot be loaded, redisConnectWithTimeout() returns nullptr, which
// the redis collector reports with HiredisMissing()'s words.

#include <hiredis/hiredis.h>

#include "base/shared_library.h"
#include "collectors/lib/lazy_libraries.h"

// X(return type, name, (parameters), (arguments), value when hiredis is missing)
#define BOTWATCH_HIREDIS_FUNCTIONS(X)                                                                            \
  X(redisContext*, redisConnectWithTimeout, (const char* ip, int port, const struct timeval tv), (ip, port, tv), \
    nullptr)                                                                                                     \
  X(int, redisSetTimeout, (redisContext * c, const struct timeval tv), (c, tv), REDIS_ERR)                       \
  X(void, redisFree, (redisContext * c), (c), )                                                                  \
  X(void*, redisCommandArgv, (redisContext * c, int argc, const char** argv, const size_t* argvlen),             \
    (c, argc, argv, argvlen), nullptr)                                                                           \
  X(int, redisAppendCommandArgv, (redisContext * c, int argc, const char** argv, const size_t* argvlen),         \
    (c, argc, argv, argvlen), REDIS_ERR)                                                                         \
  X(int, redisGetReply, (redisContext * c, void** reply), (c, reply), REDIS_ERR)                                 \
  X(void, freeReplyObject, (void* reply), (reply), )

BOTWATCH_LAZY_LIBRARY(HiredisMissing, "libhiredis.so.0.14", "libhiredis0.14", BOTWATCH_HIREDIS_FUNCTIONS,
                      BOTWATCH_LAZY_NONE, BOTWATCH_LAZY_NOTHING_ON_LOAD)
