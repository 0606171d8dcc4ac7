#include "agent/feed.h"
#include "base/unix_time.h"
#include "prom/family_builder.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>

namespace botwatch {

FeedConfig ReadFeedConfig(ConfigMap& top) {
  FeedConfig c;
  std::optional<ConfigMap> m = top.OptionalMap("feed");
  if (!m) return c;
  c.max_clients = static_cast<size_t>(m->Int("max_clients", static_cast<int64_t>(c.max_clients), 1, 64));
  c.buffer_events = static_cast<size_t>(m->Int("buffer_events", static_cast<int64_t>(c.buffer_events), 10, 100000));
  c.backlog = static_cast<size_t>(m->Int("backlog", static_cast<int64_t>(c.backlog), 0, 1000));
  if (c.backlog > c.buffer_events) m->FailAt("backlog", "must not exceed buffer_events");
  c.allow_text = m->Bool("allow_text", c.allow_text);
  c.heartbeat = m->DurationValue("heartbeat", c.heartbeat, std::chrono::milliseconds(100));
  c.max_events_per_second = static_cast<int>(m->Int("max_events_per_second", c.max_events_per_second, 1, 100000));
  m->RejectUnknownKeys();
  return c;
}

// ---- redaction ----

std::string FeedRedactor::Hash(std::string_view identifier) const {
  // FNV-1a over the salt and the value: not a cryptographic commitment, but with
  // a random per-process salt the short hash cannot be looked up in a table of
  // the (small) space of Messenger ids.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](unsigned char b) {
    h ^= b;
    h *= 1099511628211ull;
  };
  for (int i = 0; i < 8; ++i) mix(static_cast<unsigned char>(salt_ >> (8 * i)));
  for (char c : identifier) mix(static_cast<unsigned char>(c));
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(h & 0xffffffffu));
  return std::string("u:") + buf;
}

void FeedRedactor::Add(std::string_view name, const nlohmann::json& value, Kind kind, nlohmann::json& out) const {
  std::string key(name);
  if (kind == Kind::kText && !allow_text_) return;
  if (kind == Kind::kIdentifier) {
    if (value.is_null()) return;
    out[key] = Hash(value.is_string() ? value.get<std::string>() : value.dump());
    return;
  }
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (s.size() > kMaxStringBytes) {
      size_t cut = kMaxStringBytes;
      while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // keep UTF-8 whole
      out[key] = s.substr(0, cut) + "…";
      return;
    }
  }
  if (value.is_object() || value.is_array()) return;  // only scalars: nested data may hold anything
  out[key] = value;
}

// ---- hub ----

class FeedHub::ClientSlot {
 public:
  explicit ClientSlot(FeedHub* hub) : hub_(hub) {}
  ~ClientSlot() {
    std::lock_guard<std::mutex> lock(hub_->mu_);
    --hub_->clients_;
  }

 private:
  FeedHub* hub_;
};

