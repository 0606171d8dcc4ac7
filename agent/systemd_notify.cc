#include "agent/systemd_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include "base/logging.h"

namespace botwatch::systemd {
namespace {

void Send(const std::string& state) {
  int r = sd_notify(0, state.c_str());
  if (r < 0) logging::Warn("sd_notify failed", {{"state", state.substr(0, state.find('\n'))}, {"errno", std::to_string(-r)}});
}

}  // namespace

void NotifyReady(const std::string& status) {
  Send(status.empty() ? "READY=1" : "READY=1\nSTATUS=" + status);
}

void NotifyReloading() {
  // MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) match the reload;
  // older versions ignore it.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
  Send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void NotifyStopping() { Send("STOPPING=1"); }

void NotifyWatchdog() { Send("WATCHDOG=1"); }

std::optional<std::chrono::milliseconds> WatchdogPingInterval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  auto half = std::chrono::milliseconds(usec / 2000);
  return std::max(half, std::chrono::milliseconds(1));
}

}  // namespace botwatch::systemd
