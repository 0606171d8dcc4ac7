#include "supervise/child_output_lines.h"

#include <algorithm>

#include "logs/line_sink.h"
#include "logs/pipeline.h"

namespace botwatch {

void ChildOutputLines::Reroute(StreamState& st, Stream stream, const std::shared_ptr<LogPipeline>& pipeline) {
  std::vector<Route> routes;
  if (pipeline) {
    for (const LogSourceConfig& c : pipeline->config().sources) {
      if (c.type != SourceType::kChild) continue;
      if (!(stream == Stream::kStdout ? c.child_stdout : c.child_stderr)) continue;
      // A source that stays keeps its partial line.
      auto old = std::find_if(st.routes.begin(), st.routes.end(), [&](const Route& r) {
        return r.source == c.name && r.max_line_bytes == c.max_line_bytes;
      });
      if (old != st.routes.end()) {
        routes.push_back(std::move(*old));
      } else {
        routes.push_back(Route{c.name, c.max_line_bytes, LineSplitter(c.max_line_bytes), nullptr});
      }
      routes.back().sink = pipeline->Sink(c.name);
    }
  }
  st.routes = std::move(routes);
  st.pipeline = pipeline;
}

void ChildOutputLines::Deliver(Stream stream, std::string_view bytes, bool flush) {
  current_([&](const std::shared_ptr<LogPipeline>& pipeline) {
    StreamState& st = streams_[stream == Stream::kStdout ? 0 : 1];
    std::lock_guard<std::mutex> lock(st.mu);
    if (st.pipeline != pipeline) Reroute(st, stream, pipeline);
    for (Route& r : st.routes) {
      if (r.sink == nullptr) continue;
      auto line = [&](std::string_view l) { r.sink->Line(l); };
      if (flush) {
        r.splitter.Flush(line);
      } else {
        r.splitter.Ingest(bytes, line, [&] { r.sink->TooLong(); });
      }
    }
  });
}

void ChildOutputLines::OnOutput(Stream stream, std::string_view bytes) { Deliver(stream, bytes, false); }

void ChildOutputLines::OnChildExit() {
  Deliver(Stream::kStdout, {}, true);
  Deliver(Stream::kStderr, {}, true);
}

}  // namespace botwatch
