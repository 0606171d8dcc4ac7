// The attacks that took the civetweb face off the air (issue 26), against the
// real binary over real sockets on 127.0.0.x: kept-alive connections without
// auth, slow bodies, stalled TLS handshakes, connections spread over many
// addresses past the fd budget, an internal port, the start-up window, and a
// replayed wrong password. Every loop is bounded in count and time; timing is
// only ever a generous upper bound.

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/botwatch_process.h"
#include "tests/support/proc_stats.h"
#include "tests/support/raw_http.h"
#include "tests/support/secure_http.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

const char* kConfig =
    "collectors: []\n"
    "logs:\n"
    "  - name: remote\n"
    "    type: http\n"
    "    rules: [{metric: remote_lines_total, type: counter, help: Lines., match: {field: message, exists: true}}]\n";

const std::string kPassword = "right-pw";

// Legitimate requests from 127.0.0.1 while an attack holds its connections:
// every one must be answered, and quickly.
struct Legit {
  int answered = 0;
  int asked = 0;
  double worst_seconds = 0;
};
Legit AskLegit(int port, const std::string& auth, int rounds = 3) {
  Legit l;
  for (int i = 0; i < rounds; ++i) {
    for (const std::string& req : {GetRequest("/-/healthy"), GetRequest("/metrics", auth)}) {
      auto start = std::chrono::steady_clock::now();
      ++l.asked;
      if (Ask(port, req, 5s) == 200) ++l.answered;
      l.worst_seconds =
          std::max(l.worst_seconds, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  return l;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), len) == 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

double MetricValue(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

std::string Metrics(int port, const std::string& auth = "") {
  RawConnection c(port);
  if (!c.Send(GetRequest("/metrics", auth))) return "";
  return c.Read(5s);
}

// TCP ports `pid` listens on (its sockets in LISTEN state, IPv4 and IPv6).
std::set<int> ListeningPorts(pid_t pid) {
  std::set<std::string> inodes;
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      char target[256];
      ssize_t n = readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      target[n] = '\0';
      std::string t(target);
      if (t.rfind("socket:[", 0) == 0) inodes.insert(t.substr(8, t.size() - 9));
    }
    closedir(d);
  }
  std::set<int> ports;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string sl, local, remote, state, queues, tr, retr, uid, timeout, inode;
      fields >> sl >> local >> remote >> state >> queues >> tr >> retr >> uid >> timeout >> inode;
      if (state != "0A" || inodes.count(inode) == 0) continue;
      ports.insert(std::stoi(local.substr(local.find(':') + 1), nullptr, 16));
    }
  }
  return ports;
}

struct AuthServer {
  explicit AuthServer(const TempDir& dir, std::vector<std::string> extra = {}, int cost = 4)
      : bw(dir.Write("botwatch.yaml", kConfig), dir.path(), Args(dir, std::move(extra), cost), MemoryBoundEnv()) {}
  static std::vector<std::string> Args(const TempDir& dir, std::vector<std::string> extra, int cost) {
    extra.push_back("--web.config.file=" +
                    dir.Write("web.yml", "basic_auth_users:\n  prom: " + BcryptHash(kPassword, cost) + "\n"));
    return extra;
  }
  int Serving() {
    REQUIRE(bw.WaitStarted());
    REQUIRE(Eventually(
        [&] { return Ask(bw.port(), GetRequest("/metrics", BasicAuthorization("prom:" + kPassword))) == 200; }, 10s));
    return bw.port();
  }
  Botwatch bw;
};

}  // namespace

TEST_CASE("no web config: 48 kept-alive connections from 2 addresses do not take botwatch off the air") {
  TempDir dir;
  Botwatch bw(dir.Write("botwatch.yaml", kConfig), dir.path());
  REQUIRE(bw.WaitReady());
  const int port = bw.port();
  // Each makes one successful request, is kept alive (no auth: anyone may be),
  // and then stays silent.
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 48; ++i) {
    held.push_back(std::make_unique<RawConnection>(port, i % 2 ? "127.0.0.2" : "127.0.0.3"));
    REQUIRE(held.back()->Send(GetRequest("/api/v1/status")));
    REQUIRE(StatusOf(held.back()->Read(5s)) == 200);
  }
  int open = 0;
  for (auto& c : held) open += c->Open() ? 1 : 0;
  CHECK(open == 48);  // really kept alive: the attack is in place
  Legit l = AskLegit(port, "");
  CHECK(l.answered == l.asked);
  CHECK(l.worst_seconds < 1.0);
  // A kept-alive connection still serves its client's next request.
  REQUIRE(held.front()->Send(GetRequest("/-/ready")));
  CHECK(StatusOf(held.front()->Read(5s)) == 200);
}