namespace {

std::optional<uint64_t> ParseEventId(const std::string& s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

FeedHub::FeedHub(FeedConfig config) : config_(config) {}

FeedHub::~FeedHub() { Shutdown(); }

bool FeedHub::Admit(double now_seconds) {
  auto second = static_cast<int64_t>(now_seconds);
  int64_t seen = admit_second_.load(std::memory_order_relaxed);
  if (second != seen && admit_second_.compare_exchange_strong(seen, second, std::memory_order_relaxed)) {
    admitted_in_second_.store(0, std::memory_order_relaxed);
  }
  if (admitted_in_second_.fetch_add(1, std::memory_order_relaxed) < config_.max_events_per_second) return true;
  skipped_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

uint64_t FeedHub::Publish(std::string_view type, std::string_view level, double unix_time, nlohmann::json fields) {
  nlohmann::json data = {{"type", type},
                         {"level", level},
                         {"time", Iso8601Millis(unix_time)},
                         {"fields", fields.is_object() ? std::move(fields) : nlohmann::json::object()}};
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_id_++;
    data["id"] = id;
    std::string text = "id: " + std::to_string(id) + "\ndata: ";
    // A data line cannot hold a newline; dump() escapes them inside strings.
    text += data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += "\n\n";
    ring_.push_back(Frame{id, std::move(text)});
    if (ring_.size() > config_.buffer_events) ring_.pop_front();
    ++events_total_;
    wake_ = true;
  }
  changed_.notify_all();
  return id;
}

HttpResponse FeedHub::Serve(const HttpRequest& req) {
  HttpResponse resp(200, "text/event-stream; charset=utf-8", "");
  resp.headers = {{"X-Accel-Buffering", "no"}};  // proxies must not buffer the stream
  if (req.method == "HEAD") return resp;
  std::optional<uint64_t> resume = ParseEventId(req.Header("Last-Event-ID"));
  uint64_t cursor;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return {503, "text/plain; charset=utf-8", "shutting down\n"};
    if (clients_ >= config_.max_clients) {
      ++rejected_;
      HttpResponse busy(503, "text/plain; charset=utf-8",
                        "too many feed clients (feed.max_clients = " + std::to_string(config_.max_clients) + ")\n");
      busy.headers = {{"Retry-After", "5"}};
      return busy;
    }
    ++clients_;
    uint64_t last = next_id_ - 1;
    // An id from the future (botwatch restarted, ids began again) starts fresh.
    if (resume && *resume <= last) {
      cursor = *resume;
    } else {
      cursor = last >= config_.backlog ? last - config_.backlog : 0;
      resume.reset();
    }
  }
  // The slot goes with the stream once the server hands it over; if it never
  // does (the client left first), with this function.
  auto slot = std::make_shared<ClientSlot>(this);
  bool resumed = resume.has_value();
  resp.stream = [this, slot, cursor, resumed](std::shared_ptr<ResponseStream> out) mutable {
    Attach(std::move(out), std::move(slot), cursor, resumed);
  };
  return resp;
}

struct FeedHub::Client {
  std::shared_ptr<ResponseStream> out;
  std::shared_ptr<ClientSlot> slot;
  uint64_t cursor = 0;
  bool resumed = false;
  bool first = true;
  std::chrono::steady_clock::time_point last_sent{};
};

void FeedHub::Attach(std::shared_ptr<ResponseStream> out, std::shared_ptr<ClientSlot> slot, uint64_t cursor,
                     bool resumed) {
  out->OnDrained([this] { Wake(); });
  auto client = std::make_unique<Client>();
  client->out = out;
  client->slot = std::move(slot);
  client->cursor = cursor;
  client->resumed = resumed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!shutdown_) {
      clients_list_.push_back(std::move(client));
      if (!pump_.joinable()) pump_ = std::thread([this] { Pump(); });
      wake_ = true;
    }
  }
  if (client) {  // shut down meanwhile
    out->End();
    client.reset();
    return;
  }
  changed_.notify_all();
}

void FeedHub::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  changed_.notify_all();
}

// The feed thread: gives each client that is not still sending its previous
// batch what it has not seen, a keepalive when it has had nothing for a
// heartbeat, or drops it when it fell a whole ring behind. Writes only queue
// (ResponseStream), and happen outside the lock.
void FeedHub::Pump() {
  using Clock = std::chrono::steady_clock;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    changed_.wait_until(lock, NextDue(Clock::now()), [&] { return shutdown_ || wake_; });
    if (shutdown_) return;
    wake_ = false;
    std::vector<Outgoing> writes;
    std::vector<std::unique_ptr<Client>> done;
    PlanWrites(Clock::now(), writes, done);
    lock.unlock();
    // A failed write shows as a closed stream in the next round.
    for (Outgoing& w : writes) {
      w.out->Write(std::move(w.text));
      if (w.end) w.out->End();
    }
    for (auto& c : done) c->out->End();
    done.clear();  // releases the slots (ClientSlot takes mu_)
    lock.lock();
  }
}

FeedHub::TimePoint FeedHub::NextDue(TimePoint now) const {
  TimePoint due = now + config_.heartbeat;
  // A client still sending is woken by its drain, not by the clock.
  for (const auto& c : clients_list_) {
    if (!c->out->Busy()) due = std::min(due, c->last_sent + config_.heartbeat);
  }
  return std::max(due, now + std::chrono::milliseconds(1));
}

