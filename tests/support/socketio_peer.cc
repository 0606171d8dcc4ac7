#include "tests/support/socketio_peer.h"

#include <signal.h>

namespace botwatch::testing {

std::string InstallSocketIoPeer(std::string* error) {
  return InstallNodePeer("socketio", {"package.json", "package-lock.json", ".npmrc", "server.js"}, "socket.io", error);
}

void SocketIoPeer::Kill() {
  process_->Signal(SIGKILL);
  process_->WaitExit(std::chrono::seconds(5));
}

}  // namespace botwatch::testing
