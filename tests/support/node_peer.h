#pragma once

// A Node.js peer of tests/peers/NAME (a package.json, its committed lockfile
// and scripts) installed once per build directory: copied to
// <build>/peers/NAME and `npm ci --no-audit --no-fund` run there, serialised
// by a file lock so parallel CTest processes share one install, and skipped
// while the copied files are unchanged.

#include <string>
#include <vector>

namespace botwatch::testing {

// The installed directory; empty (with *error set) if the install failed.
// `files` are copied from tests/peers/`name`; `module` is a package whose
// presence in node_modules shows a finished install.
std::string InstallNodePeer(const std::string& name, const std::vector<std::string>& files, const std::string& module,
                            std::string* error);

}  // namespace botwatch::testing
