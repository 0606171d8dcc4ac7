// Scheduling rules driven by a fake clock: due times, deadlines, hung probes.

#include <catch2/catch.hpp>

#include "agent/scheduler.h"

using namespace botwatch;
using namespace std::chrono_literals;

namespace {

CollectorSpec Spec(const char* name, Duration interval, Duration timeout) {
  return CollectorSpec{name, "fake", interval, timeout};
}

}  // namespace

TEST_CASE("every collector probes at once, then once per interval") {
  SteadyTime t0{};  // the fake clock's origin
  ScheduleBook book({Spec("a", 10s, 2s), Spec("b", 30s, 5s)}, t0);
  CHECK(book.StartDue(t0) == std::vector<size_t>{0, 1});
  CHECK(book.StartDue(t0).empty());  // both are running
  CHECK(book.Finish(0, t0 + 1s));
  CHECK(book.Finish(1, t0 + 1s));
  CHECK(book.NextWakeup() == t0 + 10s);
  CHECK(book.StartDue(t0 + 9999ms).empty());
  CHECK(book.StartDue(t0 + 10s) == std::vector<size_t>{0});
  // The phase is kept: a slow start does not drift the schedule.
  CHECK(book.Finish(0, t0 + 11s));
  CHECK(book.slot(0).next_due == t0 + 20s);
}

TEST_CASE("a probe past its deadline expires once and its late result is dropped") {
  SteadyTime t0{};
  ScheduleBook book({Spec("hung", 10s, 2s)}, t0);
  REQUIRE(book.StartDue(t0).size() == 1);
  CHECK(book.NextWakeup() == t0 + 2s);  // the deadline, not the next interval
  CHECK(book.ExpireOverdue(t0 + 1999ms).empty());
  CHECK(book.ExpireOverdue(t0 + 2s) == std::vector<size_t>{0});
  CHECK(book.ExpireOverdue(t0 + 3s).empty());  // reported once
  // While it still hangs no second probe of it starts, even when its interval comes.
  CHECK(book.StartDue(t0 + 25s).empty());
  CHECK(book.NextWakeup() == SteadyTime::max());
  // When it finally returns, the result is unwanted and the next probe is due at once.
  CHECK_FALSE(book.Finish(0, t0 + 61s));
  CHECK(book.slot(0).next_due == t0 + 61s);
  CHECK(book.StartDue(t0 + 61s) == std::vector<size_t>{0});
}

TEST_CASE("a probe within its deadline is kept") {
  SteadyTime t0{};
  ScheduleBook book({Spec("ok", 5s, 1s)}, t0);
  REQUIRE(book.StartDue(t0).size() == 1);
  CHECK(book.ExpireOverdue(t0 + 999ms).empty());
  CHECK(book.Finish(0, t0 + 999ms));
}

namespace {

// A collector whose probe blocks until released, to test the threaded scheduler.
class GateCollector : public Collector {
 public:
  explicit GateCollector(std::atomic<bool>* release) : release_(release) {}
  ProbeResult Collect(const ProbeContext&) override {
    ++calls;
    while (!release_->load()) std::this_thread::sleep_for(1ms);
    return ProbeResult::Up();
  }
  std::atomic<int> calls{0};

 private:
  std::atomic<bool>* release_;
};

class ThrowingCollector : public Collector {
 public:
  ProbeResult Collect(const ProbeContext&) override { throw std::runtime_error("boom"); }
};

}  // namespace

TEST_CASE("the threaded scheduler reports a hung probe as timed out at its deadline") {
  std::atomic<bool> release{false};
  auto gate = std::make_shared<GateCollector>(&release);
  SnapshotCache cache;
  std::vector<CollectorInstance> instances = {{Spec("hung", 10s, 100ms), gate},
                                              {Spec("bad", 10s, 100ms), std::make_shared<ThrowingCollector>()}};
  cache.Reset({instances[0].spec, instances[1].spec});
  Scheduler scheduler(instances, &cache, 2);
  scheduler.Start();
  auto until = std::chrono::steady_clock::now() + 3s;
  while (!cache.AllRan() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
  REQUIRE(cache.AllRan());
  auto all = cache.All();
  CHECK_FALSE(all[0]->up);
  CHECK(all[0]->reason == "timeout");
  CHECK(all[0]->errors_by_reason.at("timeout") == 1);
  // A collector that throws costs one failed probe with reason internal, not the process.
  CHECK_FALSE(all[1]->up);
  CHECK(all[1]->reason == "internal");
  CHECK(all[1]->message == "internal error: boom");
  release = true;
  scheduler.Stop(1s);
  CHECK(gate->calls == 1);
}

TEST_CASE("the snapshot cache keeps counters of an unchanged collector across a reset") {
  SnapshotCache cache;
  CollectorSpec a = Spec("a", 1s, 1s), b = Spec("b", 1s, 1s);
  cache.Reset({a, b});
  ProbeOutcome down;
  down.result = ProbeResult::Down("timeout", "slow");
  cache.Publish("a", down);
  cache.Publish("a", down);
  cache.Reset({a});
  auto all = cache.All();
  REQUIRE(all.size() == 1);
  CHECK(all[0]->errors_by_reason.at("timeout") == 2);
  // Same name, different type: a new collector, fresh state.
  CollectorSpec a2 = a;
  a2.type = "other";
  cache.Reset({a2});
  CHECK(cache.All()[0]->errors_by_reason.empty());
  CHECK_FALSE(cache.AllRan());
}

TEST_CASE("the snapshot cache keeps the last error, and its time, after recovery") {
  SnapshotCache cache;
  cache.Reset({Spec("a", 1s, 1s)});
  ProbeOutcome down;
  down.result = ProbeResult::Down("connection_refused", "connect to 127.0.0.1:9: Connection refused");
  down.finished_unix = 1700000000;
  cache.Publish("a", down);
  ProbeOutcome up;
  up.result = ProbeResult::Up();
  up.finished_unix = 1700000005;
  cache.Publish("a", up);
  auto snap = cache.All()[0];
  CHECK(snap->up);
  CHECK(snap->message.empty());
  CHECK(snap->last_error == "connect to 127.0.0.1:9: Connection refused");
  CHECK(snap->last_error_unix == 1700000000);
  CHECK(snap->last_success_unix == 1700000005);
}
