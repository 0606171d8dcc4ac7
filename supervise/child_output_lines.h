#pragma once

// Supervise mode's log source: the child's stdout and stderr, as received by
// the Supervisor through ChildOutputSink, split into lines (each stream on its
// own; a partial line waits for the next read, across reloads too; CRLF loses
// its CR; a line over the source's max_line_bytes is skipped and counted) and
// delivered to every `type: child` source of the running config that takes
// that stream. The bytes themselves were already passed through unchanged.

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "logs/line_splitter.h"
#include "logs/pipeline.h"
#include "supervise/supervisor.h"

namespace botwatch {

class LineSink;
class LogPipeline;

class ChildOutputLines : public ChildOutputSink {
 public:
  explicit ChildOutputLines(CurrentPipeline current) : current_(std::move(current)) {}

  void OnOutput(Stream stream, std::string_view bytes) override;
  // The child is gone: its unterminated last lines are lines.
  void OnChildExit() override;

 private:
  struct Route {
    std::string source;
    size_t max_line_bytes;
    LineSplitter splitter;
    LineSink* sink = nullptr;  // of `pipeline` below
  };
  // Touched by one stream's reader thread (and OnChildExit once both ended);
  // the mutex only makes that explicit.
  struct StreamState {
    std::mutex mu;
    std::shared_ptr<LogPipeline> pipeline;  // the routes' sinks belong to it
    std::vector<Route> routes;
  };
  void Deliver(Stream stream, std::string_view bytes, bool flush);
  static void Reroute(StreamState& st, Stream stream, const std::shared_ptr<LogPipeline>& pipeline);

  CurrentPipeline current_;
  StreamState streams_[2];
};

}  // namespace botwatch
