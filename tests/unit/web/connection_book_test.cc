#include "web/connection_book.h"

#include <catch2/catch.hpp>

using botwatch::ConnectionBook;
using Phase = ConnectionBook::Phase;
using Why = ConnectionBook::Why;

TEST_CASE("connection book: a client over its own limit evicts its oldest unfinished connection, else is refused") {
  ConnectionBook book(100, 3);
  REQUIRE(book.Admit(1, "a").admitted);
  REQUIRE(book.Admit(2, "a").admitted);
  REQUIRE(book.Admit(3, "a").admitted);
  book.SetPhase(1, Phase::kIdle);  // completed a request: not this client's to lose
  ConnectionBook::Admission a = book.Admit(4, "a");
  CHECK(a.admitted);
  REQUIRE(a.evict.size() == 1);
  CHECK(a.evict[0].id == 2);
  CHECK(a.evict[0].why == Why::kPerClient);
  CHECK(book.OpenFrom("a") == 3);
  book.SetPhase(3, Phase::kBusy);
  book.SetPhase(4, Phase::kIdle);
  // Nothing unfinished left: refused, and nothing evicted.
  ConnectionBook::Admission refused = book.Admit(5, "a");
  CHECK_FALSE(refused.admitted);
  CHECK(refused.evict.empty());
  // Another client is not concerned.
  CHECK(book.Admit(6, "b").admitted);
  book.Remove(3);
  CHECK(book.Admit(7, "a").admitted);
}

TEST_CASE("connection book: when scarce, the oldest unfinished connection goes first, then the longest idle") {
  ConnectionBook book(4, 10);
  REQUIRE(book.Admit(1, "x").admitted);
  REQUIRE(book.Admit(2, "y").admitted);
  REQUIRE(book.Admit(3, "z").admitted);
  REQUIRE(book.Admit(4, "z").admitted);
  CHECK(book.Scarce());
  book.SetPhase(1, Phase::kIdle);
  book.SetPhase(2, Phase::kBusy);
  book.SetPhase(2, Phase::kIdle);  // idle after 1
  // 3 and 4 have completed nothing: 3 is the oldest of them.
  ConnectionBook::Admission a = book.Admit(5, "legit");
  CHECK(a.admitted);
  REQUIRE(a.evict.size() == 1);
  CHECK(a.evict[0].id == 3);
  CHECK(a.evict[0].why == Why::kScarce);
  book.SetPhase(4, Phase::kBusy);
  book.SetPhase(5, Phase::kBusy);
  // Only idle ones left to take: the one idle longest.
  a = book.Admit(6, "legit");
  CHECK(a.admitted);
  REQUIRE(a.evict.size() == 1);
  CHECK(a.evict[0].id == 1);
  book.SetPhase(6, Phase::kBusy);
  a = book.Admit(7, "legit");
  REQUIRE(a.evict.size() == 1);
  CHECK(a.evict[0].id == 2);
  book.SetPhase(7, Phase::kBusy);
  // Every connection has a request in flight: only now is one refused.
  CHECK_FALSE(book.Admit(8, "legit").admitted);
  CHECK(book.size() == 4);
}

TEST_CASE("connection book: a first request's body is still unfinished, a later one's is not") {
  ConnectionBook book(2, 10);
  REQUIRE(book.Admit(1, "a").admitted);
  book.SetPhase(1, Phase::kBusy);
  book.SetPhase(1, Phase::kFresh);  // reading its first body (slow body)
  REQUIRE(book.Admit(2, "b").admitted);
  book.SetPhase(2, Phase::kBusy);
  ConnectionBook::Admission a = book.Admit(3, "c");
  CHECK(a.admitted);
  REQUIRE(a.evict.size() == 1);
  CHECK(a.evict[0].id == 1);
}

TEST_CASE("connection book: closing connections no longer count for their client and are the first to go") {
  ConnectionBook book(3, 2);
  REQUIRE(book.Admit(1, "a").admitted);
  REQUIRE(book.Admit(2, "a").admitted);
  book.SetPhase(1, Phase::kBusy);
  book.SetPhase(1, Phase::kClosing);
  book.SetPhase(2, Phase::kIdle);
  CHECK(book.OpenFrom("a") == 1);
  ConnectionBook::Admission a = book.Admit(3, "a");  // under its limit again: nothing evicted
  CHECK(a.admitted);
  CHECK(a.evict.empty());
  book.SetPhase(3, Phase::kBusy);
  a = book.Admit(4, "b");  // full: the closing one goes before the idle one
  CHECK(a.admitted);
  REQUIRE(a.evict.size() == 1);
  CHECK(a.evict[0].id == 1);
  book.SetPhase(1, Phase::kIdle);  // a closing connection never comes back
  CHECK(book.size() == 3);
}
