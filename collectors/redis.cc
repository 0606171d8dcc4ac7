#include "collectors/redis.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <vector>

#include "base/config_node.h"
#include "collectors/lib/lazy_libraries.h"
#include "collectors/lib/tcp_connect.h"
#include "collectors/registry.h"

namespace botwatch {

BOTWATCH_REGISTER_COLLECTOR("redis", RedisCollector::Create);

namespace {

// Keyspace series are per database; Redis has 16 by default and a config may
// raise that, so the series are capped.
constexpr size_t kMaxKeyspaceDbs = 16;
// Repeat keys can be long (name, id, pattern, time zone): a label keeps a prefix.
constexpr size_t kMaxRepeatLabel = 120;
// A SCAN over a huge keyspace stops here even before the deadline.
constexpr int kMaxScanCalls = 1000;

struct ReplyDeleter {
  void operator()(redisReply* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* c) const {
    if (c != nullptr) redisFree(c);
  }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

timeval ToTimeval(Duration d) {
  auto ms = std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

Reply Command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
}

// Sends every command, then reads every reply: one round trip for a batch.
// Returns an empty vector if the connection failed.
std::vector<Reply> Pipeline(redisContext* c, const std::vector<std::vector<std::string>>& commands) {
  for (const auto& args : commands) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()) != REDIS_OK) return {};
  }
  std::vector<Reply> out;
  for (size_t i = 0; i < commands.size(); ++i) {
    void* r = nullptr;
    if (redisGetReply(c, &r) != REDIS_OK) return {};
    out.emplace_back(static_cast<redisReply*>(r));
  }
  return out;
}

// BullMQ 5 keeps job schedulers in the repeat set under the id the bot chose
// ("daily-report"), but a repeatable job added with the older
// `add(name, data, {repeat})` API under an MD5 of its options.
bool IsHashedRepeatKey(const std::string& key) {
  return key.size() == 32 && std::all_of(key.begin(), key.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// "digest (5 * * * *)" or "sync (every 3600000 ms)" from the repeat hash's
// name, pattern and every (an HMGET reply); the key itself if they are gone.
std::string RepeatLabel(const std::string& key, const redisReply* fields) {
  auto field = [&](size_t i) -> std::string {
    if (fields == nullptr || fields->type != REDIS_REPLY_ARRAY || i >= fields->elements) return "";
    const redisReply* f = fields->element[i];
    return f->type == REDIS_REPLY_STRING ? std::string(f->str, f->len) : "";
  };
  std::string name = field(0), pattern = field(1), every = field(2);
  if (name.empty()) return key;
  if (!pattern.empty()) return name + " (" + pattern + ")";
  if (!every.empty()) return name + " (every " + every + " ms)";
  return name;
}

std::optional<double> Number(const redisReply* r) {
  if (r == nullptr) return std::nullopt;
  if (r->type == REDIS_REPLY_INTEGER) return static_cast<double>(r->integer);
  if (r->type == REDIS_REPLY_STRING) {
    char* end = nullptr;
    double v = std::strtod(r->str, &end);
    if (end != r->str) return v;
  }
  return std::nullopt;
}

// INFO's "name:value" lines.
std::map<std::string, std::string> ParseInfo(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (!line.empty() && line[0] != '#' && colon != std::string::npos) out[line.substr(0, colon)] = line.substr(colon + 1);
    pos = eol + 1;
  }
  return out;
}

std::optional<double> InfoNumber(const std::map<std::string, std::string>& info, const std::string& key) {
  auto it = info.find(key);
  if (it == info.end()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  if (end == it->second.c_str()) return std::nullopt;
  return v;
}

// hiredis's errstr for the connection, which never holds the password (the
// AUTH arguments are not echoed in errors).
std::string ConnectionError(const redisContext* c) {
  if (c == nullptr) return "cannot allocate a hiredis context";
  return c->errstr[0] != '\0' ? std::string(c->errstr) : std::string("connection failed");
}

const char* ReasonFor(const redisContext* c) {
  if (c == nullptr) return reason::kInternal;
  std::string e = c->errstr;
  if (c->err == REDIS_ERR_IO && (e.find("timed out") != std::string::npos ||
                                 e.find("temporarily unavailable") != std::string::npos)) {
    return reason::kTimeout;
  }
  if (e.find("refused") != std::string::npos) return reason::kConnectionRefused;
  if (e.find("Name or service") != std::string::npos || e.find("resolve") != std::string::npos) return reason::kDns;
  if (c->err == REDIS_ERR_EOF) return reason::kIo;
  if (c->err == REDIS_ERR_PROTOCOL) return reason::kProtocol;
  return reason::kIo;
}

}  // namespace

std::unique_ptr<Collector> RedisCollector::Create(const CollectorSpec&, ConfigMap& config) {
  RedisConfig c;
  std::string address = config.RequiredString("address");
  if (address.rfind("rediss://", 0) == 0) {
    config.FailAt("address",
                  "rediss:// (TLS) is not supported: Debian's hiredis 0.14 has no TLS; reach the server through a "
                  "TLS tunnel (stunnel, spiped) on 127.0.0.1 or use redis:// on a private network");
  }
  if (address.rfind("redis://", 0) == 0) address = address.substr(8);
  if (address.find('@') != std::string::npos || address.find('/') != std::string::npos) {
    config.FailAt("address", "expected host:port (set password, username and db as their own keys)");
  }
  std::string port;
  if (!SplitHostPort(address, &c.host, &port)) config.FailAt("address", "expected host:port, got \"" + address + "\"");
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 1 || p > 65535) config.FailAt("address", "port must be 1-65535");
  c.port = static_cast<int>(p);
  c.password = config.OptionalSecret("password");
  c.username = config.OptionalString("username");
  if (c.username && !c.password) config.FailAt("username", "needs a password (ACL users authenticate with both)");
  c.db = config.Int("db", 0, 0, 1000000);
  c.prefix = config.String("prefix", "bull");
  c.max_queues = config.Int("max_queues", 50, 0, 1000);
  c.max_repeatable = config.Int("max_repeatable", 20, 1, 1000);
  return std::make_unique<RedisCollector>(std::move(c));
}

