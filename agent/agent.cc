#include "agent/agent.h"

#include "agent/health_endpoint.h"

#include <nlohmann/json.hpp>

#include <chrono>

#include "agent/exposition.h"
#include "agent/intake_endpoint.h"
#include "agent/pipeline_feed.h"
#include "agent/status_page.h"
#include "agent/summary_metrics.h"
#include "agent/version.h"
#include "base/logging.h"
#include "base/state_file.h"
#include "base/unix_time.h"
#include "logs/log_config.h"
#include "logs/pipeline.h"
#include "prom/family.h"
#include "prom/text_writer.h"
#include "web/basic_auth.h"
#include "web/gzip.h"

namespace botwatch {

Agent::Agent(Options options)
    : options_(std::move(options)),
      hosts_(options_.listen_addresses, options_.allowed_hosts),
      self_registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::BuildGauge()
      .Name("botwatch_build_info")
      .Help("A metric with a constant 1 labelled by the version and revision botwatch was built from.")
      .Register(*self_registry_)
      .Add({{"version", kVersion}, {"revision", kRevision}})
      .Set(1);
  reload_successful_ = &prometheus::BuildGauge()
                            .Name("botwatch_config_last_reload_successful")
                            .Help("Whether the last configuration load or reload succeeded.")
                            .Register(*self_registry_)
                            .Add({});
  reload_success_timestamp_ = &prometheus::BuildGauge()
                                   .Name("botwatch_config_last_reload_success_timestamp_seconds")
                                   .Help("Unix time of the last successful configuration load.")
                                   .Register(*self_registry_)
                                   .Add({});
}

Agent::~Agent() { Stop(std::chrono::seconds(1)); }

void Agent::RecordReload(bool ok) {
  reload_successful_->Set(ok ? 1 : 0);
  if (ok) reload_success_timestamp_->Set(UnixNow());
}

void Agent::Install(std::shared_ptr<const Config> config) {
  if (scheduler_) scheduler_->Stop(std::chrono::seconds(2));
  std::vector<CollectorSpec> specs;
  for (const auto& c : config->collectors) specs.push_back(c.spec);
  cache_.Reset(specs);
  scheduler_ = std::make_unique<Scheduler>(config->collectors, &cache_, config->global.workers);
  InstallLogs(*config);
  {
    std::lock_guard<std::mutex> lock(links_mu_);
    links_ = config->links;
  }
  InstallRemoteWrite(*config);
  config_ = std::move(config);
  scheduler_->Start();
  loaded_ = true;
}

Result<std::shared_ptr<const WebConfig>> Agent::LoadWebConfig() const {
  if (options_.web_config_file.empty()) return std::make_shared<const WebConfig>();
  return LoadWebConfigFile(options_.web_config_file);
}

std::shared_ptr<BasicAuth> Agent::MakeAuth(const WebConfig& web_config) {
  return web_config.auth_enabled() ? std::make_shared<BasicAuth>(web_config.basic_auth_users) : nullptr;
}

void Agent::InstallAuth(const WebConfig& web_config) { web_->SetAuth(MakeAuth(web_config)); }

std::shared_ptr<LogPipeline> Agent::Logs() const {
  std::lock_guard<std::mutex> lock(logs_mu_);
  return logs_;
}

void Agent::WithLogs(const std::function<void(const std::shared_ptr<LogPipeline>&)>& fn) {
  std::shared_lock<std::shared_mutex> feed(feed_mu_);
  fn(Logs());
}

void Agent::InstallLogs(const Config& config) {
  // Deliveries finish first and wait for the new pipeline: every line lands in
  // the counts that are handed over.
  std::unique_lock<std::shared_mutex> feed(feed_mu_);
  std::shared_ptr<LogPipeline> old = Logs();
  nlohmann::json previous;
  if (old) previous = old->Stop();
  std::shared_ptr<LogPipeline> fresh;
  if (!config.logs->sources.empty()) {
    fresh = std::make_shared<LogPipeline>(config.logs, MakePipelineFeedSink(feed_.get()));
    // summary: last hour / 24 h, the page's chart
    fresh->TrackHistory(summary_metrics::kMessages, summary_metrics::kInboundLabels);
    fresh->Start(old ? &previous : nullptr);
  }
  std::lock_guard<std::mutex> lock(logs_mu_);
  logs_ = std::move(fresh);
}

