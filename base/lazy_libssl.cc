// libssl, loaded on first use (base/lazy_openssl.h says why).

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "base/lazy_openssl.h"
#include "base/shared_library.h"

// X(return type, name, (parameters), (arguments), value when OpenSSL is missing)
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

BOTWATCH_LAZY_LIBRARY(LibsslMissing, "libssl.so.3", "libssl3", BOTWATCH_LIBSSL_FUNCTIONS, BOTWATCH_LAZY_NONE,
                      BOTWATCH_LAZY_NOTHING_ON_LOAD)
