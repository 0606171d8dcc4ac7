#include "agent/status_page.h"

#include <catch2/catch.hpp>

#include <regex>
#include <string>

namespace botwatch {
namespace {

TEST_CASE("status page: index and assets are served from the binary") {
  auto index = ServeStatusPage("/");
  REQUIRE(index);
  CHECK(index->status == 200);
  CHECK(index->content_type == "text/html; charset=utf-8");
  CHECK(index->body.find("<script src=\"/assets/app.js\"></script>") != std::string::npos);
  CHECK(ServeStatusPage("/index.html")->body == index->body);

  auto js = ServeStatusPage("/assets/app.js");
  REQUIRE(js);
  CHECK(js->status == 200);
  CHECK(js->content_type == "text/javascript; charset=utf-8");
  CHECK(js->body.find("EventSource('/api/v1/feed')") != std::string::npos);
  auto css = ServeStatusPage("/assets/style.css");
  REQUIRE(css);
  CHECK(css->content_type == "text/css; charset=utf-8");

  CHECK(ServeStatusPage("/assets/nope.js")->status == 404);
  CHECK(ServeStatusPage("/assets/../agent.cc")->status == 404);
  CHECK_FALSE(ServeStatusPage("/metrics"));
  CHECK_FALSE(ServeStatusPage("/api/v1/status"));
}

TEST_CASE("status page: nothing is loaded from another origin") {
  // Only the SVG namespace URI may appear; it is an identifier, never fetched.
  std::regex url(R"((https?:)?//[a-zA-Z0-9.-]+\.[a-z]{2,})");
  for (const WebAsset& a : WebAssets()) {
    std::string body(a.body);
    for (std::sregex_iterator it(body.begin(), body.end(), url), end; it != end; ++it) {
      INFO(a.name << ": " << it->str());
      CHECK(it->str() == "http://www.w3.org");
    }
  }
  CHECK(WebAssets().size() >= 3);
}

}  // namespace
}  // namespace botwatch
