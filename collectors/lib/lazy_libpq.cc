// libpq, loaded on first use instead of at start-up.
//
// Like libcurl (see lazy_curl.cc), libpq pulls in Kerberos, LDAP and GnuTLS;
// mapping them costs every botwatch process several MB of RSS, whether or not
// it has a postgres collector. These definitions of the libpq functions
// botwatch calls forward to the real ones, looked up with dlopen the first
// time any of them is called. Call sites use <libpq-fe.h> unchanged, and the
// compiler checks every signature here against that header.
//
// If libpq cannot be loaded, PQconnectStart() returns nullptr, which the
// postgres collector reports as a failed probe.

#include <libpq-fe.h>

#include "base/shared_library.h"
#include "collectors/lib/lazy_libraries.h"

// X(return type, name, (parameters), (arguments), value when libpq is missing)
#define BOTWATCH_LIBPQ_FUNCTIONS(X)                                                                          \
  X(int, PQcancel, (PGcancel * c, char* buf, int size), (c, buf, size), 0)                                   \
  X(void, PQclear, (PGresult * r), (r), )                                                                    \
  X(PostgresPollingStatusType, PQconnectPoll, (PGconn * c), (c), PGRES_POLLING_FAILED)                       \
  X(PGconn*, PQconnectStart, (const char* info), (info), nullptr)                                            \
  X(void, PQconninfoFree, (PQconninfoOption * o), (o), )                                                     \
  X(PQconninfoOption*, PQconninfoParse, (const char* info, char** err), (info, err), nullptr)                \
  X(int, PQconsumeInput, (PGconn * c), (c), 0)                                                               \
  X(char*, PQerrorMessage, (const PGconn* c), (c), const_cast<char*>("libpq could not be loaded"))           \
  X(void, PQfinish, (PGconn * c), (c), )                                                                     \
  X(int, PQflush, (PGconn * c), (c), -1)                                                                     \
  X(char*, PQfname, (const PGresult* r, int f), (r, f), nullptr)                                             \
  X(void, PQfreeCancel, (PGcancel * c), (c), )                                                               \
  X(void, PQfreemem, (void* p), (p), )                                                                       \
  X(PGcancel*, PQgetCancel, (PGconn * c), (c), nullptr)                                                      \
  X(PGresult*, PQgetResult, (PGconn * c), (c), nullptr)                                                      \
  X(int, PQgetisnull, (const PGresult* r, int t, int f), (r, t, f), 1)                                       \
  X(int, PQgetlength, (const PGresult* r, int t, int f), (r, t, f), 0)                                       \
  X(char*, PQgetvalue, (const PGresult* r, int t, int f), (r, t, f), nullptr)                                \
  X(int, PQisBusy, (PGconn * c), (c), 0)                                                                     \
  X(int, PQnfields, (const PGresult* r), (r), 0)                                                             \
  X(int, PQntuples, (const PGresult* r), (r), 0)                                                             \
  X(char*, PQresultErrorField, (const PGresult* r, int code), (r, code), nullptr)                            \
  X(char*, PQresultErrorMessage, (const PGresult* r), (r), const_cast<char*>(""))                            \
  X(ExecStatusType, PQresultStatus, (const PGresult* r), (r), PGRES_FATAL_ERROR)                             \
  X(int, PQsendQuery, (PGconn * c, const char* q), (c, q), 0)                                                \
  X(PQnoticeProcessor, PQsetNoticeProcessor, (PGconn * c, PQnoticeProcessor p, void* a), (c, p, a), nullptr) \
  X(int, PQsetnonblocking, (PGconn * c, int arg), (c, arg), -1)                                              \
  X(int, PQsocket, (const PGconn* c), (c), -1)                                                               \
  X(ConnStatusType, PQstatus, (const PGconn* c), (c), CONNECTION_BAD)

BOTWATCH_LAZY_LIBRARY(LibpqMissing, "libpq.so.5", "libpq5", BOTWATCH_LIBPQ_FUNCTIONS, BOTWATCH_LAZY_NONE,
                      BOTWATCH_LAZY_NOTHING_ON_LOAD)