Status Agent::CheckNames(const Config& config) const {
  for (const auto& live : options_.live_collectors) {
    for (const auto& c : config.collectors) {
      if (c.spec.name == live.name) {
        return Status::Error(options_.config_file + ": collector name \"" + live.name +
                             "\" is taken by the supervised child (--supervise.name); rename one of them");
      }
    }
  }
  return Status::Ok();
}

namespace {
std::string JoinAddresses(const std::vector<std::string>& addresses) {
  std::string out;
  for (const std::string& a : addresses) out += (out.empty() ? "" : ",") + a;
  return out;
}
}  // namespace

std::vector<std::shared_ptr<const CollectorSnapshot>> Agent::Snapshots() const {
  std::vector<std::shared_ptr<const CollectorSnapshot>> all;
  for (const auto& live : options_.live_collectors) all.push_back(live.snapshot());
  std::vector<std::shared_ptr<const CollectorSnapshot>> configured = cache_.All();
  all.insert(all.end(), configured.begin(), configured.end());
  return all;
}

Status Agent::Start() {
  std::lock_guard<std::mutex> lock(reload_mu_);
  Result<std::shared_ptr<const Config>> config = LoadConfigFile(options_.config_file);
  if (!config.ok()) return config.status();
  if (Status st = CheckNames(*config.value()); !st.ok()) return st;
  if (const std::string& dir = config.value()->logs->state_dir; !dir.empty()) {
    if (Status st = PrepareStateDir(dir); !st.ok()) return st;
  }
  start_unix_ = UnixNow();
  feed_ = std::make_unique<FeedHub>(config.value()->feed);
  Result<std::shared_ptr<const WebConfig>> web_config = LoadWebConfig();
  if (!web_config.ok()) return web_config.status();
  web_config_ = std::move(web_config.value());
  // The users (and TLS) are in place before the first connection is accepted:
  // there is no moment when botwatch answers without its auth.
  auto web = WebServer::Start(
      options_.listen_addresses, [this](const HttpRequest& r) { return Handle(r); }, MakeAuth(*web_config_),
      web_config_->tls ? &*web_config_->tls : nullptr);
  if (!web.ok()) return web.status();
  web_ = std::move(web.value());
  Install(std::move(config.value()));
  RecordReload(true);
  logging::Info("botwatch started", {{"version", kVersion},
                                     {"config", options_.config_file},
                                     {"collectors", std::to_string(config_->collectors.size())},
                                     {"listen", JoinAddresses(options_.listen_addresses)},
                                     {"tls", web_->tls() ? "true" : "false"},
                                     {"auth", web_config_->auth_enabled() ? "basic" : "none"},
                                     {"port", std::to_string(port())}});
  return Status::Ok();
}

Status Agent::Reload() {
  std::lock_guard<std::mutex> lock(reload_mu_);
  Result<std::shared_ptr<const Config>> config = LoadConfigFile(options_.config_file);
  if (!config.ok()) {
    RecordReload(false);
    logging::Error("config reload failed; keeping the running config", {{"err", config.status().message()}});
    return config.status();
  }
  if (Status st = CheckNames(*config.value()); !st.ok()) {
    RecordReload(false);
    logging::Error("config reload failed; keeping the running config", {{"err", st.message()}});
    return st;
  }
  if (const std::string& dir = config.value()->logs->state_dir; !dir.empty()) {
    if (Status st = PrepareStateDir(dir); !st.ok()) {
      RecordReload(false);
      logging::Error("config reload failed; keeping the running config", {{"err", st.message()}});
      return st;
    }
  }
  Result<std::shared_ptr<const WebConfig>> web_config = LoadWebConfig();
  if (!web_config.ok()) {
    RecordReload(false);
    logging::Error("web config reload failed; keeping the running config", {{"err", web_config.status().message()}});
    return web_config.status();
  }
  if (web_config.value()->tls != web_config_->tls) {
    logging::Warn("tls_server_config changed; the new TLS settings take effect on restart",
                  {{"web_config", options_.web_config_file}});
    // Keep describing what actually runs, so the next reload compares with it.
    auto running = std::make_shared<WebConfig>(*web_config.value());
    running->tls = web_config_->tls;
    web_config.value() = std::move(running);
  }
  web_config_ = std::move(web_config.value());
  InstallAuth(*web_config_);
  Install(std::move(config.value()));
  RecordReload(true);
  logging::Info("config reloaded", {{"collectors", std::to_string(config_->collectors.size())}});
  return Status::Ok();
}

