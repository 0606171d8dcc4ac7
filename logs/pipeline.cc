#include "logs/pipeline.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/logging.h"
#include "base/unix_time.h"

namespace botwatch::logs {
namespace {

std::unique_ptr<Parser> MakeParser(const LogSourceConfig& c) {
  switch (c.format) {
    case Format::kJson: return std::make_unique<JsonParser>(c.rules->fields);
    case Format::kLogfmt: return std::make_unique<LogfmtParser>(c.rules->fields);
    case Format::kRegex: return std::make_unique<RegexParser>(c.rules->fields, c.regex, c.regex_fields);
  }
  return nullptr;
}

}  // namespace

SourceInput::SourceInput(const LogSourceConfig& config, size_t index, MetricStore& store, const FeedSink* feed)
    : rules_(config.rules),
      index_(index),
      store_(store),
      parser_(MakeParser(config)),
      engine_(rules_, store),
      feed_(feed && *feed && !config.rules->feed.empty() ? feed : nullptr) {}

void SourceInput::Line(std::string_view line) {
  if (BlankLine(line)) return;  // nothing to count in an empty line
  // mu_ keeps one line at a time in the parser, event and engine buffers; the
  // store is locked only while its counts change, and the feed is told after.
  std::lock_guard<std::mutex> input(mu_);
  event_.Reset(rules_->fields.size());
  bool parsed = parser_->Parse(line, event_);
  double t = 0;
  if (parsed && rules_->timestamp_field >= 0) {
    std::optional<double> at = ParseTimestamp(event_.at(rules_->timestamp_field));
    t = at ? *at : UnixNow();
    if (t > latest_event_time_) latest_event_time_ = t;
  }
  {
    MetricStore::Update update(store_);
    SourceStats& stats = update.source(index_);
    stats.lines += 1;
    stats.bytes += static_cast<double>(line.size() + 1);
    if (!parsed) {
      stats.parse_errors += 1;
      return;
    }
    if (!engine_.Apply(update, event_, t)) stats.unmatched += 1;
  }
  if (feed_) {
    feed_memo_.assign(rules_->condition_ids.size(), -1);
    for (const FeedRule& f : rules_->feed) {
      if (f.match && !f.match->Matches(event_, feed_memo_)) continue;
      (*feed_)(*rules_, f, event_, t);
      break;  // one feed line per log line: the first rule that matches
    }
  }
}

nlohmann::json SourceInput::SavePending() {
  std::lock_guard<std::mutex> input(mu_);
  return engine_.SavePending();
}

void SourceInput::RestorePending(const nlohmann::json& saved, double wall_now) {
  std::lock_guard<std::mutex> input(mu_);
  MetricStore::Update update(store_);
  engine_.RestorePending(update, saved, wall_now);
}

void SourceInput::Tick(double wall_now) {
  std::lock_guard<std::mutex> input(mu_);
  MetricStore::Update update(store_);
  engine_.Tick(update, wall_now);
}

void SourceInput::TooLong() {
  MetricStore::Update update(store_);
  SourceStats& stats = update.source(index_);
  stats.lines += 1;
  stats.parse_errors += 1;
}

LogPipeline::LogPipeline(std::shared_ptr<const LogsConfig> config, FeedSink feed)
    : config_(std::move(config)), feed_(std::move(feed)) {
  std::vector<std::string> names;
  for (const auto& s : config_->sources) names.push_back(s.name);
  store_ = std::make_unique<MetricStore>(config_->metrics, names);
  for (size_t i = 0; i < config_->sources.size(); ++i) {
    const LogSourceConfig& c = config_->sources[i];
    Source s{&c, std::make_unique<SourceInput>(c, i, *store_, &feed_), nullptr, nullptr};
    if (c.type == SourceType::kHttp) s.intake = std::make_unique<HttpIntake>(c.name, c.max_body_bytes, c.max_line_bytes, c.rate_per_second, c.rate_burst);
    sources_.push_back(std::move(s));
  }
}

LogPipeline::~LogPipeline() {
  if (thread_.joinable()) (void)Stop();
}

std::string LogPipeline::state_file() const {
  return config_->state_dir.empty() ? "" : config_->state_dir + "/logs-state.json";
}

void LogPipeline::Start(const nlohmann::json* previous) {
  if (!config_->state_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(config_->state_dir, ec);
  } else if (previous == nullptr && !config_->sources.empty()) {
    logging::Warn("state_dir is not set: log positions and counts live in memory only, so after a restart "
              "lines written while botwatch was down are not counted");
  }
  nlohmann::json state;
  if (previous != nullptr) {
    state = *previous;
  } else if (!state_file().empty()) {
    std::ifstream in(state_file());
    if (in) {
      std::stringstream buf;
      buf << in.rdbuf();
      state = nlohmann::json::parse(buf.str(), nullptr, /*allow_exceptions=*/false);
      if (state.is_discarded() || !state.is_object()) {
        logging::Warn("log state file is unreadable; starting without it", {{"path", state_file()}});
        state = nlohmann::json();
      }
    }
  }
  std::vector<std::vector<FilePosition>> saved(sources_.size());
  std::vector<bool> have_state(sources_.size(), false);
  try {
    if (state.is_object() && state.contains("store")) store_->Restore(state["store"]);
    for (Source& s : sources_) {
      if (!s.input->has_pending_rules()) continue;
      nlohmann::json saved;
      if (state.is_object() && state.contains("pending") && state["pending"].is_object() &&
          state["pending"].contains(s.config->name)) {
        saved = state["pending"][s.config->name];
      }
      s.input->RestorePending(saved, UnixNow());
    }
    if (state.is_object() && state.contains("intake")) {
      for (Source& s : sources_) {
        if (s.intake && state["intake"].contains(s.config->name)) s.intake->Restore(state["intake"][s.config->name]);
      }
    }
    for (size_t i = 0; i < sources_.size(); ++i) {
      const std::string& name = sources_[i].config->name;
      if (!state.is_object() || !state.contains("positions") || !state["positions"].contains(name)) continue;
      have_state[i] = true;
      for (const auto& p : state["positions"][name]) {
        saved[i].push_back(FilePosition{p.value("dev", uint64_t{0}), p.value("ino", uint64_t{0}),
                                        p.value("fingerprint", uint64_t{0}), p.value("offset", uint64_t{0}),
                                        p.value("path", "")});
      }
    }
  } catch (const std::exception& e) {
    // A state file edited by hand or from an incompatible version: counts may
    // be partly restored, positions are not trusted.
    logging::Warn("log state is malformed; file positions are not restored", {{"path", state_file()}, {"err", e.what()}});
    saved.assign(sources_.size(), {});
    have_state.assign(sources_.size(), false);
  }
  for (size_t i = 0; i < sources_.size(); ++i) {
    Source& s = sources_[i];
    if (s.config->type != SourceType::kFile) continue;
    FileTailer::Options o;
    o.globs = s.config->paths;
    o.start_at_end = s.config->start_at_end;
    o.max_line_bytes = s.config->max_line_bytes;
    s.tailer = std::make_unique<FileTailer>(o, std::move(saved[i]), have_state[i]);
  }
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void LogPipeline::PollAll() {
  for (Source& s : sources_) {
    if (!s.tailer) continue;
    s.tailer->Poll(*s.input);
  }
  const double wall = UnixNow();
  for (Source& s : sources_) {
    if (s.input->has_pending_rules()) s.input->Tick(wall);
  }
  for (Source& s : sources_) {
    if (!s.tailer) continue;
    MetricStore::Update update(*store_);
    SourceStats& stats = update.source(static_cast<size_t>(&s - sources_.data()));
    stats.files_watched = static_cast<double>(s.tailer->files_watched());
    stats.lag_bytes = static_cast<double>(s.tailer->lag_bytes());
    stats.rotations += static_cast<double>(s.tailer->TakeRotations());
  }
}

void LogPipeline::Loop() {
  Duration poll = std::chrono::seconds(1);
  for (const Source& s : sources_) {
    if (s.tailer) poll = std::min(poll, s.config->poll_interval);
  }
  auto next_save = std::chrono::steady_clock::now() + config_->state_interval;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    PollAll();
    if (!state_file().empty() && std::chrono::steady_clock::now() >= next_save) {
      WriteState(State());
      next_save = std::chrono::steady_clock::now() + config_->state_interval;
    }
    lock.lock();
    wake_.wait_for(lock, poll, [this] { return stop_; });
  }
}

nlohmann::json LogPipeline::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  nlohmann::json state = State();
  if (!state_file().empty()) WriteState(state);
  return state;
}

