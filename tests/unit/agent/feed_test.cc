#include "agent/feed.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <regex>
#include <thread>

#include "agent/config.h"
#include "tests/support/botwatch_process.h"

namespace botwatch {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;

// A client connection as the web server's stream is to the hub: Write()
// queues and returns at once. It can be made to stall (a reader that stopped
// reading: what is written stays "in flight", Busy(), until released) or to
// go away (the next write fails).
class FakeClient : public ResponseStream {
 public:
  bool Write(std::string data) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (gone_ || ended_) return false;
    if (stalled_) {
      in_flight_ += data;
    } else {
      text_ += data;
    }
    return true;
  }
  bool Busy() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return !in_flight_.empty();
  }
  bool Open() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return !gone_ && !ended_;
  }
  void OnDrained(std::function<void()> on_drained) override {
    std::lock_guard<std::mutex> lock(mu_);
    drained_ = std::move(on_drained);
  }
  void End() override {
    std::lock_guard<std::mutex> lock(mu_);
    drained_ = nullptr;
    ended_ = true;
  }
  bool ended() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ended_;
  }
  std::string text() const {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }
  void Stall(bool on) {
    std::function<void()> drained;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stalled_ = on;
      if (on || in_flight_.empty()) return;
      text_ += in_flight_;  // the reader caught up: what was in flight is out
      in_flight_.clear();
      drained = drained_;
    }
    if (drained) drained();
  }
  void Go() {
    std::lock_guard<std::mutex> lock(mu_);
    gone_ = true;
  }
  std::vector<uint64_t> Ids() const {
    std::vector<uint64_t> ids;
    std::string t = text();
    std::regex id_line(R"(\nid: (\d+)\n|^id: (\d+)\n)");
    for (std::sregex_iterator it(t.begin(), t.end(), id_line), end; it != end; ++it) {
      ids.push_back(std::stoull((*it)[1].matched ? (*it)[1].str() : (*it)[2].str()));
    }
    return ids;
  }

 private:
  mutable std::mutex mu_;
  std::string text_;
  std::string in_flight_;
  std::function<void()> drained_;
  bool stalled_ = false;
  bool gone_ = false;
  bool ended_ = false;
};

// Hands the stream of `resp` to a client, as the web server does once the
// headers are out.
struct Connection {
  std::shared_ptr<FakeClient> client_ptr = std::make_shared<FakeClient>();
  FakeClient& client = *client_ptr;
  explicit Connection(HttpResponse resp) {
    REQUIRE(resp.status == 200);
    REQUIRE(resp.stream);
    resp.stream(client_ptr);
  }
  bool ended() const { return client.ended(); }
  ~Connection() { client.Stall(false); }
};

// Declared after the connections: ends their streams first, even when a REQUIRE fails.
struct ShutdownOnExit {
  FeedHub& hub;
  ~ShutdownOnExit() { hub.Shutdown(); }
};

HttpRequest Get(std::string last_event_id = "") {
  HttpRequest r{"GET", "/api/v1/feed", {}};
  if (!last_event_id.empty()) r.headers.emplace_back("last-event-id", last_event_id);
  return r;
}

FeedConfig SmallConfig() {
  FeedConfig c;
  c.max_clients = 2;
  c.buffer_events = 10;
  c.backlog = 3;
  c.heartbeat = 50ms;
  return c;
}

double Sample(const std::vector<Family>& families, const std::string& name, const std::string& reason = "") {
  for (const auto& f : families) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      if (!reason.empty() && (m.label.empty() || m.label[0].value != reason)) continue;
      return f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
  }
  return -1;
}

TEST_CASE("feed: a new client gets the backlog, then live events, as SSE frames") {
  FeedHub hub(SmallConfig());
  for (int i = 0; i < 5; ++i) hub.Publish("message", "info", 1700000000.5, {{"n", i}});
  Connection c(hub.Serve(Get()));
  ShutdownOnExit guard0{hub};
  REQUIRE(Eventually([&] { return c.client.Ids().size() == 3; }, 2s));
  CHECK(c.client.Ids() == std::vector<uint64_t>{3, 4, 5});
  hub.Publish("appointment", "info", 1700000001.25, {{"n", 5}});
  REQUIRE(Eventually([&] { return c.client.Ids().size() == 4; }, 2s));
  std::string text = c.client.text();
  CHECK(text.rfind("retry: 2000\n", 0) == 0);
  CHECK(text.find("id: 6\ndata: {\"fields\":{\"n\":5},\"id\":6,\"level\":\"info\","
                  "\"time\":\"2023-11-14T22:13:21.250Z\",\"type\":\"appointment\"}\n\n") != std::string::npos);
  CHECK(hub.clients() == 1);
  hub.Shutdown();
  REQUIRE(Eventually([&] { return c.ended(); }, 2s));
  CHECK(hub.clients() == 0);
}