TEST_CASE(
    "slow request bodies: 48 one-byte-a-second POSTs do not hold botwatch, and each is cut by its total deadline") {
  TempDir dir;
  AuthServer s(dir);
  const int port = s.Serving();
  const std::string auth = BasicAuthorization("prom:" + kPassword);
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 48; ++i) {
    held.push_back(std::make_unique<RawConnection>(port, i % 2 ? "127.0.0.2" : "127.0.0.3"));
    REQUIRE(held.back()->Send("POST /api/v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + auth +
                              "\r\nContent-Type: application/x-ndjson\r\nContent-Length: 1000\r\n\r\n{"));
  }
  auto start = std::chrono::steady_clock::now();
  std::atomic<bool> stop{false};
  // One byte a second on every connection, as the attack does (bounded: 10 s).
  std::thread drip([&] {
    for (int s = 0; s < 10 && !stop; ++s) {
      for (auto& c : held) c->Send("\"");
      for (int k = 0; k < 10 && !stop; ++k) std::this_thread::sleep_for(100ms);
    }
  });
  Legit l = AskLegit(port, auth);
  CHECK(l.answered == l.asked);
  CHECK(l.worst_seconds < 1.0);
  // The body deadline is on the total (3 s + its bytes at 1 KiB/s), not on
  // silence: a drip that never stops is answered 400 within seconds.
  std::string answer = held.front()->Read(15s);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stop = true;
  drip.join();
  CHECK(StatusOf(answer) == 400);
  CHECK(took < 8);
  std::string m = Metrics(port, auth);
  CHECK(MetricValue(m, "botwatch_http_deadline_cuts_total{phase=\"body\"}") >= 1);
}

TEST_CASE("TLS: 120 stalled handshakes from 4 addresses do not take /-/healthy off the air and are cut after 5 s") {
  TempDir dir;
  TestPki pki = MakeTestPki(dir.path());
  Botwatch bw(dir.Write("botwatch.yaml", "collectors: []\n"), dir.path(),
              {"--web.config.file=" +
               dir.Write("web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")});
  REQUIRE(bw.WaitStarted());
  const int port = bw.port();
  SecureRequest q;
  q.url = "https://127.0.0.1:" + std::to_string(port) + "/-/healthy";
  q.ca_file = pki.ca_cert;
  REQUIRE(Eventually([&] { return Fetch(q).status == 200; }, 10s));
  std::vector<std::unique_ptr<RawConnection>> held;
  // 5 bytes of a ClientHello (the record header), then nothing.
  for (int i = 0; i < 120; ++i) {
    held.push_back(std::make_unique<RawConnection>(port, "127.0.0." + std::to_string(2 + i % 4)));
    REQUIRE(held.back()->Send(std::string("\x16\x03\x01\x02\x00", 5)));
  }
  auto start = std::chrono::steady_clock::now();
  double worst = 0;
  for (int i = 0; i < 6; ++i) {
    SecureResult r = Fetch(q);
    CHECK(r.status == 200);
    worst = std::max(worst, r.seconds);
  }
  CHECK(worst < 1.0);
  held.front()->Read(15s, true);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(held.front()->closed());
  CHECK(took < 10);
}

