// libcurl, loaded on first use instead of at start-up.
//
// libcurl drags in about 20 libraries (GnuTLS, Kerberos, LDAP, nghttp2, ...);
// mapping and relocating them costs ~4.5 MB of RSS in every botwatch process,
// including those that never make an HTTP request (a logs-only agent, the
// one-shot mode). botwatch therefore does not link libcurl: these definitions
// of the few libcurl functions it calls forward to the real ones, which are
// looked up with dlopen the first time any of them is called. Call sites use
// the normal <curl/curl.h> API unchanged.
//
// If libcurl cannot be loaded, curl_easy_init() returns nullptr and the
// collectors report that as a failed probe, like any other init failure.

#include <curl/curl.h>

#include <cstdarg>

#include "base/shared_library.h"
#include "collectors/lib/lazy_libraries.h"

// X(return type, name, (parameters), (arguments), value when libcurl is missing)
#define BOTWATCH_LIBCURL_FUNCTIONS(X)                                                        \
  X(CURL*, curl_easy_init, (void), (), nullptr)                                              \
  X(CURLcode, curl_easy_perform, (CURL * curl), (curl), CURLE_FAILED_INIT)                   \
  X(void, curl_easy_cleanup, (CURL * curl), (curl), )                                        \
  X(const char*, curl_easy_strerror, (CURLcode code), (code), "libcurl could not be loaded") \
  X(curl_slist*, curl_slist_append, (curl_slist * list, const char* s), (list, s), nullptr)  \
  X(void, curl_slist_free_all, (curl_slist * list), (list), )

// Forwarded by hand below: curl_global_init runs once, when the library is
// loaded, and the other two are variadic.
#define BOTWATCH_LIBCURL_BY_HAND(X)                                                           \
  X(CURLcode, curl_global_init, (long flags), (flags), CURLE_FAILED_INIT)                     \
  X(CURLcode, curl_easy_setopt, (CURL * curl, CURLoption option, ...), (), CURLE_FAILED_INIT) \
  X(CURLcode, curl_easy_getinfo, (CURL * curl, CURLINFO info, ...), (), CURLE_FAILED_INIT)

// curl_global_init is not thread-safe in every libcurl build; on_load runs
// once, under the static-initialisation guard.
BOTWATCH_LAZY_LIBRARY(LibcurlMissing, "libcurl.so.4", "libcurl4", BOTWATCH_LIBCURL_FUNCTIONS, BOTWATCH_LIBCURL_BY_HAND,
                      [](LazyApi& api) { api.curl_global_init(CURL_GLOBAL_DEFAULT); })

extern "C" {

CURLcode curl_global_init(long flags) {
  (void)flags;  // done once, with the default flags, when the library is loaded
  return Api() ? CURLE_OK : CURLE_FAILED_INIT;
}

CURLcode curl_easy_setopt(CURL* curl, CURLoption option, ...) {
  const LazyApi* api = Api();
  if (api == nullptr) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, option);
  CURLcode rc;
  // The one variadic argument's type is encoded in the option's number range.
  if (option < CURLOPTTYPE_OBJECTPOINT) {
    rc = api->curl_easy_setopt(curl, option, va_arg(ap, long));
  } else if (option < CURLOPTTYPE_OFF_T) {
    rc = api->curl_easy_setopt(curl, option, va_arg(ap, void*));  // object and function pointers
  } else if (option < CURLOPTTYPE_BLOB) {
    rc = api->curl_easy_setopt(curl, option, va_arg(ap, curl_off_t));
  } else {
    rc = api->curl_easy_setopt(curl, option, va_arg(ap, void*));
  }
  va_end(ap);
  return rc;
}

CURLcode curl_easy_getinfo(CURL* curl, CURLINFO info, ...) {
  const LazyApi* api = Api();
  if (api == nullptr) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, info);
  CURLcode rc = api->curl_easy_getinfo(curl, info, va_arg(ap, void*));  // always a pointer to the result
  va_end(ap);
  return rc;
}

}  // extern "C"
