// OpenSSL (libssl and libcrypto), loaded on first use instead of at start-up,
// like libcurl (collectors/lib/lazy_curl.cc): a botwatch with no TLS, no basic
// auth and no HTTPS or WebSocket probe never maps them, which saves about
// 1.7 MB of RSS (libcrypto runs its initialisation as soon as it is loaded).
// Call sites use the OpenSSL headers unchanged (Boost.Asio's TLS stream, in
// web/web_server.cc, among them: it drives OpenSSL through a BIO pair, so
// these functions are all it needs); the compiler checks every signature here
// against them. SSL_CTX_set_min_proto_version and
// SSL_set_tlsext_host_name are macros over SSL_CTX_ctrl and SSL_ctrl.
//
// If OpenSSL cannot be loaded, the calls fail the way OpenSSL reports its own
// failures (SSL_CTX_new returns nullptr, RAND_bytes 0, ...), and the error
// strings say so.

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <cstring>

#include "base/lazy_openssl.h"
#include "base/shared_library.h"

namespace {

constexpr const char* kMissing = "OpenSSL could not be loaded (install Debian's libssl3 package)";

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

#define BOTWATCH_LIBSSL_FUNCTIONS(X)                                                                                   \
  X(int, SSL_accept, (SSL * ssl), (ssl), -1)                                                                           \
  X(int, SSL_CTX_set_cipher_list, (SSL_CTX * ctx, const char* str), (ctx, str), 0)                                     \
  X(uint64_t, SSL_CTX_set_options, (SSL_CTX * ctx, uint64_t op), (ctx, op), 0)                                         \
  X(void*, SSL_CTX_get_default_passwd_cb_userdata, (SSL_CTX * ctx), (ctx), nullptr)                                    \
  X(void*, SSL_CTX_get_ex_data, (const SSL_CTX* ctx, int idx), (ctx, idx), nullptr)                                    \
  X(void, SSL_CTX_set_default_passwd_cb_userdata, (SSL_CTX * ctx, void* u), (ctx, u), )                                \
  X(int, SSL_CTX_set_ex_data, (SSL_CTX * ctx, int idx, void* data), (ctx, idx, data), 0)                               \
  X(void*, SSL_get_ex_data, (const SSL* ssl, int idx), (ssl, idx), nullptr)                                            \
  X(int, SSL_get_shutdown, (const SSL* ssl), (ssl), 0)                                                                 \
  X(void, SSL_set_bio, (SSL * ssl, BIO * rbio, BIO * wbio), (ssl, rbio, wbio), )                                       \
  X(int, SSL_set_ex_data, (SSL * ssl, int idx, void* data), (ssl, idx, data), 0)                                       \
  X(int, SSL_shutdown, (SSL * ssl), (ssl), -1)                                                                         \
  X(int, SSL_CTX_check_private_key, (const SSL_CTX* ctx), (ctx), 0)                                                    \
  X(long, SSL_CTX_ctrl, (SSL_CTX * ctx, int cmd, long larg, void* parg), (ctx, cmd, larg, parg), 0)                    \
  X(void, SSL_CTX_free, (SSL_CTX * ctx), (ctx), )                                                                      \
  X(int, SSL_CTX_load_verify_locations, (SSL_CTX * ctx, const char* file, const char* path), (ctx, file, path), 0)     \
  X(SSL_CTX*, SSL_CTX_new, (const SSL_METHOD* method), (method), nullptr)                                              \
  X(void, SSL_CTX_set_client_CA_list, (SSL_CTX * ctx, STACK_OF(X509_NAME) * list), (ctx, list), )                      \
  X(int, SSL_CTX_set_default_verify_paths, (SSL_CTX * ctx), (ctx), 0)                                                  \
  X(int, SSL_CTX_set_session_id_context, (SSL_CTX * ctx, const unsigned char* sid, unsigned int len), (ctx, sid, len), \
    0)                                                                                                                 \
  X(void, SSL_CTX_set_verify, (SSL_CTX * ctx, int mode, SSL_verify_cb cb), (ctx, mode, cb), )                          \
  X(int, SSL_CTX_use_PrivateKey_file, (SSL_CTX * ctx, const char* file, int type), (ctx, file, type), 0)               \
  X(int, SSL_CTX_use_certificate_chain_file, (SSL_CTX * ctx, const char* file), (ctx, file), 0)                        \
  X(int, SSL_connect, (SSL * ssl), (ssl), -1)                                                                          \
  X(long, SSL_ctrl, (SSL * ssl, int cmd, long larg, void* parg), (ssl, cmd, larg, parg), 0)                            \
  X(void, SSL_free, (SSL * ssl), (ssl), )                                                                              \
  X(X509_VERIFY_PARAM*, SSL_get0_param, (SSL * ssl), (ssl), nullptr)                                                   \
  X(int, SSL_get_error, (const SSL* ssl, int ret), (ssl, ret), SSL_ERROR_SSL)                                          \
  X(long, SSL_get_verify_result, (const SSL* ssl), (ssl), X509_V_ERR_UNSPECIFIED)                                      \
  X(STACK_OF(X509_NAME)*, SSL_load_client_CA_file, (const char* file), (file), nullptr)                                \
  X(SSL*, SSL_new, (SSL_CTX * ctx), (ctx), nullptr)                                                                    \
  X(int, SSL_pending, (const SSL* ssl), (ssl), 0)                                                                      \
  X(int, SSL_read, (SSL * ssl, void* buf, int num), (ssl, buf, num), -1)                                               \
  X(int, SSL_set_fd, (SSL * ssl, int fd), (ssl, fd), 0)                                                                \
  X(int, SSL_write, (SSL * ssl, const void* buf, int num), (ssl, buf, num), -1)                                        \
  X(const SSL_METHOD*, TLS_client_method, (void), (), nullptr)                                                         \
  X(const SSL_METHOD*, TLS_server_method, (void), (), nullptr)

struct CryptoApi {
  BOTWATCH_LIBCRYPTO_FUNCTIONS(BOTWATCH_LAZY_POINTER)
  int (*CRYPTO_memcmp)(const void* a, const void* b, size_t len);
  void (*ERR_error_string_n)(unsigned long e, char* buf, size_t len);
  void (*OPENSSL_cleanse)(void* ptr, size_t len);
};

struct SslApi {
  BOTWATCH_LIBSSL_FUNCTIONS(BOTWATCH_LAZY_POINTER)
};

const botwatch::LoadedApi<CryptoApi>& LoadedCrypto() {
  static const botwatch::LoadedApi<CryptoApi> loaded =
      botwatch::LoadApi<CryptoApi>("libcrypto.so.3", "libssl3", [](botwatch::SharedLibrary& lib, CryptoApi& table) {
        BOTWATCH_LIBCRYPTO_FUNCTIONS(BOTWATCH_LAZY_LOAD)
        lib.Load(table.CRYPTO_memcmp, "CRYPTO_memcmp");
        lib.Load(table.ERR_error_string_n, "ERR_error_string_n");
        lib.Load(table.OPENSSL_cleanse, "OPENSSL_cleanse");
      });
  return loaded;
}

const botwatch::LoadedApi<SslApi>& LoadedSsl() {
  static const botwatch::LoadedApi<SslApi> loaded = botwatch::LoadApi<SslApi>(
      "libssl.so.3", "libssl3",
      [](botwatch::SharedLibrary& lib, SslApi& table) { BOTWATCH_LIBSSL_FUNCTIONS(BOTWATCH_LAZY_LOAD) });
  return loaded;
}

const CryptoApi* Crypto() { return LoadedCrypto().api; }
const SslApi* Ssl() { return LoadedSsl().api; }

}  // namespace