TEST_CASE("scarce connections evict the oldest unfinished ones: legitimate clients always get in, and it is counted") {
  TempDir dir;
  // A small fd budget: botwatch holds at most (256 - 128) connections.
  const int port = FreePort();
  ChildProcess p(
      {"/usr/bin/prlimit", "--nofile=256:256", BOTWATCH_BINARY, "--config.file=" + dir.Write("b.yaml", kConfig),
       "--web.listen-address=127.0.0.1:" + std::to_string(port)},
      dir.path() + "/botwatch.log");
  REQUIRE(Eventually([&] { return Ask(port, GetRequest("/-/healthy"), 1s) == 200; }, 10s));
  std::string before = Metrics(port);
  CHECK(MetricValue(before, "botwatch_http_connections_limit") == 128);
  // 600 idle connections spread over 60 addresses (10 each, under the
  // per-client limit): far past the budget.
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 600; ++i) {
    held.push_back(std::make_unique<RawConnection>(port, "127.0.1." + std::to_string(1 + i % 60)));
  }
  Legit l = AskLegit(port, "", 5);
  CHECK(l.answered == l.asked);
  CHECK(l.worst_seconds < 1.0);
  std::string after = Metrics(port);
  CHECK(MetricValue(after, "botwatch_http_connections_evicted_total{reason=\"scarce\"}") >= 472);
  CHECK(MetricValue(after, "botwatch_http_connections") <= 128);
  CHECK(Eventually([&] { return p.Log().find("connections are scarce") != std::string::npos; }, 5s));
  // The oldest went first.
  CHECK_FALSE(held.front()->Open());
  p.Signal(SIGTERM);
  CHECK(p.WaitExit(10s).has_value());
}

TEST_CASE("no internal port: botwatch listens only where it was told") {
  TempDir dir;
  AuthServer s(dir);
  const int port = s.Serving();
  CHECK(ListeningPorts(s.bw.process().pid()) == std::set<int>{port});
}

TEST_CASE(
    "start-up: polled from the instant of exec, nothing is answered without credentials, and no early feed streams") {
  TempDir dir;
  const int port = FreePort();
  // Cost 12: the auth set-up (a dummy bcrypt) takes a good fraction of a
  // second, which used to be a window with no auth at all.
  std::string web = dir.Write("web.yml", "basic_auth_users:\n  prom: " + BcryptHash(kPassword, 12) + "\n");
  std::atomic<bool> done{false};
  std::atomic<int> answered{0}, unauthenticated_ok{0}, feed_streamed{0};
  std::vector<std::thread> pollers;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  for (int t = 0; t < 3; ++t) {
    pollers.emplace_back([&, t] {
      while (!done && std::chrono::steady_clock::now() < deadline) {
        RawConnection c(port);
        if (!c.ok()) continue;  // not listening yet: the right answer
        std::string req = t == 0   ? GetRequest("/metrics")
                          : t == 1 ? "POST /-/reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
                                   : GetRequest("/api/v1/feed");
        if (!c.Send(req)) continue;
        std::string r = c.Read(2s);
        if (StatusOf(r) != 0) ++answered;
        if (StatusOf(r) == 200) ++unauthenticated_ok;
        if (r.find("botwatch live feed") != std::string::npos) ++feed_streamed;
      }
    });
  }
  ChildProcess p({BOTWATCH_BINARY, "--config.file=" + dir.Write("b.yaml", kConfig),
                  "--web.listen-address=127.0.0.1:" + std::to_string(port), "--web.config.file=" + web},
                 dir.path() + "/botwatch.log");
  bool up = Eventually([&] { return p.Log().find("botwatch started") != std::string::npos; }, 15s);
  // Keep polling for a while once up.
  Eventually([&] { return answered >= 30; }, 5s);
  done = true;
  for (auto& th : pollers) th.join();
  REQUIRE(up);
  CHECK(answered > 0);
  CHECK(unauthenticated_ok == 0);
  CHECK(feed_streamed == 0);
  p.Signal(SIGTERM);
  CHECK(p.WaitExit(10s).has_value());
}