// Plans each client's write; a client whose stream closed, or that is dropped,
// moves from the list to `done`.
void FeedHub::PlanWrites(TimePoint now, std::vector<Outgoing>& writes, std::vector<std::unique_ptr<Client>>& done) {
  for (size_t i = 0; i < clients_list_.size();) {
    Client& c = *clients_list_[i];
    bool keep = true;
    if (!c.out->Open()) {
      ++disconnected_;
      keep = false;
    } else if (!c.out->Busy()) {
      keep = PlanClient(c, now, writes);
    }
    if (keep) {
      ++i;
      continue;
    }
    done.push_back(std::move(clients_list_[i]));
    clients_list_.erase(clients_list_.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

// What a client that is not sending gets now: the frames it has not seen, a
// keepalive, or nothing yet. False when it is dropped for being slow (its last
// words planned).
bool FeedHub::PlanClient(Client& c, TimePoint now, std::vector<Outgoing>& writes) {
  // Tell EventSource to come back quickly after a drop.
  std::string batch = c.first ? "retry: 2000\n: botwatch live feed\n\n" : "";
  if (!ring_.empty() && ring_.back().id > c.cursor) {
    uint64_t oldest = ring_.front().id;
    bool missing = c.cursor + 1 < oldest;
    uint64_t missed = missing ? oldest - c.cursor - 1 : 0;
    // Replaying after a reconnect: say what is gone and go on. While
    // streaming: this client could not keep up; drop it rather than hold
    // anything back.
    if (missing && !(c.first && c.resumed)) {
      ++dropped_slow_;
      writes.push_back({c.out, ": dropped: this client fell " + std::to_string(missed) + " events behind\n\n", true});
      return false;
    }
    if (missing) batch += ": " + std::to_string(missed) + " events were no longer buffered\n\n";
    size_t start = missing ? 0 : static_cast<size_t>(c.cursor + 1 - oldest);
    for (size_t k = start; k < ring_.size(); ++k) batch += ring_[k].text;
    c.cursor = ring_.back().id;
  }
  if (batch.empty()) {
    if (now - c.last_sent < config_.heartbeat) return true;
    batch = ": keepalive\n\n";
  }
  c.first = false;
  c.last_sent = now;
  writes.push_back({c.out, std::move(batch), false});
  return true;
}

void FeedHub::Shutdown() {
  std::vector<std::unique_ptr<Client>> ending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
    ending.swap(clients_list_);
  }
  changed_.notify_all();
  if (pump_.joinable() && pump_.get_id() != std::this_thread::get_id()) pump_.join();
  std::vector<std::shared_ptr<ResponseStream>> outs;
  for (auto& c : ending) outs.push_back(c->out);
  ending.clear();  // slots released before the streams end
  for (auto& out : outs) out->End();
}

size_t FeedHub::clients() const {
  std::lock_guard<std::mutex> lock(mu_);
  return clients_;
}

uint64_t FeedHub::last_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_id_ - 1;
}

std::vector<Family> FeedHub::Expose() const {
  std::lock_guard<std::mutex> lock(mu_);
  FamilyBuilder fb;
  fb.Gauge("botwatch_feed_clients", "Clients connected to /api/v1/feed.", static_cast<double>(clients_));
  fb.Counter("botwatch_feed_events_total", "Events published to the live feed.", events_total_);
  fb.Counter("botwatch_feed_events_skipped_total",
             "Feed events not published because more than feed.max_events_per_second arrived.",
             static_cast<double>(skipped_.load(std::memory_order_relaxed)));
  const char* disconnects_help =
      "Feed streams that ended, by reason: slow (botwatch dropped a client that fell a whole "
      "buffer behind) or client_gone (a write failed or timed out).";
  fb.Counter("botwatch_feed_disconnects_total", disconnects_help, dropped_slow_, {{"reason", "slow"}});
  fb.Counter("botwatch_feed_disconnects_total", disconnects_help, disconnected_, {{"reason", "client_gone"}});
  fb.Counter("botwatch_feed_clients_rejected_total",
             "Feed connections refused because feed.max_clients were connected.", rejected_);
  return fb.Take();
}

}  // namespace botwatch
