#include "agent/host_check.h"

#include <arpa/inet.h>

#include <algorithm>

namespace botwatch {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

std::string HostOfHeader(std::string_view h) {
  while (!h.empty() && (h.front() == ' ' || h.front() == '\t')) h.remove_prefix(1);
  while (!h.empty() && (h.back() == ' ' || h.back() == '\t')) h.remove_suffix(1);
  std::string_view host = h;
  if (!h.empty() && h.front() == '[') {
    size_t close = h.find(']');
    host = close == std::string_view::npos ? h.substr(1) : h.substr(1, close - 1);
  } else if (size_t colon = h.rfind(':'); colon != std::string_view::npos) {
    host = h.substr(0, colon);
  }
  std::string out = Lower(host);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

std::string AllowedHostProblem(std::string_view name) {
  if (name.empty()) return "is empty";
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
              c == '_' || c == ':' || c == '[' || c == ']';
    if (!ok) return "is not a host name (letters, digits, '-', '.' and an optional :port)";
  }
  return "";
}

HostAllowList::HostAllowList(const std::vector<std::string>& listen_addresses,
                             const std::vector<std::string>& allowed_hosts) {
  names_.push_back("localhost");
  for (const std::string& a : listen_addresses) {
    std::string host = HostOfHeader(a);
    if (!host.empty() && !IsIpLiteral(host)) names_.push_back(host);
  }
  for (const std::string& a : allowed_hosts) names_.push_back(HostOfHeader(a));
}

bool HostAllowList::Allows(std::string_view host_header) const {
  std::string host = HostOfHeader(host_header);
  if (host.empty()) return host_header.find_first_not_of(" \t") == std::string_view::npos;
  if (IsIpLiteral(host)) return true;
  return std::find(names_.begin(), names_.end(), host) != names_.end();
}

}  // namespace botwatch