TEST_CASE("a replayed wrong password is charged every time: past the budget 429 with Retry-After, and slowed") {
  TempDir dir;
  AuthServer s(dir);
  const int port = s.Serving();
  const std::string wrong = BasicAuthorization("prom:wrong");
  CHECK(Ask(port, GetRequest("/metrics", wrong), 5s, "127.0.0.2") == 401);  // now cached
  // 8 loops replaying the same cached wrong password for 4 s.
  std::atomic<int> answers{0}, throttled{0}, allowed{0};
  std::atomic<bool> retry_after{false};
  std::vector<std::thread> flood;
  const auto end = std::chrono::steady_clock::now() + 4s;
  for (int t = 0; t < 8; ++t) {
    flood.emplace_back([&] {
      for (int i = 0; i < 10000 && std::chrono::steady_clock::now() < end; ++i) {
        RawConnection c(port, "127.0.0.2");
        if (!c.ok() || !c.Send(GetRequest("/metrics", wrong))) continue;
        std::string r = c.Read(3s);
        if (StatusOf(r) != 0) ++answers;
        if (StatusOf(r) == 200) ++allowed;
        if (StatusOf(r) == 429) {
          ++throttled;
          if (r.find("Retry-After: 1") != std::string::npos) retry_after = true;
        }
      }
    });
  }
  Legit l = AskLegit(port, BasicAuthorization("prom:" + kPassword));
  for (auto& th : flood) th.join();
  CHECK(l.answered == l.asked);
  CHECK(allowed == 0);
  CHECK(throttled > 0);
  CHECK(retry_after);
  // Unslowed, the old face answered 26,612 of these in 8 s; the budget (30)
  // and then the 1 s tarpit per connection bound it.
  CHECK(answers < 150);
}

TEST_CASE("threads do not grow with connections") {
  TempDir dir;
  Botwatch bw(dir.Write("botwatch.yaml", kConfig), dir.path());
  REQUIRE(bw.WaitReady());
  const pid_t pid = bw.process().pid();
  auto threads = [&] {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
    }
    return -1;
  };
  const int before = threads();
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 200; ++i) {
    held.push_back(std::make_unique<RawConnection>(bw.port(), "127.0.0." + std::to_string(2 + i % 8)));
    REQUIRE(held.back()->Send(GetRequest("/-/ready")));
  }
  for (auto& c : held) CHECK(StatusOf(c->Read(5s)) == 200);
  CHECK(threads() <= before);
  CHECK(before <= 8);
}

TEST_CASE("TLS 1.2 offers only forward-secret AEAD suites and refuses client renegotiation (openssl s_client)") {
  TempDir dir;
  TestPki pki = MakeTestPki(dir.path());
  Botwatch bw(dir.Write("botwatch.yaml", "collectors: []\n"), dir.path(),
              {"--web.config.file=" +
               dir.Write("web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")});
  REQUIRE(bw.WaitStarted());
  const std::string connect = "127.0.0.1:" + std::to_string(bw.port());
  auto s_client = [&](const std::string& cipher, const std::string& input) {
    return RunCommand({"/bin/sh", "-c",
                       "(printf '" + input + "'; sleep 1) | openssl s_client -connect " + connect +
                           " -tls1_2 -cipher '" + cipher + "' -CAfile " + pki.ca_cert + " 2>&1"},
                      "", 20s);
  };
  CommandResult fs = s_client("ECDHE+AESGCM", "");
  INFO(fs.output);
  CHECK(fs.output.find("Cipher is ECDHE-") != std::string::npos);
  CHECK(fs.output.find("Verify return code: 0 (ok)") != std::string::npos);
  // Static RSA key exchange (no forward secrecy) and CBC: no shared suite.
  CommandResult weak = s_client("AES128-SHA:AES256-SHA:AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA", "");
  INFO(weak.output);
  CHECK(weak.output.find("Cipher is (NONE)") != std::string::npos);
  CHECK(weak.output.find("alert handshake failure") != std::string::npos);
  CHECK(weak.output.find("no peer certificate available") != std::string::npos);
  // "R" asks s_client to renegotiate on the open connection.
  CommandResult reneg = s_client("ECDHE+AESGCM", "R\\n");
  INFO(reneg.output);
  CHECK(reneg.output.find("RENEGOTIATING") != std::string::npos);
  CHECK(reneg.output.find("no renegotiation") != std::string::npos);
  // Still serving.
  SecureRequest q;
  q.url = "https://" + connect + "/-/healthy";
  q.ca_file = pki.ca_cert;
  CHECK(Fetch(q).status == 200);
}