void Agent::Stop(Duration grace) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  if (feed_) feed_->Shutdown();
  StopRemoteWrite();
  if (scheduler_) scheduler_->Stop(grace);
  scheduler_.reset();
  std::unique_lock<std::shared_mutex> feed(feed_mu_);  // no delivery after the counts are saved
  if (auto logs = Logs()) (void)logs->Stop();          // saves positions and counts
}

int Agent::port() const { return web_ ? web_->port() : 0; }

bool Agent::Ready() const { return loaded_ && cache_.AllRan(); }

Families Agent::Expose() const {
  Families families = FromPrometheus(self_registry_->Collect());
  MergeFamilies(families, SelfProcessFamilies(procfs_));
  MergeFamilies(families, StateWriteErrorFamilies());
  MergeFamilies(families, CollectorFamilies(Snapshots()));
  if (feed_) MergeFamilies(families, feed_->Expose());
  if (web_) MergeFamilies(families, web_->Expose());
  if (auto logs = Logs()) MergeFamilies(families, logs->Expose());
  {
    std::lock_guard<std::mutex> lock(writers_mu_);
    MergeFamilies(families, RemoteWriteFamilies(writers_));
  }
  return families;
}

std::string Agent::RenderMetrics() const { return SerializeFamilies(Expose()); }

void Agent::StopRemoteWrite() {
  std::vector<std::unique_ptr<RemoteWriter>> old;
  {
    std::lock_guard<std::mutex> lock(writers_mu_);
    old.swap(writers_);
  }
  for (auto& w : old) w->Stop();  // outside the lock: a send in flight may take up to its timeout
}

void Agent::InstallRemoteWrite(const Config& config) {
  StopRemoteWrite();
  const std::string& state_dir = config.logs->state_dir;
  static std::atomic<bool> warned{false};
  if (!config.remote_write.empty() && state_dir.empty() && !warned.exchange(true)) {
    logging::Warn(
        "state_dir is not set: remote_write keeps unsent samples in memory only, so a restart while "
        "the receiver is unreachable loses them; set state_dir to keep them on disk");
  }
  std::vector<std::unique_ptr<RemoteWriter>> fresh;
  for (const auto& rw : config.remote_write) {
    fresh.push_back(std::make_unique<RemoteWriter>(rw, state_dir, [this] { return Expose(); }));
  }
  for (auto& w : fresh) w->Start();
  std::lock_guard<std::mutex> lock(writers_mu_);
  writers_ = std::move(fresh);
}

