#pragma once

// The real prom-client registry of tests/peers/prom-client (node server.js),
// for the scrape collector's tests: installed once per build directory from
// its committed lockfile (InstallNodePeer), started on a free port.

#include <string>
#include <vector>

#include "tests/support/node_peer.h"

namespace botwatch::testing {

// Directory holding server.js and its node_modules; empty (with *error set) if
// the install failed.
std::string InstallPromClientPeer(std::string* error);

class PromClientPeer : public NodeServer {
 public:
  // Starts `node server.js 0` in `work_dir`, with `extra_env` ("NAME=value").
  PromClientPeer(const std::string& peer_dir, const std::string& work_dir,
                 const std::vector<std::string>& extra_env = {})
      : NodeServer("prom-client", peer_dir, work_dir, 0, extra_env) {}
  std::string Url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
};

}  // namespace botwatch::testing
