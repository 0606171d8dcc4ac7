#include "web/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <strings.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace botwatch {
namespace {

bool BcryptMatches(std::string_view password, const std::string& hash) {
  auto data = std::make_unique<crypt_data>();  // ~32 KiB: not on a server thread's stack
  std::string phrase(password);
  const char* out = crypt_rn(phrase.c_str(), hash.c_str(), data.get(), sizeof *data);
  OPENSSL_cleanse(phrase.data(), phrase.size());
  bool ok = out != nullptr && out[0] != '*' && std::string_view(out).size() == hash.size() &&
            CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(data.get(), sizeof *data);
  return ok;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

bool DecodeBase64(std::string_view in, std::string* out) {
  out->clear();
  if (in.size() % 4 != 0) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '=') {
      // Padding only at the end, at most two.
      if (in.size() - i > 2) return false;
      for (size_t j = i; j < in.size(); ++j) {
        if (in[j] != '=') return false;
      }
      break;
    }
    int v = Base64Value(in[i]);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

int BcryptCost(std::string_view hash) {
  if (hash.size() < 7 || hash[0] != '$' || hash[3] != '$' || hash[6] != '$') return -1;
  if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9') return -1;
  return (hash[4] - '0') * 10 + (hash[5] - '0');
}

bool AuthTokenBucket::Take(double rate, double burst, std::chrono::steady_clock::time_point now) {
  if (last == std::chrono::steady_clock::time_point{}) {
    tokens = burst;
  } else {
    tokens = std::min(burst, tokens + rate * std::chrono::duration<double>(now - last).count());
  }
  last = now;
  if (tokens < 1) return false;
  tokens -= 1;
  return true;
}

namespace {

// A bcrypt hash of a random password nobody knows, at `cost`.
std::string DummyHash(int cost) {
  unsigned char rnd[32];
  if (RAND_bytes(rnd, sizeof rnd) != 1) memset(rnd, 0x5a, sizeof rnd);
  auto data = std::make_unique<crypt_data>();
  char setting[64];
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), reinterpret_cast<const char*>(rnd), 16, setting,
                       sizeof setting) == nullptr) {
    return "";
  }
  std::string password;
  for (size_t i = 16; i < sizeof rnd; ++i) password += static_cast<char>('a' + rnd[i] % 26);
  const char* out = crypt_rn(password.c_str(), setting, data.get(), sizeof *data);
  std::string hash = out != nullptr && out[0] != '*' ? out : "";
  OPENSSL_cleanse(data.get(), sizeof *data);
  return hash;
}

}  // namespace

BasicAuth::BasicAuth(std::map<std::string, Secret> users, BcryptBudget budget)
    : users_(std::move(users)), budget_(budget) {
  salt_.resize(32);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt_.data()), static_cast<int>(salt_.size())) != 1) {
    // Without randomness the keys are still one-way digests; only less opaque.
    salt_.assign(32, '\x5a');
  }
  for (const auto& [user, hash] : users_) {
    int cost = BcryptCost(hash.reveal());
    if (cost >= 4 && cost <= 31 && dummies_.count(cost) == 0) dummies_[cost] = DummyHash(cost);
  }
  if (dummies_.empty()) dummies_[10] = DummyHash(10);
}

std::string BasicAuth::CacheKey(std::string_view user, std::string_view password) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  // Every step is checked: a digest that failed must not become a key that
  // every password shares (an empty key would let a cached login admit anyone).
  const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, salt_.data(), salt_.size()) == 1 &&
                  EVP_DigestUpdate(ctx, user.data(), user.size()) == 1 && EVP_DigestUpdate(ctx, "\0", 1) == 1 &&
                  EVP_DigestUpdate(ctx, password.data(), password.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, digest, &len) == 1 && len > 0;
  EVP_MD_CTX_free(ctx);
  return ok ? std::string(reinterpret_cast<char*>(digest), len) : std::string();
}

bool BasicAuth::TakeBudget(std::string_view peer) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  if (peers_.size() >= kMaxPeers && peers_.count(std::string(peer)) == 0) peers_.clear();
  AuthTokenBucket& mine = peers_[std::string(peer)];
  // The peer's own budget first: one noisy peer must not spend everyone's.
  if (!mine.Take(budget_.peer_per_second, budget_.peer_burst, now)) return false;
  if (!global_.Take(budget_.global_per_second, budget_.global_burst, now)) return false;
  return true;
}

