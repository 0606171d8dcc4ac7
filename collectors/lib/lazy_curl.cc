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
#include <mutex>

#include "base/shared_library.h"
#include "collectors/lib/lazy_libraries.h"

namespace {

struct CurlApi {
  CURLcode (*global_init)(long);
  CURL* (*easy_init)();
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  void (*easy_cleanup)(CURL*);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
};

const botwatch::LoadedApi<CurlApi>& Loaded() {
  static const botwatch::LoadedApi<CurlApi> loaded =
      botwatch::LoadApi<CurlApi>("libcurl.so.4", "libcurl4", [](botwatch::SharedLibrary& lib, CurlApi& a) {
        lib.Load(a.global_init, "curl_global_init");
        lib.Load(a.easy_init, "curl_easy_init");
        lib.Load(a.easy_setopt, "curl_easy_setopt");
        lib.Load(a.easy_perform, "curl_easy_perform");
        lib.Load(a.easy_getinfo, "curl_easy_getinfo");
        lib.Load(a.easy_cleanup, "curl_easy_cleanup");
        lib.Load(a.easy_strerror, "curl_easy_strerror");
        lib.Load(a.slist_append, "curl_slist_append");
        lib.Load(a.slist_free_all, "curl_slist_free_all");
        // curl_global_init is not thread-safe in every libcurl build; this
        // runs once, under the static-initialisation guard.
        if (lib.ok()) a.global_init(CURL_GLOBAL_DEFAULT);
      });
  return loaded;
}

// nullptr if libcurl is not installed or lacks a symbol (Loaded().error says which).
const CurlApi* Api() { return Loaded().api; }

}  // namespace

namespace botwatch {
std::string LibcurlMissing() { return Loaded().error; }
}  // namespace botwatch

extern "C" {

CURLcode curl_global_init(long flags) {
  (void)flags;  // done once, with the default flags, when the library is loaded
  return Api() ? CURLE_OK : CURLE_FAILED_INIT;
}

CURL* curl_easy_init() { return Api() ? Api()->easy_init() : nullptr; }

CURLcode curl_easy_setopt(CURL* curl, CURLoption option, ...) {
  const CurlApi* api = Api();
  if (api == nullptr) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, option);
  CURLcode rc;
  // The one variadic argument's type is encoded in the option's number range.
  if (option < CURLOPTTYPE_OBJECTPOINT) {
    rc = api->easy_setopt(curl, option, va_arg(ap, long));
  } else if (option < CURLOPTTYPE_OFF_T) {
    rc = api->easy_setopt(curl, option, va_arg(ap, void*));  // object and function pointers
  } else if (option < CURLOPTTYPE_BLOB) {
    rc = api->easy_setopt(curl, option, va_arg(ap, curl_off_t));
  } else {
    rc = api->easy_setopt(curl, option, va_arg(ap, void*));
  }
  va_end(ap);
  return rc;
}

CURLcode curl_easy_perform(CURL* curl) { return Api() ? Api()->easy_perform(curl) : CURLE_FAILED_INIT; }

CURLcode curl_easy_getinfo(CURL* curl, CURLINFO info, ...) {
  const CurlApi* api = Api();
  if (api == nullptr) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, info);
  CURLcode rc = api->easy_getinfo(curl, info, va_arg(ap, void*));  // always a pointer to the result
  va_end(ap);
  return rc;
}

void curl_easy_cleanup(CURL* curl) {
  if (Api()) Api()->easy_cleanup(curl);
}

const char* curl_easy_strerror(CURLcode code) {
  return Api() ? Api()->easy_strerror(code) : "libcurl could not be loaded";
}

curl_slist* curl_slist_append(curl_slist* list, const char* s) {
  return Api() ? Api()->slist_append(list, s) : nullptr;
}

void curl_slist_free_all(curl_slist* list) {
  if (Api()) Api()->slist_free_all(list);
}

}  // extern "C"
