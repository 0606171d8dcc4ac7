#pragma once

#include <string>
#include <vector>

namespace botwatch::testing {

struct HttpResult {
  int curl_code = 0;
  long status = 0;
  std::string body;
  std::string content_type;
  double seconds = 0;
};

// One blocking request to 127.0.0.1; `timeout_ms` bounds it.
HttpResult HttpGet(const std::string& url, long timeout_ms = 5000);
HttpResult HttpPost(const std::string& url, const std::string& body = "", long timeout_ms = 5000);

}  // namespace botwatch::testing