TEST_CASE("feed: Last-Event-ID replays exactly what was missed, or says what is gone") {
  FeedHub hub(SmallConfig());
  for (int i = 0; i < 8; ++i) hub.Publish("message", "info", 1700000000, {});
  SECTION("still buffered") {
    Connection c(hub.Serve(Get("5")));
    ShutdownOnExit guard1{hub};
    REQUIRE(Eventually([&] { return c.client.Ids().size() == 3; }, 2s));
    CHECK(c.client.Ids() == std::vector<uint64_t>{6, 7, 8});
    hub.Shutdown();
  }
  SECTION("partly overwritten: what is left, and a note") {
    for (int i = 0; i < 10; ++i) hub.Publish("message", "info", 1700000000, {});  // ids 9..18; ring holds 9..18
    Connection c(hub.Serve(Get("4")));
    ShutdownOnExit guard2{hub};
    REQUIRE(Eventually([&] { return c.client.Ids().size() == 10; }, 2s));
    CHECK(c.client.Ids().front() == 9);
    CHECK(c.client.text().find(": 4 events were no longer buffered") != std::string::npos);
    hub.Shutdown();
  }
  SECTION("an id from before a restart starts fresh with the backlog") {
    Connection c(hub.Serve(Get("9999")));
    ShutdownOnExit guard3{hub};
    REQUIRE(Eventually([&] { return c.client.Ids().size() == 3; }, 2s));
    CHECK(c.client.Ids() == std::vector<uint64_t>{6, 7, 8});
    hub.Shutdown();
  }
  SECTION("garbage is ignored") {
    Connection c(hub.Serve(Get("12abc")));
    ShutdownOnExit guard4{hub};
    REQUIRE(Eventually([&] { return c.client.Ids().size() == 3; }, 2s));
    hub.Shutdown();
  }
}

TEST_CASE("feed: a stalled client never blocks publishing and is dropped once a buffer behind") {
  FeedHub hub(SmallConfig());
  Connection slow(hub.Serve(Get()));
  ShutdownOnExit guard5{hub};
  Connection fast(hub.Serve(Get()));
  ShutdownOnExit guard6{hub};
  REQUIRE(Eventually([&] { return slow.client.text().find("retry:") != std::string::npos; }, 2s));
  slow.client.Stall(true);
  hub.Publish("message", "info", 1700000000, {});  // the slow client's write of this now stays in flight
  REQUIRE(Eventually([&] { return fast.client.Ids() == std::vector<uint64_t>{1}; }, 2s));
  // Publishing never waits for the stalled reader: all 29 events are out and
  // read by the fast client while the slow one is still held. (Counted, not
  // timed: a Publish that waited would never finish while the stall lasts.)
  std::atomic<uint64_t> published{1};
  std::thread publisher([&] {
    for (uint64_t id = 2; id <= 30; ++id) {
      hub.Publish("message", "info", 1700000000, {});
      published = id;
      // The fast reader keeps up (paced so that it never falls a buffer behind).
      if (!Eventually([&] { return fast.client.Ids().back() == id; }, 5s)) return;
    }
  });
  bool all_out = Eventually([&] { return published == 30 && fast.client.Ids().back() == 30; }, 10s);
  slow.client.Stall(false);
  publisher.join();
  REQUIRE(all_out);
  REQUIRE(Eventually([&] { return slow.ended(); }, 2s));
  CHECK(slow.client.text().find(": dropped: this client fell") != std::string::npos);
  CHECK(Sample(hub.Expose(), "botwatch_feed_disconnects_total", "slow") == 1);
  CHECK(Sample(hub.Expose(), "botwatch_feed_events_total") == 30);
  hub.Shutdown();
}

TEST_CASE("feed: events published while a live client is busy writing all reach it, in order") {
  FeedHub hub(SmallConfig());
  Connection c(hub.Serve(Get()));
  ShutdownOnExit guard{hub};
  REQUIRE(Eventually([&] { return c.client.text().find("retry:") != std::string::npos; }, 2s));
  c.client.Stall(true);
  hub.Publish("message", "info", 1700000000, {});  // its write of event 1 now stays in flight
  for (int i = 0; i < 5; ++i) hub.Publish("message", "info", 1700000000, {});  // 2..6 pile up behind it
  c.client.Stall(false);
  REQUIRE(Eventually([&] { return !c.client.Ids().empty() && c.client.Ids().back() == 6; }, 2s));
  CHECK(c.client.Ids() == std::vector<uint64_t>{1, 2, 3, 4, 5, 6});
  hub.Shutdown();
}

