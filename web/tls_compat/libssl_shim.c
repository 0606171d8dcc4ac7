/* Loaded by civetweb as "libssl.so" (see CMakeLists.txt): everything resolves
   from the real libssl.so.3 this library depends on, except the one OpenSSL 1.1
   name that civetweb 1.15 looks up and OpenSSL 3 only has as a macro. */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate
X509* SSL_get_peer_certificate(const SSL* ssl);

X509* SSL_get_peer_certificate(const SSL* ssl) { return SSL_get1_peer_certificate(ssl); }