ProbeResult RedisCollector::Collect(const ProbeContext& ctx) {
  if (std::string missing = HiredisMissing(); !missing.empty()) return ProbeResult::Down(reason::kInternal, missing);
  Context conn(redisConnectWithTimeout(config_.host.c_str(), config_.port, ToTimeval(ctx.Remaining())));
  if (conn == nullptr || conn->err != 0) {
    return ProbeResult::Down(ReasonFor(conn.get()), "connect to " + config_.host + ":" + std::to_string(config_.port) +
                                                        " failed: " + ConnectionError(conn.get()));
  }
  // The socket timeout bounds every later read and write by what is left.
  redisSetTimeout(conn.get(), ToTimeval(ctx.Remaining()));
  auto failed = [&](const std::string& what) {
    return ProbeResult::Down(ReasonFor(conn.get()), what + " failed: " + ConnectionError(conn.get()));
  };
  auto server_error = [](const char* why, const std::string& what, const redisReply* r) {
    // Redis's error text names the command, never its arguments.
    return ProbeResult::Down(why, what + ": " + std::string(r->str, r->len));
  };

  if (config_.password) {
    std::vector<std::string> args = {"AUTH"};
    if (config_.username) args.push_back(*config_.username);
    args.push_back(config_.password->reveal());
    Reply r = Command(conn.get(), args);
    if (!r) return failed("AUTH");
    if (r->type == REDIS_REPLY_ERROR) return server_error(reason::kAuth, "authentication refused", r.get());
  }
  if (config_.db != 0) {
    Reply r = Command(conn.get(), {"SELECT", std::to_string(config_.db)});
    if (!r) return failed("SELECT");
    if (r->type == REDIS_REPLY_ERROR) return server_error(reason::kProtocol, "SELECT " + std::to_string(config_.db), r.get());
  }

  FamilyBuilder fb;
  auto start = std::chrono::steady_clock::now();
  Reply pong = Command(conn.get(), {"PING"});
  double rtt = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!pong) return failed("PING");
  if (pong->type == REDIS_REPLY_ERROR) {
    const char* why = std::string(pong->str).rfind("NOAUTH", 0) == 0 ? reason::kAuth : reason::kProtocol;
    return server_error(why, "PING", pong.get());
  }
  fb.Gauge("botwatch_redis_round_trip_seconds", "Time of one PING round trip on an open connection.", rtt);

  Reply info = Command(conn.get(), {"INFO"});
  if (!info) return failed("INFO");
  if (info->type != REDIS_REPLY_STRING) {
    return info->type == REDIS_REPLY_ERROR ? server_error(reason::kProtocol, "INFO", info.get())
                                           : ProbeResult::Down(reason::kProtocol, "INFO: unexpected reply type");
  }
  auto fields = ParseInfo(std::string(info->str, info->len));
  if (auto v = InfoNumber(fields, "used_memory")) {
    fb.Gauge("botwatch_redis_memory_used_bytes", "Memory Redis has allocated (INFO used_memory).", *v);
  }
  if (auto v = InfoNumber(fields, "maxmemory")) {
    fb.Gauge("botwatch_redis_memory_max_bytes", "Redis's maxmemory setting; 0 means no limit.", *v);
  }
  if (auto v = InfoNumber(fields, "connected_clients")) {
    fb.Gauge("botwatch_redis_connected_clients", "Client connections, botwatch's included.", *v);
  }
  if (auto v = InfoNumber(fields, "evicted_keys")) {
    fb.Counter("botwatch_redis_evicted_keys_total", "Keys evicted because of maxmemory.", *v);
  }
  if (auto v = InfoNumber(fields, "expired_keys")) {
    fb.Counter("botwatch_redis_expired_keys_total", "Keys removed because their TTL ran out.", *v);
  }
  size_t dbs = 0;
  for (const auto& [key, value] : fields) {
    if (key.rfind("db", 0) != 0 || key.size() < 3 || key.find_first_not_of("0123456789", 2) != std::string::npos) continue;
    if (value.rfind("keys=", 0) != 0 || ++dbs > kMaxKeyspaceDbs) continue;
    fb.Gauge("botwatch_redis_keyspace_keys", "Keys in each database (INFO keyspace; at most 16 databases).",
             std::strtod(value.c_str() + 5, nullptr), {{"db", key}});
  }

  if (!config_.prefix.empty() && config_.max_queues > 0) {
    // BullMQ writes <prefix>:<queue>:meta when a queue is first used.
    std::string pattern = config_.prefix + ":*:meta";
    std::set<std::string> queues;
    std::string cursor = "0";
    int calls = 0;
    do {
      Reply r = Command(conn.get(), {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
      if (!r) return failed("SCAN");
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
          r->element[1]->type != REDIS_REPLY_ARRAY) {
        return ProbeResult::Down(reason::kProtocol, "SCAN: unexpected reply");
      }
      cursor.assign(r->element[0]->str, r->element[0]->len);
      for (size_t i = 0; i < r->element[1]->elements; ++i) {
        const redisReply* k = r->element[1]->element[i];
        if (k->type != REDIS_REPLY_STRING) continue;
        std::string key(k->str, k->len);
        size_t head = config_.prefix.size() + 1, tail = 5;  // ":meta"
        if (key.size() > head + tail) queues.insert(key.substr(head, key.size() - head - tail));
      }
    } while (cursor != "0" && ++calls < kMaxScanCalls && std::chrono::steady_clock::now() < ctx.deadline);
    fb.Gauge("botwatch_bullmq_queues_discovered", "BullMQ queues found under the prefix (before max_queues).",
             static_cast<double>(queues.size()));

    static const std::vector<std::pair<const char*, const char*>> kStates = {
        {"waiting", "LLEN:wait"},       {"active", "LLEN:active"},
        {"paused", "LLEN:paused"},      {"delayed", "ZCARD:delayed"},
        {"prioritized", "ZCARD:prioritized"}, {"waiting-children", "ZCARD:waiting-children"},
        {"completed", "ZCARD:completed"}, {"failed", "ZCARD:failed"}};
    double now_ms = std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
    int64_t taken = 0;
    for (const std::string& queue : queues) {
      if (taken++ >= config_.max_queues) break;
      std::string base = config_.prefix + ":" + queue + ":";
      std::vector<std::vector<std::string>> cmds;
      for (const auto& [state, spec] : kStates) {
        std::string s = spec;
        size_t colon = s.find(':');
        cmds.push_back({s.substr(0, colon), base + s.substr(colon + 1)});
      }
      // Jobs are pushed at the head of `wait` and taken from its tail.
      cmds.push_back({"LINDEX", base + "wait", "-1"});
      // The repeat set's scores are each repeatable job's next run (ms).
      cmds.push_back({"ZRANGE", base + "repeat", "0", std::to_string(config_.max_repeatable - 1), "WITHSCORES"});
      std::vector<Reply> replies = Pipeline(conn.get(), cmds);
      if (replies.size() != cmds.size()) return failed("BullMQ queue " + queue);
      FamilyBuilder::Labels ql = {{"queue", queue}};
      for (size_t i = 0; i < kStates.size(); ++i) {
        fb.Gauge("botwatch_bullmq_jobs", "BullMQ jobs per queue and state.", Number(replies[i].get()).value_or(0),
                 {{"queue", queue}, {"state", kStates[i].first}});
      }
      double oldest = 0;
      const redisReply* last = replies[kStates.size()].get();
      if (last != nullptr && last->type == REDIS_REPLY_STRING) {
        Reply ts = Command(conn.get(), {"HGET", base + std::string(last->str, last->len), "timestamp"});
        if (!ts) return failed("HGET");
        if (auto t = Number(ts.get())) oldest = std::max(0.0, (now_ms - *t) / 1000);
      }
      fb.Gauge("botwatch_bullmq_oldest_waiting_seconds", "Age of the oldest job waiting in the queue; 0 if none.",
               oldest, ql);
      const redisReply* rep = replies[kStates.size() + 1].get();
      if (rep != nullptr && rep->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < rep->elements; i += 2) {
          std::string key(rep->element[i]->str, rep->element[i]->len);
          if (IsHashedRepeatKey(key)) {
            // The older repeat API stores an MD5 of the options as the key;
            // its hash holds what an operator recognises: name and schedule.
            Reply fields = Command(conn.get(), {"HMGET", base + "repeat:" + key, "name", "pattern", "every"});
            if (!fields) return failed("HMGET");
            key = RepeatLabel(key, fields.get());
          }
          if (key.size() > kMaxRepeatLabel) key.resize(kMaxRepeatLabel);
          auto next = Number(rep->element[i + 1]);
          if (!next) continue;
          fb.Gauge("botwatch_bullmq_repeat_next_run_timestamp_seconds",
                   "When each repeatable job is next due (BullMQ's repeat set), Unix time.", *next / 1000,
                   {{"queue", queue}, {"repeat", key}});
          fb.Gauge("botwatch_bullmq_repeat_overdue_seconds",
                   "How long past its due time each repeatable job's next run is; grows when the scheduler stalls.",
                   std::max(0.0, (now_ms - *next) / 1000), {{"queue", queue}, {"repeat", key}});
        }
      }
    }
  }
  ProbeResult r = ProbeResult::Up();
  r.families = fb.Take();
  return r;
}

}  // namespace botwatch
