#pragma once

// The real Socket.IO 4 server of tests/peers/socketio, for the socketio
// collector's tests. Its npm packages are installed once per build directory
// (`npm ci --no-audit --no-fund` from the committed lockfile, serialised by a
// file lock so parallel CTest processes share one install).

#include <string>
#include <vector>

#include "tests/support/node_peer.h"

namespace botwatch::testing {

// Directory holding server.js and its node_modules; empty (with *error set) if
// the install failed.
std::string InstallSocketIoPeer(std::string* error);

class SocketIoPeer : public NodeServer {
 public:
  static constexpr const char* kSecret = "s3cret-peer";

  // Starts `node server.js port` (0 = any free port) in `work_dir`, with
  // `extra_env` ("NAME=value", e.g. "SOCKETIO_TRANSPORTS=polling").
  SocketIoPeer(const std::string& peer_dir, const std::string& work_dir, int port = 0,
               const std::vector<std::string>& extra_env = {})
      : NodeServer("socketio", peer_dir, work_dir, port, extra_env) {}
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // SIGKILL, and wait until it is gone.
  void Kill();
};

}  // namespace botwatch::testing
