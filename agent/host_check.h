#pragma once

// DNS rebinding guard. A page on evil.example can re-point its own name at
// 127.0.0.1 (or at the machine's LAN address) after loading; the browser then
// sends that page's requests to botwatch as same-origin, with
// `Host: evil.example:PORT` and a matching Origin, so the cross-origin checks
// let them through. Without a web config nothing else stands in the way, so
// the data and state-changing endpoints answer only requests whose Host is
// one botwatch is known by:
//   - an IP literal (v4, or v6 in brackets): a rebinding attack always uses a
//     name, and every address botwatch listens on (including one a container
//     port mapping or NAT forwards to it) is one;
//   - `localhost`, which browsers resolve themselves;
//   - a host name given in --web.listen-address;
//   - a name given with --web.allowed-hosts.
// A request without a Host header (HTTP/1.0 tools; browsers always send one)
// is allowed. The port is not compared: the name is what an attacker controls.

#include <string>
#include <string_view>
#include <vector>

namespace botwatch {

class HostAllowList {
 public:
  HostAllowList(const std::vector<std::string>& listen_addresses, const std::vector<std::string>& allowed_hosts);

  bool Allows(std::string_view host_header) const;

 private:
  std::vector<std::string> names_;  // lower case, without a trailing dot
};

// The host part of a Host header value ("[::1]:80" -> "::1", "a.b:80" -> "a.b"),
// lower-cased, trailing dot removed.
std::string HostOfHeader(std::string_view host_header);

// Why `name` cannot be an --web.allowed-hosts entry, "" when it can.
std::string AllowedHostProblem(std::string_view name);

}  // namespace botwatch
