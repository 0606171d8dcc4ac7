// /-/healthy?require=: the answer a platform health check acts on.

#include <catch2/catch.hpp>

#include "agent/health_endpoint.h"

using namespace botwatch;

namespace {

std::shared_ptr<const CollectorSnapshot> Snap(const std::string& name, bool has_run, bool up,
                                              const std::string& reason = "ok", const std::string& message = "") {
  auto s = std::make_shared<CollectorSnapshot>();
  s->spec.name = name;
  s->has_run = has_run;
  s->up = up;
  s->reason = reason;
  s->message = message;
  return s;
}

HttpResponse Ask(const std::string& query, const std::string& path = "/-/healthy") {
  static const std::vector<std::shared_ptr<const CollectorSnapshot>> all = {
      Snap("supervised", true, true), Snap("bot-health", true, false, "timeout", "secret-bearing peer text"),
      Snap("db", true, true), Snap("late", false, false)};
  HttpRequest req;
  req.method = "GET";
  req.path = path;
  req.query = query;
  return ServeHealthy(req, all);
}

}  // namespace

TEST_CASE("healthy without require= is botwatch serving, whatever the collectors say") {
  HttpResponse r = Ask("");
  CHECK(r.status == 200);
  CHECK(r.body == "Healthy\n");
}

TEST_CASE("require= answers 503 naming each down collector and its reason code, never its message") {
  CHECK(Ask("require=supervised,db").status == 200);
  CHECK(Ask("require=supervised%2Cdb").status == 200);  // an escaped comma
  CHECK(Ask("require=supervised&require=db").status == 200);
  HttpResponse down = Ask("require=supervised,bot-health,late");
  CHECK(down.status == 503);
  CHECK(down.body == "bot-health: down (timeout)\nlate: has not probed yet\n");
  CHECK(down.body.find("secret") == std::string::npos);
}

TEST_CASE("require= refuses unknown names (listing the known), unknown parameters and oversized queries") {
  HttpResponse unknown = Ask("require=supervised,bott");
  CHECK(unknown.status == 400);
  CHECK(unknown.body == "unknown collector \"bott\" in require=; known: supervised, bot-health, db, late\n");
  // Not a collector name: not echoed (the body is text/plain, but a name is all it ever quotes).
  HttpResponse odd = Ask("require=%3Cscript%3E");
  CHECK(odd.status == 400);
  CHECK(odd.body.find("<script>") == std::string::npos);
  CHECK(Ask("require=").status == 400);
  CHECK(Ask("verbose=1").status == 400);
  CHECK(Ask("require=%zz").status == 400);
  std::string many = "require=db";
  for (int i = 0; i < 40; ++i) many += ",db";
  CHECK(Ask(many).status == 400);
  CHECK(Ask("require=" + std::string(2000, 'a')).status == 400);
}

TEST_CASE("the path form /-/healthy/NAME,... answers as require= does, for checkers without a query string") {
  CHECK(Ask("", "/-/healthy/supervised,db").status == 200);
  HttpResponse down = Ask("", "/-/healthy/supervised,bot-health");
  CHECK(down.status == 503);
  CHECK(down.body == "bot-health: down (timeout)\n");
  CHECK(Ask("", "/-/healthy/bott").status == 400);
  CHECK(Ask("require=db", "/-/healthy/supervised").status == 400);  // one form at a time
  CHECK(IsHealthPath("/-/healthy/supervised"));
  CHECK(IsHealthPath("/-/healthy"));
  CHECK_FALSE(IsHealthPath("/-/healthy/"));
  CHECK_FALSE(IsHealthPath("/-/healthyx"));
}
