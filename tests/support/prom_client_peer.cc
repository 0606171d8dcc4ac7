#include "tests/support/prom_client_peer.h"

namespace botwatch::testing {

std::string InstallPromClientPeer(std::string* error) {
  return InstallNodePeer("prom-client", {"package.json", "package-lock.json", ".npmrc", "server.js"}, "prom-client",
                         error);
}

}  // namespace botwatch::testing
