#include "collectors/lib/http_request.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>

namespace botwatch {
namespace {

struct Sink {
  ProbeResponse* response;
  size_t limit;
};

size_t WriteBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<Sink*>(user);
  std::string& body = sink->response->body;
  size_t n = size * nmemb;
  size_t room = sink->limit > body.size() ? sink->limit - body.size() : 0;
  if (n > room) sink->response->body_truncated = true;
  body.append(data, std::min(n, room));
  return n;
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

size_t WriteHeader(char* data, size_t size, size_t nmemb, void* user) {
  auto* response = static_cast<ProbeResponse*>(user);
  size_t n = size * nmemb;
  std::string line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {
    response->headers.clear();  // a new response (e.g. after 100 Continue)
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string::npos) return n;
  std::string name = line.substr(0, colon);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (response->headers.size() < 200) response->headers.emplace_back(name, Trim(line.substr(colon + 1)));
  return n;
}

}  // namespace

const std::string& ProbeResponse::Header(const std::string& name) const {
  static const std::string kEmpty;
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  return kEmpty;
}

ProbeResponse PerformHttp(const ProbeRequest& request, Duration timeout) {
  ProbeResponse response;
  if (timeout.count() <= 0) {
    response.curl_code = CURLE_OPERATION_TIMEDOUT;
    response.curl_error = "no time left before the deadline";
    return response;
  }
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    response.curl_code = CURLE_FAILED_INIT;
    response.curl_error = "cannot initialise libcurl";
    return response;
  }
  char errbuf[CURL_ERROR_SIZE] = {0};
  Sink sink{&response, request.max_body_bytes};
  curl_slist* headers = nullptr;
  for (const Secret& h : request.headers) headers = curl_slist_append(headers, h.reveal().c_str());
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // worker threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(1, timeout.count())));
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "botwatch");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, request.tls_verify ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, request.tls_verify ? 2L : 0L);
  if (!request.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, request.ca_file.c_str());
  if (request.method != "GET") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body->size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body->c_str());
  }
  CURLcode rc = curl_easy_perform(curl);
  response.curl_code = rc;
  if (rc != CURLE_OK) response.curl_error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  double total = 0;
  if (curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &total) == CURLE_OK) response.total_seconds = total;
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return response;
}

std::string StatusClass(long status) {
  if (status < 100 || status > 599) return "none";
  return std::to_string(status / 100) + "xx";
}

std::string RedactSecrets(std::string text, const std::vector<const Secret*>& secrets) {
  for (const Secret* s : secrets) {
    if (s == nullptr || s->empty()) continue;
    const std::string& v = s->reveal();
    for (size_t pos = text.find(v); pos != std::string::npos; pos = text.find(v, pos)) {
      text.replace(pos, v.size(), "<secret>");
      pos += 8;
    }
  }
  return text;
}

std::string UrlEncode(const std::string& value) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace botwatch
