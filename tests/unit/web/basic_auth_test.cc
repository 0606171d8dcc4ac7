// BasicAuth's defences against guessing (issue 13 items 2, 7, 10): the same work
// for known and unknown users whatever their bcrypt cost, remembered failures,
// a per-peer budget of new checks, and passwords with a NUL byte.

#include "web/basic_auth.h"

#include <crypt.h>

#include <catch2/catch.hpp>
#include <string>

using botwatch::AuthResult;
using botwatch::BasicAuth;
using botwatch::BcryptBudget;
using botwatch::Secret;

namespace {

std::string Hash(const std::string& password, int cost) {
  char setting[64];
  REQUIRE(crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), nullptr, 0, setting, sizeof setting) != nullptr);
  crypt_data data{};
  const char* out = crypt_rn(password.c_str(), setting, &data, sizeof data);
  REQUIRE(out != nullptr);
  return out;
}

std::string Header(const std::string& user_pass) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned v = 0;
  int bits = 0;
  for (unsigned char c : user_pass) {
    v = (v << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += k[(v >> bits) & 63];
    }
  }
  if (bits > 0) out += k[(v << (6 - bits)) & 63];
  while (out.size() % 4) out += '=';
  return "Basic " + out;
}

BcryptBudget Unlimited() { return BcryptBudget{1e9, 1e9, 1e9, 1e9}; }

}  // namespace

TEST_CASE("a user's bcrypt cost does not show: known and unknown names cost the same runs") {
  BasicAuth auth({{"low", Secret(Hash("a", 4))}, {"high", Secret(Hash("b", 5))}}, Unlimited());
  auto runs_for = [&](const std::string& creds) {
    uint64_t before = auth.bcrypt_runs();
    CHECK(auth.Check(Header(creds).c_str(), "p") == AuthResult::kDenied);
    return auth.bcrypt_runs() - before;
  };
  // One run per distinct cost (4 and 5) whoever is asked for: before, an
  // unknown name ran one cost-10 check and a known one its own cost.
  CHECK(runs_for("low:wrong") == 2);
  CHECK(runs_for("high:wrong") == 2);
  CHECK(runs_for("nobody:wrong") == 2);
  CHECK(auth.Check(Header("low:a").c_str(), "p") == AuthResult::kAllowed);
  CHECK(auth.Check(Header("high:b").c_str(), "p") == AuthResult::kAllowed);
}

TEST_CASE("a replayed wrong password is answered from memory") {
  BasicAuth auth({{"u", Secret(Hash("right", 4))}}, Unlimited());
  CHECK(auth.Check(Header("u:wrong").c_str(), "p") == AuthResult::kDenied);
  uint64_t checks = auth.bcrypt_checks();
  for (int i = 0; i < 20; ++i) CHECK(auth.Check(Header("u:wrong").c_str(), "p") == AuthResult::kDenied);
  CHECK(auth.bcrypt_checks() == checks);
}

TEST_CASE("new credentials past a peer's budget are throttled, not checked") {
  // No refill to speak of: the burst alone decides.
  BasicAuth auth({{"u", Secret(Hash("right", 4))}}, BcryptBudget{1e-6, 100, 1e-6, 3});
  for (int i = 0; i < 3; ++i) {
    CHECK(auth.Check(Header("u:guess" + std::to_string(i)).c_str(), "10.0.0.1") == AuthResult::kDenied);
  }
  uint64_t checks = auth.bcrypt_checks();
  CHECK(auth.Check(Header("u:guess9").c_str(), "10.0.0.1") == AuthResult::kThrottled);
  CHECK(auth.bcrypt_checks() == checks);
  // Another peer has its own budget, and remembered successes need none.
  CHECK(auth.Check(Header("u:right").c_str(), "10.0.0.2") == AuthResult::kAllowed);
  CHECK(auth.Check(Header("u:right").c_str(), "10.0.0.1") == AuthResult::kAllowed);
}

TEST_CASE("a password with a NUL byte is refused, not cut at the NUL") {
  BasicAuth auth({{"u", Secret(Hash("right", 4))}}, Unlimited());
  CHECK(auth.Check(Header(std::string("u:right\0more", 12)).c_str(), "p") == AuthResult::kDenied);
  CHECK(auth.Check(Header("u:right").c_str(), "p") == AuthResult::kAllowed);
}
