#include "web/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <strings.h>

#include <memory>

namespace botwatch {
namespace {

// Checked for unknown users, so a wrong name costs as long as a wrong password
// and response times do not reveal which user names exist. (bcrypt of a random
// string that nobody knows.)
constexpr const char* kDummyHash = "$2b$10$qaCdbc2LjDNcN6xyw49JK.vQqW/KNvVwKrLYgel0Y9tT6Y7r3HXQO";

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

BasicAuth::BasicAuth(std::map<std::string, Secret> users) : users_(std::move(users)) {
  salt_.resize(32);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt_.data()), static_cast<int>(salt_.size())) != 1) {
    // Without randomness the keys are still one-way digests; only less opaque.
    salt_.assign(32, '\x5a');
  }
}

std::string BasicAuth::CacheKey(std::string_view user, std::string_view password) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, salt_.data(), salt_.size());
  EVP_DigestUpdate(ctx, user.data(), user.size());
  EVP_DigestUpdate(ctx, "\0", 1);
  EVP_DigestUpdate(ctx, password.data(), password.size());
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  return std::string(reinterpret_cast<char*>(digest), len);
}

bool BasicAuth::Verify(std::string_view user, std::string_view password) {
  std::string key = CacheKey(user, password);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (verified_.count(key) != 0) {
      ++cache_hits_;
      return true;
    }
  }
  // Only successes are cached: a wrong guess always pays the full bcrypt cost.
  ++bcrypt_checks_;
  auto it = users_.find(std::string(user));
  if (it == users_.end()) {
    (void)BcryptMatches(password, kDummyHash);
    return false;
  }
  if (!BcryptMatches(password, it->second.reveal())) return false;
  std::lock_guard<std::mutex> lock(mu_);
  if (verified_.size() >= kMaxCached) verified_.clear();
  verified_.insert(std::move(key));
  return true;
}

bool BasicAuth::Allow(const char* authorization) {
  if (authorization == nullptr) return false;
  std::string_view h(authorization);
  if (h.size() < 6 || strncasecmp(h.data(), "Basic ", 6) != 0) return false;
  h.remove_prefix(6);
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
  if (h.size() > 4096) return false;
  std::string decoded;
  if (!DecodeBase64(h, &decoded)) return false;
  size_t colon = decoded.find(':');
  bool ok = colon != std::string::npos &&
            Verify(std::string_view(decoded).substr(0, colon), std::string_view(decoded).substr(colon + 1));
  OPENSSL_cleanse(decoded.data(), decoded.size());
  return ok;
}

}  // namespace botwatch
