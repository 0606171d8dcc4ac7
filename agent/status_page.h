#pragma once

// The status page at `/`: static HTML, CSS and JS from agent/status_page/, compiled
// into the binary (cmake/embed_web_assets.cmake). The page itself polls
// /api/v1/status and /api/v1/summary and follows /api/v1/feed; the server side
// only hands out the files.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "web/web_server.h"

namespace botwatch {

struct WebAsset {
  const char* name;  // file name in agent/status_page/, e.g. "app.js"
  const char* content_type;
  std::string_view body;
};

// Every embedded file (generated at build time).
const std::vector<WebAsset>& WebAssets();

// "/" and "/index.html" give index.html, "/assets/<name>" the other files;
// nullopt for any other path.
std::optional<HttpResponse> ServeStatusPage(std::string_view path);

}  // namespace botwatch
