#include "tests/support/http_client.h"

#include <curl/curl.h>

#include <chrono>

namespace botwatch::testing {
namespace {

size_t Append(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

HttpResult Request(const std::string& url, const std::string* post_body, long timeout_ms) {
  HttpResult r;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_slist* headers = nullptr;
  if (post_body) {
    // botwatch refuses curl's default form type on POST (browsers send it cross-origin).
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_body->c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(post_body->size()));
  }
  auto start = std::chrono::steady_clock::now();
  r.curl_code = curl_easy_perform(c);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  char* ct = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) r.content_type = ct;
  curl_easy_cleanup(c);
  curl_slist_free_all(headers);
  return r;
}

}  // namespace

HttpResult HttpGet(const std::string& url, long timeout_ms) { return Request(url, nullptr, timeout_ms); }
HttpResult HttpPost(const std::string& url, const std::string& body, long timeout_ms) {
  return Request(url, &body, timeout_ms);
}

}  // namespace botwatch::testing