namespace botwatch {
std::string OpenSslMissing() {
  if (!LoadedCrypto().error.empty()) return LoadedCrypto().error;
  return LoadedSsl().error;
}
}  // namespace botwatch

extern "C" {

#define Api Crypto
BOTWATCH_LIBCRYPTO_FUNCTIONS(BOTWATCH_LAZY_FORWARD)
#undef Api
#define Api Ssl
BOTWATCH_LIBSSL_FUNCTIONS(BOTWATCH_LAZY_FORWARD)
#undef Api

// Written by hand: even without OpenSSL the buffer gets a message, a secret
// still gets wiped, and a password hash is still compared in constant time
// (basic auth needs only libcrypt's bcrypt, not OpenSSL).
int CRYPTO_memcmp(const void* a, const void* b, size_t len) {
  if (const CryptoApi* api = Crypto()) return api->CRYPTO_memcmp(a, b, len);
  const volatile unsigned char* x = static_cast<const volatile unsigned char*>(a);
  const volatile unsigned char* y = static_cast<const volatile unsigned char*>(b);
  unsigned char diff = 0;
  for (size_t i = 0; i < len; ++i) diff = static_cast<unsigned char>(diff | (x[i] ^ y[i]));
  return diff != 0;
}

void ERR_error_string_n(unsigned long e, char* buf, size_t len) {
  if (const CryptoApi* api = Crypto()) return api->ERR_error_string_n(e, buf, len);
  if (len == 0) return;
  std::strncpy(buf, kMissing, len - 1);
  buf[len - 1] = '\0';
}

void OPENSSL_cleanse(void* ptr, size_t len) {
  if (const CryptoApi* api = Crypto()) return api->OPENSSL_cleanse(ptr, len);
  volatile unsigned char* p = static_cast<volatile unsigned char*>(ptr);
  while (len-- > 0) *p++ = 0;
}

}  // extern "C"
