#include "agent/status_page.h"

namespace botwatch {

std::optional<HttpResponse> ServeStatusPage(std::string_view path) {
  std::string_view name;
  constexpr std::string_view kAssets = "/assets/";
  if (path == "/" || path == "/index.html") {
    name = "index.html";
  } else if (path.substr(0, kAssets.size()) == kAssets) {
    name = path.substr(kAssets.size());
  } else {
    return std::nullopt;
  }
  for (const WebAsset& a : WebAssets()) {
    if (name == a.name) return HttpResponse{200, a.content_type, std::string(a.body)};
  }
  return HttpResponse{404, "text/plain; charset=utf-8", "not found\n"};
}

}  // namespace botwatch
