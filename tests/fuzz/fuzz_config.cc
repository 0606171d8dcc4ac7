// Fuzz target: the config loader must turn any bytes into a config or a
// one-line error, never a crash, a hang or a multi-line message.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "agent/config.h"

namespace {
std::optional<std::string> NoEnv(const std::string& name) {
  if (name == "SET") return std::string("value");
  return std::nullopt;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  botwatch::ConfigSource src;
  src.file = "fuzz.yaml";
  src.dir = "/nonexistent";  // *_file secrets must fail cleanly, not read the machine's files
  src.env = &NoEnv;
  auto r = botwatch::LoadConfigText(std::string(reinterpret_cast<const char*>(data), size), src);
  if (!r.ok()) {
    const std::string& m = r.status().message();
    if (m.empty() || m.find('\n') != std::string::npos) std::abort();
  }
  return 0;
}
