#pragma once

// The botwatch.yaml of the log tests that follow one source across restarts.

#include <string>

#include "tests/support/temp_dir.h"

namespace botwatch::testing {

// Writes dir/botwatch.yaml with one log source, `bot`, reading dir/logs/`file`
// (a glob; the logs folder is made here) from `start_at`, polled every 20 ms,
// its state saved in dir/state every 100 ms. `more` holds the source's other
// keys (its rules among them), each indented by four. Returns the path.
std::string WriteBotLogConfig(const TempDir& dir, const std::string& file, const std::string& start_at,
                              const std::string& more);

}  // namespace botwatch::testing
