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
  return key.size() == 32 &&
         std::all_of(key.begin(), key.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
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
    if (!line.empty() && line[0] != '#' && colon != std::string::npos)
      out[line.substr(0, colon)] = line.substr(colon + 1);
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
  if (c->err == REDIS_ERR_IO &&
      (e.find("timed out") != std::string::npos || e.find("temporarily unavailable") != std::string::npos)) {
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

namespace {

// One probe on an open connection, step by step. Each step returns its
// failure as a value; nullopt means the probe goes on.
class RedisProbe {
 public:
  using Failure = std::optional<ProbeResult>;

  RedisProbe(const RedisConfig& config, const ProbeContext& ctx, redisContext* conn)
      : config_(config), ctx_(ctx), conn_(conn) {}

  Failure Authenticate() {
    if (!config_.password) return std::nullopt;
    std::vector<std::string> args = {"AUTH"};
    if (config_.username) args.push_back(*config_.username);
    args.push_back(config_.password->reveal());
    Reply r = Command(conn_, args);
    if (!r) return Failed("AUTH");
    if (r->type == REDIS_REPLY_ERROR) return ServerError(reason::kAuth, "authentication refused", r.get());
    return std::nullopt;
  }

  Failure SelectDb() {
    if (config_.db == 0) return std::nullopt;
    Reply r = Command(conn_, {"SELECT", std::to_string(config_.db)});
    if (!r) return Failed("SELECT");
    if (r->type == REDIS_REPLY_ERROR)
      return ServerError(reason::kProtocol, "SELECT " + std::to_string(config_.db), r.get());
    return std::nullopt;
  }

  Failure Ping(FamilyBuilder& fb) {
    auto start = std::chrono::steady_clock::now();
    Reply pong = Command(conn_, {"PING"});
    double rtt = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!pong) return Failed("PING");
    if (pong->type == REDIS_REPLY_ERROR) {
      const char* why = std::string(pong->str).rfind("NOAUTH", 0) == 0 ? reason::kAuth : reason::kProtocol;
      return ServerError(why, "PING", pong.get());
    }
    fb.Gauge("botwatch_redis_round_trip_seconds", "Time of one PING round trip on an open connection.", rtt);
    return std::nullopt;
  }

  // Memory, clients, evictions and the keyspace, from INFO.
  Failure ReadServerInfo(FamilyBuilder& fb) {
    Reply info = Command(conn_, {"INFO"});
    if (!info) return Failed("INFO");
    if (info->type != REDIS_REPLY_STRING) {
      return info->type == REDIS_REPLY_ERROR ? ServerError(reason::kProtocol, "INFO", info.get())
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
      if (key.rfind("db", 0) != 0 || key.size() < 3 || key.find_first_not_of("0123456789", 2) != std::string::npos) {
        continue;
      }
      if (value.rfind("keys=", 0) != 0 || ++dbs > kMaxKeyspaceDbs) continue;
      fb.Gauge("botwatch_redis_keyspace_keys", "Keys in each database (INFO keyspace; at most 16 databases).",
               std::strtod(value.c_str() + 5, nullptr), {{"db", key}});
    }
    return std::nullopt;
  }

  // Jobs per state, the oldest waiting job and the repeatable jobs of each
  // BullMQ queue under the prefix (at most max_queues of them).
  Failure ReadBullmq(FamilyBuilder& fb) {
    if (config_.prefix.empty() || config_.max_queues <= 0) return std::nullopt;
    std::set<std::string> queues;
    if (Failure f = DiscoverQueues(&queues)) return f;
    fb.Gauge("botwatch_bullmq_queues_discovered", "BullMQ queues found under the prefix (before max_queues).",
             static_cast<double>(queues.size()));
    double now_ms =
        std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
    int64_t taken = 0;
    for (const std::string& queue : queues) {
      if (taken++ >= config_.max_queues) break;
      if (Failure f = ReadQueue(queue, now_ms, fb)) return f;
    }
    return std::nullopt;
  }

 private:
  // Commands per job state: LLEN for BullMQ's lists, ZCARD for its sorted sets.
  struct StateKey {
    const char* state;
    const char* command;
    const char* key;
  };
  static constexpr StateKey kStates[] = {{"waiting", "LLEN", "wait"},
                                         {"active", "LLEN", "active"},
                                         {"paused", "LLEN", "paused"},
                                         {"delayed", "ZCARD", "delayed"},
                                         {"prioritized", "ZCARD", "prioritized"},
                                         {"waiting-children", "ZCARD", "waiting-children"},
                                         {"completed", "ZCARD", "completed"},
                                         {"failed", "ZCARD", "failed"}};
  static constexpr size_t kStateCount = sizeof(kStates) / sizeof(kStates[0]);

  // BullMQ writes <prefix>:<queue>:meta when a queue is first used.
  Failure DiscoverQueues(std::set<std::string>* queues) {
    std::string pattern = config_.prefix + ":*:meta";
    std::string cursor = "0";
    int calls = 0;
    do {
      Reply r = Command(conn_, {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
      if (!r) return Failed("SCAN");
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
        if (key.size() > head + tail) queues->insert(key.substr(head, key.size() - head - tail));
      }
    } while (cursor != "0" && ++calls < kMaxScanCalls && std::chrono::steady_clock::now() < ctx_.deadline);
    return std::nullopt;
  }

  // One round trip for the state counts, the oldest waiting job's id and the
  // repeat set; then what those name.
  Failure ReadQueue(const std::string& queue, double now_ms, FamilyBuilder& fb) {
    std::string base = config_.prefix + ":" + queue + ":";
    std::vector<std::vector<std::string>> cmds;
    for (const StateKey& s : kStates) cmds.push_back({s.command, base + s.key});
    // Jobs are pushed at the head of `wait` and taken from its tail.
    cmds.push_back({"LINDEX", base + "wait", "-1"});
    // The repeat set's scores are each repeatable job's next run (ms).
    cmds.push_back({"ZRANGE", base + "repeat", "0", std::to_string(config_.max_repeatable - 1), "WITHSCORES"});
    std::vector<Reply> replies = Pipeline(conn_, cmds);
    if (replies.size() != cmds.size()) return Failed("BullMQ queue " + queue);
    for (size_t i = 0; i < kStateCount; ++i) {
      fb.Gauge("botwatch_bullmq_jobs", "BullMQ jobs per queue and state.", Number(replies[i].get()).value_or(0),
               {{"queue", queue}, {"state", kStates[i].state}});
    }
    double oldest = 0;
    const redisReply* last = replies[kStateCount].get();
    if (last != nullptr && last->type == REDIS_REPLY_STRING) {
      Reply ts = Command(conn_, {"HGET", base + std::string(last->str, last->len), "timestamp"});
      if (!ts) return Failed("HGET");
      if (auto t = Number(ts.get())) oldest = std::max(0.0, (now_ms - *t) / 1000);
    }
    fb.Gauge("botwatch_bullmq_oldest_waiting_seconds", "Age of the oldest job waiting in the queue; 0 if none.", oldest,
             {{"queue", queue}});
    return ReadRepeatJobs(base, queue, replies[kStateCount + 1].get(), now_ms, fb);
  }

  Failure ReadRepeatJobs(const std::string& base, const std::string& queue, const redisReply* rep, double now_ms,
                         FamilyBuilder& fb) {
    if (rep == nullptr || rep->type != REDIS_REPLY_ARRAY) return std::nullopt;
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
      std::string key(rep->element[i]->str, rep->element[i]->len);
      if (IsHashedRepeatKey(key)) {
        // The older repeat API stores an MD5 of the options as the key;
        // its hash holds what an operator recognises: name and schedule.
        Reply fields = Command(conn_, {"HMGET", base + "repeat:" + key, "name", "pattern", "every"});
        if (!fields) return Failed("HMGET");
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
    return std::nullopt;
  }

  ProbeResult Failed(const std::string& what) const {
    return ProbeResult::Down(ReasonFor(conn_), what + " failed: " + ConnectionError(conn_));
  }
  // Redis's error text names the command, never its arguments.
  static ProbeResult ServerError(const char* why, const std::string& what, const redisReply* r) {
    return ProbeResult::Down(why, what + ": " + std::string(r->str, r->len));
  }

  const RedisConfig& config_;
  const ProbeContext& ctx_;
  redisContext* conn_;
};

}  // namespace

ProbeResult RedisCollector::Collect(const ProbeContext& ctx) {
  if (std::string missing = HiredisMissing(); !missing.empty()) return ProbeResult::Down(reason::kInternal, missing);
  Context conn(redisConnectWithTimeout(config_.host.c_str(), config_.port, ToTimeval(ctx.Remaining())));
  if (conn == nullptr || conn->err != 0) {
    return ProbeResult::Down(ReasonFor(conn.get()), "connect to " + config_.host + ":" + std::to_string(config_.port) +
                                                        " failed: " + ConnectionError(conn.get()));
  }
  // The socket timeout bounds every later read and write by what is left.
  redisSetTimeout(conn.get(), ToTimeval(ctx.Remaining()));
  RedisProbe probe(config_, ctx, conn.get());
  FamilyBuilder fb;
  if (auto failure = probe.Authenticate()) return std::move(*failure);
  if (auto failure = probe.SelectDb()) return std::move(*failure);
  if (auto failure = probe.Ping(fb)) return std::move(*failure);
  if (auto failure = probe.ReadServerInfo(fb)) return std::move(*failure);
  if (auto failure = probe.ReadBullmq(fb)) return std::move(*failure);
  ProbeResult r = ProbeResult::Up();
  r.families = fb.Take();
  return r;
}

}  // namespace botwatch
