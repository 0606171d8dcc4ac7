/* Loaded by civetweb as "libcrypto.so" (see CMakeLists.txt). It defines nothing:
   civetweb's lookups resolve from libcrypto.so.3, which this library depends on,
   so the package does not need libssl-dev's unversioned symlink at run time. */
#include <openssl/crypto.h>

unsigned long botwatch_libcrypto_shim_version(void);
unsigned long botwatch_libcrypto_shim_version(void) { return OpenSSL_version_num(); }
