#include "logs/pipeline.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/crc32c.h"
#include "base/logging.h"
#include "base/state_file.h"
#include "base/unix_time.h"

namespace botwatch {
namespace {

std::unique_ptr<Parser> MakeParser(const LogSourceConfig& c) {
  switch (c.format) {
    case Format::kJson:
      return std::make_unique<JsonParser>(c.rules->fields);
    case Format::kLogfmt:
      return std::make_unique<LogfmtParser>(c.rules->fields);
    case Format::kRegex:
      return std::make_unique<RegexParser>(c.rules->fields, c.regex, c.regex_fields);
  }
  return nullptr;
}

// The state file is {"checksum":"crc32c:XXXXXXXX","state":STATE}, the checksum
// over STATE's bytes exactly as written: a file damaged or edited by hand is
// told apart from one botwatch wrote, without re-serialising anything.
constexpr std::string_view kChecksumPrefix = "{\"checksum\":\"crc32c:";
constexpr std::string_view kStateKey = "\",\"state\":";

std::string Hex8(uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

std::string EncodeStateFile(const std::string& state) {
  return std::string(kChecksumPrefix) + Hex8(Crc32c(state)) + std::string(kStateKey) + state + "}\n";
}

enum class StateTrust { kVerified, kLegacy, kDamaged };

// The state inside `text`, and whether botwatch wrote it as it is.
StateTrust DecodeStateFile(const std::string& text, nlohmann::json* state) {
  std::string_view t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.remove_suffix(1);
  const size_t head = kChecksumPrefix.size() + 8 + kStateKey.size();
  if (t.size() > head + 1 && t.substr(0, kChecksumPrefix.size()) == kChecksumPrefix &&
      t.substr(kChecksumPrefix.size() + 8, kStateKey.size()) == kStateKey && t.back() == '}') {
    std::string_view body = t.substr(head, t.size() - head - 1);
    *state = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    bool sum_ok = Hex8(Crc32c(body)) == t.substr(kChecksumPrefix.size(), 8);
    if (state->is_discarded()) {
      // Damaged inside: the whole document may still parse (an edited checksum).
      nlohmann::json whole = nlohmann::json::parse(t, nullptr, false);
      *state = whole.is_object() && whole.contains("state") ? whole["state"] : nlohmann::json();
    }
    return sum_ok && state->is_object() ? StateTrust::kVerified : StateTrust::kDamaged;
  }
  *state = nlohmann::json::parse(t, nullptr, /*allow_exceptions=*/false);
  if (state->is_object() && state->contains("checksum") && state->contains("state")) {
    nlohmann::json inner = (*state)["state"];
    *state = inner;
    return StateTrust::kDamaged;  // re-formatted by hand: the bytes the checksum covered are gone
  }
  if (state->is_object() && state->value("version", 0) == 1) return StateTrust::kLegacy;
  return StateTrust::kDamaged;
}

struct LoadedLogState {
  nlohmann::json state;
  // Positions not trusted: every file resumes at its current end, so a line is
  // counted less rather than twice.
  bool positions_trusted = true;
};

// The state saved at `path` (null when there is none or it holds no counts),
// and whether its file positions can be trusted.
LoadedLogState ReadLogState(const std::string& path) {
  LoadedLogState loaded;
  nlohmann::json& state = loaded.state;
  std::string text;
  bool exists = false;
  if (Status st = ReadStateFile(path, &text, &exists); !st.ok()) {
    logging::Warn("log state file cannot be read; counts start from zero and files resume at their end",
                  {{"err", st.message()}});
    loaded.positions_trusted = false;
    return loaded;
  }
  if (!exists) return loaded;
  StateTrust trust = DecodeStateFile(text, &state);
  if (trust == StateTrust::kLegacy) {
    logging::Info("log state file has no checksum (written by an older botwatch); it gets one on the next save",
                  {{"path", path}});
  } else if (trust == StateTrust::kDamaged) {
    loaded.positions_trusted = false;
    bool counts = state.is_object() && state.contains("store") && state["store"].is_object();
    logging::Warn(counts ? "log state file is damaged or was edited (checksum does not match): counts are "
                           "restored, file positions are not; files resume at their end, so lines written "
                           "meanwhile are not counted rather than counted twice"
                         : "log state file is damaged or was edited (checksum does not match) and holds no "
                           "counts: counts start from zero and files resume at their end",
                  {{"path", path}});
    if (!counts) state = nlohmann::json();
  }
  if (state.is_object() && !state.contains("store")) {
    if (trust != StateTrust::kDamaged) {
      logging::Warn("log state file holds no counts: counts start from zero and files resume at their end",
                    {{"path", path}});
    }
    loaded.positions_trusted = false;
  }
  if (!state.is_object()) state = nlohmann::json();
  return loaded;
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
    if (c.type == SourceType::kHttp)
      s.intake =
          std::make_unique<HttpIntake>(c.name, c.max_body_bytes, c.max_line_bytes, c.rate_per_second, c.rate_burst);
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
  CheckStateDir(previous);
  LoadedLogState loaded;
  if (previous != nullptr) {
    loaded.state = *previous;
  } else if (!state_file().empty()) {
    loaded = ReadLogState(state_file());
  }
  StartTailers(RestoreState(loaded.state, loaded.positions_trusted), loaded.positions_trusted);
  stop_ = false;
  {
    std::vector<std::string> globs;
    for (const Source& s : sources_) {
      if (s.tailer) globs.insert(globs.end(), s.config->paths.begin(), s.config->paths.end());
    }
    waker_ = std::make_unique<FileWaker>(globs);
  }
  thread_ = std::thread([this] { Loop(); });
}

void LogPipeline::CheckStateDir(const nlohmann::json* previous) const {
  if (!config_->state_dir.empty()) {
    if (Status st = PrepareStateDir(config_->state_dir); !st.ok())
      logging::Error("state_dir unusable", {{"err", st.message()}});
  }
  if (config_->state_dir.empty() && previous == nullptr && !config_->sources.empty()) {
    logging::Warn(
        "state_dir is not set: log positions and counts live in memory only, so after a restart "
        "lines written while botwatch was down are not counted");
  }
}

LogPipeline::SavedPositions LogPipeline::RestoreState(const nlohmann::json& state, bool positions_trusted) {
  try {
    RestoreCounts(state);
    return positions_trusted ? ReadPositions(state) : SavedPositions(sources_.size());
  } catch (const std::exception& e) {
    // A state file edited by hand or from an incompatible version: counts may
    // be partly restored, positions are not trusted.
    logging::Warn("log state is malformed; file positions are not restored",
                  {{"path", state_file()}, {"err", e.what()}});
    return SavedPositions(sources_.size());
  }
}

void LogPipeline::RestoreCounts(const nlohmann::json& state) {
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
}

LogPipeline::SavedPositions LogPipeline::ReadPositions(const nlohmann::json& state) const {
  SavedPositions positions(sources_.size());
  for (size_t i = 0; i < sources_.size(); ++i) {
    const std::string& name = sources_[i].config->name;
    if (!state.is_object() || !state.contains("positions") || !state["positions"].contains(name)) continue;
    positions.known[i] = true;
    for (const auto& p : state["positions"][name]) {
      positions.files[i].push_back(FilePosition{p.value("dev", uint64_t{0}), p.value("ino", uint64_t{0}),
                                                p.value("fingerprint", uint64_t{0}), p.value("offset", uint64_t{0}),
                                                p.value("path", "")});
    }
  }
  return positions;
}

void LogPipeline::StartTailers(SavedPositions positions, bool positions_trusted) {
  for (size_t i = 0; i < sources_.size(); ++i) {
    Source& s = sources_[i];
    if (s.config->type != SourceType::kFile) continue;
    FileTailer::Options o;
    o.globs = s.config->paths;
    o.start_at_end = s.config->start_at_end || !positions_trusted;
    o.max_line_bytes = s.config->max_line_bytes;
    s.tailer = std::make_unique<FileTailer>(o, std::move(positions.files[i]), positions.known[i]);
  }
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
  // A burst of writes is read in one pass at most every kMinPass: a busy log
  // costs no more than polling at that rate, a quiet one wakes on its first write.
  constexpr auto kMinPass = std::chrono::milliseconds(5);
  auto next_save = std::chrono::steady_clock::now() + config_->state_interval;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    const auto pass = std::chrono::steady_clock::now();
    PollAll();
    if (!state_file().empty() && std::chrono::steady_clock::now() >= next_save) {
      WriteState(State());
      next_save = std::chrono::steady_clock::now() + config_->state_interval;
    }
    waker_->Wait(std::chrono::duration_cast<std::chrono::milliseconds>(poll));
    auto since = std::chrono::steady_clock::now() - pass;
    if (since < kMinPass) std::this_thread::sleep_for(kMinPass - since);
  }
}

nlohmann::json LogPipeline::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  if (waker_) waker_->Interrupt();
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
        files.push_back(
            {{"dev", p.dev}, {"ino", p.ino}, {"fingerprint", p.fingerprint}, {"offset", p.offset}, {"path", p.path}});
      }
    }
    positions[s.config->name] = std::move(files);
  }
  nlohmann::json intake = nlohmann::json::object();
  for (const Source& s : sources_) {
    if (s.intake) intake[s.config->name] = s.intake->Save();
  }
  // File sources are ingested only by this thread, so their open starts match the
  // positions and counts exactly (kill -9 then re-reads from the positions).
  nlohmann::json pending = nlohmann::json::object();
  for (const Source& s : sources_) {
    if (s.input->has_pending_rules()) pending[s.config->name] = s.input->SavePending();
  }
  return {{"version", 1},
          {"store", store_->Save()},
          {"positions", std::move(positions)},
          {"intake", std::move(intake)},
          {"pending", std::move(pending)}};
}

void LogPipeline::WriteState(const nlohmann::json& state) const {
  std::string body = state.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  state_health_.Record(WriteStateFileAtomically(state_file(), EncodeStateFile(body)));
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

Status LogPipeline::Ingest(std::string_view source, std::string_view line) {
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

Families LogPipeline::Expose() const {
  double now = one_shot_ && one_shot_now_ > 0 ? one_shot_now_ : UnixNow();
  Families families = store_->Expose(now);
  std::vector<const HttpIntake*> intakes;
  for (const Source& s : sources_) {
    if (s.intake) intakes.push_back(s.intake.get());
  }
  if (!intakes.empty()) families.push_back(HttpIntake::RequestsFamily(intakes));
  return families;
}

}  // namespace botwatch
