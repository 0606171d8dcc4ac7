// agent/host_check.h: which Host headers the DNS-rebinding guard admits.

#include "agent/host_check.h"

#include <catch2/catch.hpp>

using namespace botwatch;

TEST_CASE("host check: IP literals, localhost, listen names and allowed names pass, other names do not") {
  HostAllowList hosts({":10117", "bot-host.internal:9000", "[::1]:10117"}, {"Status.Example.COM", "b.example:80"});
  for (const char* ok :
       {"127.0.0.1:10117", "10.0.0.7", "[::1]:10117", "[fe80::1]", "localhost", "LocalHost:1", "localhost.",
        "bot-host.internal:9000", "status.example.com:10117", "status.example.com.", "b.example", ""}) {
    INFO(ok);
    CHECK(hosts.Allows(ok));
  }
  for (const char* refused : {"evil.example:10117", "evil.example", "localhost.evil.example", "127.0.0.1.nip.io",
                              "example.com", "status.example.com.evil", "[evil]", ":10117", "0x7f000001", "bot-host"}) {
    INFO(refused);
    CHECK_FALSE(hosts.Allows(refused));
  }
}

TEST_CASE("host check: the host part of a Host header") {
  CHECK(HostOfHeader("Example.COM:80") == "example.com");
  CHECK(HostOfHeader("[::1]:80") == "::1");
  CHECK(HostOfHeader("[::1]") == "::1");
  CHECK(HostOfHeader("a.example.") == "a.example");
  CHECK(HostOfHeader(" a.example ") == "a.example");
  CHECK(AllowedHostProblem("ok.example:8080").empty());
  CHECK(AllowedHostProblem("") == "is empty");
  CHECK_FALSE(AllowedHostProblem("a/b").empty());
}
