#include "tests/support/log_source_config.h"

#include <filesystem>

namespace botwatch::testing {

std::string WriteBotLogConfig(const TempDir& dir, const std::string& file, const std::string& start_at,
                              const std::string& more) {
  std::filesystem::create_directories(dir.path() + "/logs");
  return dir.Write("botwatch.yaml", "state_dir: " + dir.path() +
                                        "/state\n"
                                        "state_interval: 100ms\n"
                                        "logs:\n"
                                        "  - name: bot\n"
                                        "    path: '" +
                                        dir.path() + "/logs/" + file +
                                        "'\n"
                                        "    start_at: " +
                                        start_at +
                                        "\n"
                                        "    poll_interval: 20ms\n" +
                                        more);
}

}  // namespace botwatch::testing
