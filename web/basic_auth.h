#pragma once

// HTTP basic auth against bcrypt hashes (the exporter-toolkit's basic_auth_users).
// A bcrypt check costs ~50-75 ms at cost 10, far more than a scrape, so:
// - verified credentials are remembered (Prometheus sends the same ones every scrape);
// - failed credentials are remembered too, so a replayed wrong guess costs no bcrypt run,
//   but every failed request, cached or not, takes from the peer's wrong-password budget;
// - new credentials are checked only within a budget (per peer and overall):
//   past it the request is answered 429 at once instead of burning a core.
// Every check takes the time of one bcrypt run per distinct cost among the
// users, whether the user exists or not, so timing does not tell user names.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/secret.h"

namespace botwatch {

enum class AuthResult { kAllowed, kDenied, kThrottled };

// A token bucket: `rate` tokens a second, at most `burst` saved up.
struct AuthTokenBucket {
  double tokens = 0;
  std::chrono::steady_clock::time_point last{};
  bool Take(double rate, double burst, std::chrono::steady_clock::time_point now);
};

struct BcryptBudget {
  double global_per_second = 4;  // ~0.2-0.3 core at cost 10 on this kind of machine
  double global_burst = 8;
  double peer_per_second = 1;
  double peer_burst = 4;
  // Failed requests (wrong credentials, from the cache or not) per peer:
  // past this the peer is answered 429 and its new connections are slowed.
  double failed_per_second = 5;
  double failed_burst = 30;
};

class BasicAuth {
 public:
  // At most this many verified credentials are remembered; past it the cache
  // starts over (a handful of scrapers is the normal case).
  static constexpr size_t kMaxCached = 256;
  static constexpr size_t kMaxFailedCached = 4096;
  static constexpr size_t kMaxPeers = 4096;

  explicit BasicAuth(std::map<std::string, Secret> users, BcryptBudget budget = {});
  BasicAuth(const BasicAuth&) = delete;
  BasicAuth& operator=(const BasicAuth&) = delete;

  // `authorization` is the Authorization header's value (nullptr if absent);
  // `peer` the client's address, for the per-peer budget.
  AuthResult Check(const char* authorization, std::string_view peer = "");
  // The same when it needs no bcrypt run (cached, malformed, over a budget);
  // nullopt when it does (then Check, off the I/O thread).
  std::optional<AuthResult> CheckCached(const char* authorization, std::string_view peer);
  bool Allow(const char* authorization) { return Check(authorization) == AuthResult::kAllowed; }
  // Checks one pair outside any budget (caches still apply).
  bool Verify(std::string_view user, std::string_view password) {
    return Verify(user, password, "", false, false) == AuthResult::kAllowed;
  }

  uint64_t bcrypt_checks() const { return bcrypt_checks_.load(); }
  uint64_t cache_hits() const { return cache_hits_.load(); }
  uint64_t throttled() const { return throttled_.load(); }
  // bcrypt computations (a check runs one per distinct cost among the users).
  uint64_t bcrypt_runs() const { return bcrypt_runs_.load(); }

 private:
  // A salted SHA-256 of user and password; "" when it cannot be computed.
  std::string CacheKey(std::string_view user, std::string_view password) const;
  // nullopt only with `cached_only`, when a bcrypt run is needed.
  std::optional<AuthResult> Verify(std::string_view user, std::string_view password, std::string_view peer,
                                   bool budgeted, bool cached_only);
  std::optional<AuthResult> Decide(const char* authorization, std::string_view peer, bool cached_only);
  // A failed request: kDenied, or kThrottled past the peer's wrong-password budget.
  AuthResult Failed(std::string_view peer, bool budgeted);
  bool Bcrypt(std::string_view user, std::string_view password);
  bool TakeBudget(std::string_view peer);

  const std::map<std::string, Secret> users_;
  const BcryptBudget budget_;
  // One hash of a random password for each distinct cost among the users.
  std::map<int, std::string> dummies_;
  std::string salt_;  // per process, so cache keys say nothing outside it
  std::mutex mu_;
  std::unordered_set<std::string> verified_;  // SHA-256(salt, user, password)
  std::unordered_set<std::string> failed_;
  AuthTokenBucket global_;
  std::unordered_map<std::string, AuthTokenBucket> peers_;
  std::unordered_map<std::string, AuthTokenBucket> failures_;
  std::atomic<uint64_t> bcrypt_checks_{0};
  std::atomic<uint64_t> cache_hits_{0};
  std::atomic<uint64_t> throttled_{0};
  std::atomic<uint64_t> bcrypt_runs_{0};
};

// The cost field of a bcrypt hash ("$2b$10$..." -> 10), or -1.
int BcryptCost(std::string_view hash);

// Decodes standard base64 (with padding); false on malformed input.
bool DecodeBase64(std::string_view in, std::string* out);

}  // namespace botwatch