// One bcrypt run per distinct cost, matching or not, so the time spent says
// neither whether the user exists nor which cost its hash has.
bool BasicAuth::Bcrypt(std::string_view user, std::string_view password) {
  ++bcrypt_checks_;
  auto it = users_.find(std::string(user));
  int own_cost = it == users_.end() ? -1 : BcryptCost(it->second.reveal());
  bool ok = false;
  for (const auto& [cost, dummy] : dummies_) {
    ++bcrypt_runs_;
    if (cost == own_cost) {
      ok = BcryptMatches(password, it->second.reveal());
    } else {
      (void)BcryptMatches(password, dummy);
    }
  }
  return ok;
}

AuthResult BasicAuth::Failed(std::string_view peer, bool budgeted) {
  if (!budgeted) return AuthResult::kDenied;
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  if (failures_.size() >= kMaxPeers && failures_.count(std::string(peer)) == 0) failures_.clear();
  // Every failed request, answered from the cache or not, takes from the
  // peer's wrong-password budget: a replayed wrong password is cheap to
  // answer, but a flood of them is still a flood.
  if (failures_[std::string(peer)].Take(budget_.failed_per_second, budget_.failed_burst, now)) {
    return AuthResult::kDenied;
  }
  ++throttled_;
  return AuthResult::kThrottled;
}

std::optional<AuthResult> BasicAuth::Verify(std::string_view user, std::string_view password, std::string_view peer,
                                            bool budgeted, bool cached_only) {
  std::string key = CacheKey(user, password);
  const bool cacheable = !key.empty();  // no digest (OpenSSL missing): every check is a bcrypt check
  if (cacheable) {
    bool failed = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (verified_.count(key) != 0) {
        ++cache_hits_;
        return AuthResult::kAllowed;
      }
      failed = failed_.count(key) != 0;
      if (failed) ++cache_hits_;
    }
    if (failed) return Failed(peer, budgeted);
  }
  if (cached_only) return std::nullopt;
  if (budgeted && !TakeBudget(peer)) {
    ++throttled_;
    return AuthResult::kThrottled;
  }
  bool ok = Bcrypt(user, password);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(mu_);
    if (ok) {
      if (verified_.size() >= kMaxCached) verified_.clear();
      verified_.insert(std::move(key));
    } else {
      if (failed_.size() >= kMaxFailedCached) failed_.clear();
      failed_.insert(std::move(key));
    }
  }
  return ok ? AuthResult::kAllowed : Failed(peer, budgeted);
}

std::optional<AuthResult> BasicAuth::Decide(const char* authorization, std::string_view peer, bool cached_only) {
  if (authorization == nullptr) return AuthResult::kDenied;  // no credentials: not a wrong password
  std::string_view h(authorization);
  if (h.size() < 6 || strncasecmp(h.data(), "Basic ", 6) != 0) return Failed(peer, true);
  h.remove_prefix(6);
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
  if (h.size() > 4096) return Failed(peer, true);
  std::string decoded;
  if (!DecodeBase64(h, &decoded)) return Failed(peer, true);
  size_t colon = decoded.find(':');
  // bcrypt reads the password as a C string: "right\0anything" would pass as
  // "right". No stored hash can stand for a password with a NUL, so refuse it.
  const bool usable = colon != std::string::npos && decoded.find('\0') == std::string::npos;
  std::optional<AuthResult> result;
  if (usable) {
    result = Verify(std::string_view(decoded).substr(0, colon), std::string_view(decoded).substr(colon + 1), peer, true,
                    cached_only);
  }
  OPENSSL_cleanse(decoded.data(), decoded.size());
  if (!usable) return Failed(peer, true);
  return result;
}

AuthResult BasicAuth::Check(const char* authorization, std::string_view peer) {
  std::optional<AuthResult> r = Decide(authorization, peer, false);
  return r ? *r : AuthResult::kDenied;
}

std::optional<AuthResult> BasicAuth::CheckCached(const char* authorization, std::string_view peer) {
  return Decide(authorization, peer, true);
}

}  // namespace botwatch
