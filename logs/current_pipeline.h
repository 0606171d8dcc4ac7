#pragma once

#include <functional>
#include <memory>

namespace botwatch {

class LogPipeline;

// Runs its argument with the running pipeline (nullptr if none) while no
// reload can swap it. Whoever ingests lines from outside (the HTTP intake, the
// supervised child's output) holds one of these, not the daemon.
using CurrentPipeline = std::function<void(const std::function<void(const std::shared_ptr<LogPipeline>&)>&)>;

}  // namespace botwatch
