#pragma once

// HTTP basic auth against bcrypt hashes (the exporter-toolkit's basic_auth_users).
// A bcrypt check costs ~75 ms at cost 10, far more than a scrape, so verified
// credentials are remembered: Prometheus sends the same ones every scrape.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

#include "base/secret.h"

namespace botwatch {

class BasicAuth {
 public:
  // At most this many verified credentials are remembered; past it the cache
  // starts over (a handful of scrapers is the normal case).
  static constexpr size_t kMaxCached = 256;

  explicit BasicAuth(std::map<std::string, Secret> users);
  BasicAuth(const BasicAuth&) = delete;
  BasicAuth& operator=(const BasicAuth&) = delete;

  // `authorization` is the Authorization header's value (nullptr if absent).
  bool Allow(const char* authorization);
  bool Verify(std::string_view user, std::string_view password);

  uint64_t bcrypt_checks() const { return bcrypt_checks_.load(); }
  uint64_t cache_hits() const { return cache_hits_.load(); }

 private:
  std::string CacheKey(std::string_view user, std::string_view password) const;

  const std::map<std::string, Secret> users_;
  std::string salt_;  // per process, so cache keys say nothing outside it
  std::mutex mu_;
  std::unordered_set<std::string> verified_;  // SHA-256(salt, user, password)
  std::atomic<uint64_t> bcrypt_checks_{0};
  std::atomic<uint64_t> cache_hits_{0};
};

// Decodes standard base64 (with padding); false on malformed input.
bool DecodeBase64(std::string_view in, std::string* out);

}  // namespace botwatch