std::string Agent::RenderStatusJson() const {
  nlohmann::json collectors = nlohmann::json::array();
  for (const auto& s : Snapshots()) {
    nlohmann::json c = {
        {"name", s->spec.name},
        {"type", s->spec.type},
        {"interval_seconds", ToSeconds(s->spec.interval)},
        {"timeout_seconds", ToSeconds(s->spec.timeout)},
        {"checked", s->has_run},
        {"up", s->up},
        {"reason", s->has_run ? s->reason : "pending"},
        {"latency_seconds", s->duration_seconds},
        {"last_check", Iso8601(s->last_check_unix)},
        {"last_success", Iso8601(s->last_success_unix)},
        // The latest failure stays visible after recovery, with its time.
        {"last_error", s->last_error},
        {"last_error_time", Iso8601(s->last_error_unix)},
    };
    // The status page never takes botwatch's own process for the bot's.
    if (s->spec.type == "process") c["is_botwatch"] = WatchesBotwatch(*s);
    collectors.push_back(std::move(c));
  }
  nlohmann::json body = {{"status", "success"},
                         {"data", {{"ready", Ready()}, {"version", kVersion}, {"collectors", collectors}}}};
  nlohmann::json links = nlohmann::json::object();
  {
    std::lock_guard<std::mutex> lock(links_mu_);
    if (!links_.grafana.empty()) links["grafana"] = links_.grafana;
    if (!links_.alertmanager.empty()) links["alertmanager"] = links_.alertmanager;
  }
  body["data"]["links"] = std::move(links);
  nlohmann::json remotes = nlohmann::json::array();
  {
    std::lock_guard<std::mutex> lock(writers_mu_);
    for (const auto& w : writers_) remotes.push_back(w->Status());
  }
  body["data"]["remote_write"] = std::move(remotes);
  // Replace invalid UTF-8 rather than throw: messages may quote peer output.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

HttpResponse Agent::Handle(const HttpRequest& req) {
  const std::string& p = req.path;
  bool read = req.method == "GET" || req.method == "HEAD";
  auto method_not_allowed = [] { return HttpResponse{405, "text/plain; charset=utf-8", "method not allowed\n"}; };
  if (p == options_.telemetry_path) {
    if (!read) return method_not_allowed();
    HttpResponse resp{200, "text/plain; version=0.0.4; charset=utf-8", RenderMetrics()};
    resp.headers.emplace_back("Vary", "Accept-Encoding");
    // Below about a kilobyte gzip saves less than its own header costs.
    if (resp.body.size() >= 1024 && AcceptsGzip(req.header("Accept-Encoding"))) {
      if (auto gz = Gzip(resp.body)) {
        resp.body = std::move(*gz);
        resp.headers.emplace_back("Content-Encoding", "gzip");
      }
    }
    return resp;
  }
  if (IsHealthPath(p)) {
    if (!read) return method_not_allowed();
    return ServeHealthy(req, Snapshots());
  }
  if (p == "/-/ready") {
    if (!read) return method_not_allowed();
    if (Ready()) return {200, "text/plain; charset=utf-8", "Ready\n"};
    return {503, "text/plain; charset=utf-8", "Not ready: waiting for every collector's first probe\n"};
  }
  // Everything below serves data or changes state: without a web config
  // (no auth, no TLS), a DNS-rebound page could otherwise read and drive it.
  if (options_.web_config_file.empty() && !hosts_.Allows(req.Header("Host"))) {
    return {421, "text/plain; charset=utf-8",
            "unknown Host: botwatch answers this path only for its IP addresses, localhost and the names given "
            "with --web.allowed-hosts\n"};
  }
  if (p == "/-/reload") {
    if (req.method != "POST" && req.method != "PUT") {
      return {405, "text/plain; charset=utf-8", "use POST /-/reload\n"};
    }
    Status st = Reload();
    if (!st.ok()) return {500, "text/plain; charset=utf-8", "reload failed: " + st.message() + "\n"};
    return {200, "text/plain; charset=utf-8", "config reloaded\n"};
  }
  if (p == "/api/v1/summary" || p == "/api/v1/history") {
    if (!read) return method_not_allowed();
    auto logs = Logs();
    const MetricStore* store = logs ? &logs->store() : nullptr;
    nlohmann::json body = p == "/api/v1/summary" ? summary_.Summary(UnixNow(), start_unix_, store, Snapshots())
                                                 : SummaryBuilder::History(UnixNow(), store);
    return {200, "application/json", body.dump() + "\n"};
  }
  if (p == "/api/v1/feed") {
    if (!read) return method_not_allowed();
    if (!feed_) return {503, "text/plain; charset=utf-8", "not started\n"};
    return feed_->Serve(req);
  }
  if (p == "/api/v1/logs") {
    return ServeLogIntake(req, CurrentLogs());
  }
  if (p == "/api/v1/status") {
    if (!read) return method_not_allowed();
    return {200, "application/json", RenderStatusJson()};
  }
  if (auto page = ServeStatusPage(p)) {
    if (!read) return method_not_allowed();
    return *page;
  }
  return {404, "text/plain; charset=utf-8", "not found\n"};
}

}  // namespace botwatch
