// libcrypto, loaded on first use (base/lazy_openssl.h says why). Besides the
// forwarded functions, three are written by hand below: even without OpenSSL
// the buffer gets a message, a secret still gets wiped, and a password hash is
// still compared in constant time (basic auth needs only libcrypt's bcrypt,
// not OpenSSL).

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstring>

#include "base/lazy_openssl.h"
#include "base/shared_library.h"

namespace {
constexpr const char* kMissing = "OpenSSL could not be loaded (install Debian's libssl3 package)";
}  // namespace

// X(return type, name, (parameters), (arguments), value when OpenSSL is missing)
#define BOTWATCH_LIBCRYPTO_FUNCTIONS(X)                                                                              \
  X(long, BIO_ctrl, (BIO * b, int cmd, long larg, void* parg), (b, cmd, larg, parg), 0)                              \
  X(size_t, BIO_ctrl_pending, (BIO * b), (b), 0)                                                                     \
  X(int, BIO_free, (BIO * b), (b), 0)                                                                                \
  X(int, BIO_new_bio_pair, (BIO * *bio1, size_t writebuf1, BIO * *bio2, size_t writebuf2),                           \
    (bio1, writebuf1, bio2, writebuf2), 0)                                                                           \
  X(int, BIO_read, (BIO * b, void* data, int dlen), (b, data, dlen), -1)                                             \
  X(int, BIO_write, (BIO * b, const void* data, int dlen), (b, data, dlen), -1)                                      \
  X(const char*, ERR_reason_error_string, (unsigned long e), (e), kMissing)                                          \
  X(void, ERR_clear_error, (void), (), )                                                                             \
  X(unsigned long, ERR_get_error, (void), (), 0)                                                                     \
  X(unsigned long, ERR_peek_error, (void), (), 0)                                                                    \
  X(unsigned long, ERR_peek_last_error, (void), (), 0)                                                               \
  X(int, EVP_DigestFinal_ex, (EVP_MD_CTX * ctx, unsigned char* md, unsigned int* s), (ctx, md, s), 0)                \
  X(int, EVP_DigestInit_ex, (EVP_MD_CTX * ctx, const EVP_MD* type, ENGINE* impl), (ctx, type, impl), 0)              \
  X(int, EVP_DigestUpdate, (EVP_MD_CTX * ctx, const void* d, size_t cnt), (ctx, d, cnt), 0)                          \
  X(void, EVP_MD_CTX_free, (EVP_MD_CTX * ctx), (ctx), )                                                              \
  X(EVP_MD_CTX*, EVP_MD_CTX_new, (void), (), nullptr)                                                                \
  X(const EVP_MD*, EVP_sha256, (void), (), nullptr)                                                                  \
  X(unsigned char*, HMAC,                                                                                            \
    (const EVP_MD* md, const void* key, int key_len, const unsigned char* data, size_t data_len, unsigned char* out, \
     unsigned int* out_len),                                                                                         \
    (md, key, key_len, data, data_len, out, out_len), nullptr)                                                       \
  X(int, RAND_bytes, (unsigned char* buf, int num), (buf, num), 0)                                                   \
  X(unsigned char*, SHA1, (const unsigned char* d, size_t n, unsigned char* md), (d, n, md), nullptr)                \
  X(int, X509_VERIFY_PARAM_set1_host, (X509_VERIFY_PARAM * p, const char* name, size_t len), (p, name, len), 0)      \
  X(int, X509_VERIFY_PARAM_set1_ip_asc, (X509_VERIFY_PARAM * p, const char* ip), (p, ip), 0)                         \
  X(const char*, X509_verify_cert_error_string, (long n), (n), kMissing)

// Forwarded by hand below.
#define BOTWATCH_LIBCRYPTO_BY_HAND(X)                                                    \
  X(int, CRYPTO_memcmp, (const void* a, const void* b, size_t len), (a, b, len), 0)      \
  X(void, ERR_error_string_n, (unsigned long e, char* buf, size_t len), (e, buf, len), ) \
  X(void, OPENSSL_cleanse, (void* ptr, size_t len), (ptr, len), )

BOTWATCH_LAZY_LIBRARY(LibcryptoMissing, "libcrypto.so.3", "libssl3", BOTWATCH_LIBCRYPTO_FUNCTIONS,
                      BOTWATCH_LIBCRYPTO_BY_HAND, BOTWATCH_LAZY_NOTHING_ON_LOAD)

extern "C" {

int CRYPTO_memcmp(const void* a, const void* b, size_t len) {
  if (const LazyApi* api = Api()) return api->CRYPTO_memcmp(a, b, len);
  const volatile unsigned char* x = static_cast<const volatile unsigned char*>(a);
  const volatile unsigned char* y = static_cast<const volatile unsigned char*>(b);
  unsigned char diff = 0;
  for (size_t i = 0; i < len; ++i) diff = static_cast<unsigned char>(diff | (x[i] ^ y[i]));
  return diff != 0;
}

void ERR_error_string_n(unsigned long e, char* buf, size_t len) {
  if (const LazyApi* api = Api()) return api->ERR_error_string_n(e, buf, len);
  if (len == 0) return;
  std::strncpy(buf, kMissing, len - 1);
  buf[len - 1] = '\0';
}

void OPENSSL_cleanse(void* ptr, size_t len) {
  if (const LazyApi* api = Api()) return api->OPENSSL_cleanse(ptr, len);
  volatile unsigned char* p = static_cast<volatile unsigned char*>(ptr);
  while (len-- > 0) *p++ = 0;
}

}  // extern "C"