TEST_CASE("feed: clients are bounded, a departed client frees its slot") {
  FeedHub hub(SmallConfig());
  Connection a(hub.Serve(Get()));
  ShutdownOnExit guard7{hub};
  auto b = std::make_unique<Connection>(hub.Serve(Get()));
  HttpResponse third = hub.Serve(Get());
  CHECK(third.status == 503);
  CHECK(third.body.find("feed.max_clients = 2") != std::string::npos);
  CHECK(Sample(hub.Expose(), "botwatch_feed_clients_rejected_total") == 1);
  CHECK(Sample(hub.Expose(), "botwatch_feed_clients") == 2);

  b->client.Go();  // the browser tab closed: the next write (an event or a heartbeat) fails
  REQUIRE(Eventually([&] { return b->ended(); }, 2s));
  b.reset();
  CHECK(hub.clients() == 1);
  CHECK(Sample(hub.Expose(), "botwatch_feed_disconnects_total", "client_gone") == 1);
  Connection c(hub.Serve(Get()));
  ShutdownOnExit guard8{hub};
  CHECK(hub.clients() == 2);
  hub.Shutdown();
}

TEST_CASE("feed: at most max_events_per_second are admitted, the rest counted") {
  FeedConfig c = SmallConfig();
  c.max_events_per_second = 5;
  FeedHub hub(c);
  int admitted = 0;
  for (int i = 0; i < 20; ++i) admitted += hub.Admit(1000.2) ? 1 : 0;
  CHECK(admitted == 5);
  CHECK(Sample(hub.Expose(), "botwatch_feed_events_skipped_total") == 15);
  CHECK(hub.Admit(1001.0));  // a new second
  admitted = 1;
  for (int i = 0; i < 10; ++i) admitted += hub.Admit(1001.9) ? 1 : 0;
  CHECK(admitted == 5);
}

TEST_CASE("feed: HEAD gets headers only and takes no slot") {
  FeedHub hub(SmallConfig());
  HttpResponse r = hub.Serve(HttpRequest{"HEAD", "/api/v1/feed", {}});
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/event-stream; charset=utf-8");
  CHECK_FALSE(r.stream);
  CHECK(hub.clients() == 0);
}

TEST_CASE("feed redaction: identifiers hashed, text dropped unless allowed, long strings cut") {
  using Kind = FeedRedactor::Kind;
  FeedRedactor strict(false, 42);
  nlohmann::json out = nlohmann::json::object();
  strict.Add("userId", "2485123412341234", Kind::kIdentifier, out);
  strict.Add("text", "my phone is 555-0100", Kind::kText, out);
  strict.Add("responseTime", 840, Kind::kPlain, out);
  strict.Add("template", std::string(300, 'x'), Kind::kPlain, out);
  strict.Add("appUsage", {{"call_count", 3}}, Kind::kPlain, out);
  CHECK(std::regex_match(out["userId"].get<std::string>(), std::regex("u:[0-9a-f]{8}")));
  CHECK(out.dump().find("2485123412341234") == std::string::npos);
  CHECK_FALSE(out.contains("text"));
  CHECK_FALSE(out.contains("appUsage"));
  CHECK(out["responseTime"] == 840);
  CHECK(out["template"].get<std::string>().size() < 210);
  // Stable within a process (same salt), different across salts.
  CHECK(strict.Hash("2485") == strict.Hash("2485"));
  CHECK(strict.Hash("2485") != strict.Hash("2486"));
  CHECK(FeedRedactor(false, 43).Hash("2485") != strict.Hash("2485"));

  FeedRedactor open(true, 42);
  nlohmann::json out2 = nlohmann::json::object();
  open.Add("text", "hello", Kind::kText, out2);
  CHECK(out2["text"] == "hello");
}

TEST_CASE("feed config: defaults, bounds and unknown keys") {
  auto load = [](const std::string& yaml) {
    return LoadConfigText(yaml, ConfigSource{"botwatch.yaml", ".", &ProcessEnv});
  };
  auto ok = load("collectors: []\nfeed: {max_clients: 3, buffer_events: 50, backlog: 5, allow_text: true}\n");
  REQUIRE(ok.ok());
  CHECK(ok.value()->feed.max_clients == 3);
  CHECK(ok.value()->feed.allow_text);
  auto defaults = load("collectors: []\n");
  REQUIRE(defaults.ok());
  CHECK(defaults.value()->feed.max_clients == 8);
  CHECK_FALSE(defaults.value()->feed.allow_text);

  auto typo = load("collectors: []\nfeed:\n  max_client: 3\n");
  REQUIRE_FALSE(typo.ok());
  CHECK(typo.status().message() ==
        "botwatch.yaml:3:3: feed: unknown key \"max_client\" (did you mean \"max_clients\"?)");
  auto big = load("collectors: []\nfeed: {max_clients: 1000}\n");
  REQUIRE_FALSE(big.ok());
  CHECK(big.status().message().find("feed.max_clients") != std::string::npos);
  auto backlog = load("collectors: []\nfeed: {buffer_events: 10, backlog: 11}\n");
  REQUIRE_FALSE(backlog.ok());
  CHECK(backlog.status().message().find("must not exceed buffer_events") != std::string::npos);
}

}  // namespace
}  // namespace botwatch
