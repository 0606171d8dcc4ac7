#pragma once

// HTTP spoken by hand over a raw TCP socket, for tests that need what an HTTP
// client hides: a connection kept open, a request sent in pieces, a chosen
// source address, an answer that never comes.

#include <chrono>
#include <string>

namespace botwatch::testing {

// A TCP connection to 127.0.0.1:port from `source` (another loopback address
// stands for another client; "" lets the kernel choose); closed on destruction.
class RawConnection {
 public:
  explicit RawConnection(int port, const std::string& source = "");
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return fd_ >= 0; }
  bool Send(const std::string& s);
  // Reads until a whole answer with its Content-Length is in (with
  // `want_close`: until EOF) or `timeout`; returns it and forgets it.
  std::string Read(std::chrono::milliseconds timeout, bool want_close = false);
  // Reads until a header block is in or `timeout`; returns everything
  // received on this connection so far.
  std::string ReadHead(std::chrono::milliseconds timeout);
  // Whether the server closed it during a read.
  bool closed() const { return closed_; }
  // Whether the server has not closed it yet (checked without waiting).
  bool Open() const;

 private:
  // Reads until `done()` holds, the server closes, or `timeout`.
  template <typename Done>
  void ReadUntil(std::chrono::milliseconds timeout, Done done);
  bool Complete() const;

  int fd_ = -1;
  std::string data_;
  bool closed_ = false;
};

// One request on a fresh connection from `source`; the status of the whole
// answer, or 0 without one in `timeout`.
int Ask(int port, const std::string& request, std::chrono::milliseconds timeout = std::chrono::seconds(5),
        const std::string& source = "");

// The status code of an answer's status line; 0 if there is none.
int StatusOf(const std::string& response);

// The value of an Authorization header for basic auth: "Basic " + base64.
std::string BasicAuthorization(const std::string& user_pass);

// "GET path" to 127.0.0.1, with an Authorization header if `auth` is given.
std::string GetRequest(const std::string& path, const std::string& auth = "");

}  // namespace botwatch::testing