nlohmann::json LogPipeline::State() const {
  // Called from the polling thread (or after it stopped), so positions and
  // counts describe the same set of lines.
  nlohmann::json positions = nlohmann::json::object();
  for (const Source& s : sources_) {
    nlohmann::json files = nlohmann::json::array();
    if (s.tailer) {
      for (const FilePosition& p : s.tailer->Positions()) {
        files.push_back({{"dev", p.dev}, {"ino", p.ino}, {"fingerprint", p.fingerprint}, {"offset", p.offset}, {"path", p.path}});
      }
    }
    positions[s.config->name] = std::move(files);
  }
  nlohmann::json intake = nlohmann::json::object();
  for (const Source& s : sources_) {
    if (s.intake) intake[s.config->name] = s.intake->Save();
  }
  // File sources are fed only by this thread, so their open starts match the
  // positions and counts exactly (kill -9 then re-reads from the positions).
  nlohmann::json pending = nlohmann::json::object();
  for (const Source& s : sources_) {
    if (s.input->has_pending_rules()) pending[s.config->name] = s.input->SavePending();
  }
  return {{"version", 1},           {"store", store_->Save()},   {"positions", std::move(positions)},
          {"intake", std::move(intake)}, {"pending", std::move(pending)}};
}

void LogPipeline::WriteState(const nlohmann::json& state) const {
  std::string path = state_file();
  // Logged once per failure streak, not every interval.
  auto fail = [&](const std::string& what) {
    if (!state_write_failed_) logging::Error("cannot write log state", {{"path", what}, {"err", std::strerror(errno)}});
    state_write_failed_ = true;
  };
  std::string tmp = path + ".tmp";
  std::string body = state.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    fail(tmp);
    return;
  }
  size_t done = 0;
  bool ok = true;
  while (done < body.size()) {
    ssize_t n = ::write(fd, body.data() + done, body.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    done += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    fail(path);
    ::unlink(tmp.c_str());
    return;
  }
  if (state_write_failed_) logging::Info("log state written again", {{"path", path}});
  state_write_failed_ = false;
  // The rename itself must survive a crash too.
  int dir = ::open(config_->state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void LogPipeline::RunOnce() {
  one_shot_ = true;
  for (Source& s : sources_) {
    if (s.config->type != SourceType::kFile) continue;
    FileTailer::Options o;
    o.globs = s.config->paths;
    o.start_at_end = false;
    o.max_line_bytes = s.config->max_line_bytes;
    o.rotate_wait = std::chrono::milliseconds(0);
    s.tailer = std::make_unique<FileTailer>(o, std::vector<FilePosition>{}, false);
  }
  PollAll();
  for (Source& s : sources_) {
    if (!s.tailer) continue;
    s.tailer->FlushPartialLines(*s.input);
    one_shot_now_ = std::max(one_shot_now_, s.input->latest_event_time());
  }
}

Status LogPipeline::Feed(std::string_view source, std::string_view line) {
  for (Source& s : sources_) {
    if (s.config->name == source) {
      s.input->Line(line);
      return Status::Ok();
    }
  }
  return Status::Error("no log source named \"" + std::string(source) + "\"");
}

LineSink* LogPipeline::Sink(std::string_view source) {
  for (Source& s : sources_) {
    if (s.config->name == source) return s.input.get();
  }
  return nullptr;
}

HttpIntake* LogPipeline::Intake(std::string_view source) {
  for (Source& s : sources_) {
    if (s.config->name == source) return s.intake.get();
  }
  return nullptr;
}

Families LogPipeline::Collect() const {
  double now = one_shot_ && one_shot_now_ > 0 ? one_shot_now_ : UnixNow();
  Families families = store_->Collect(now);
  std::vector<const HttpIntake*> intakes;
  for (const Source& s : sources_) {
    if (s.intake) intakes.push_back(s.intake.get());
  }
  if (!intakes.empty()) families.push_back(HttpIntake::Family(intakes));
  return families;
}

}  // namespace botwatch::logs
