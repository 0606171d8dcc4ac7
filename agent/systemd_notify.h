#pragma once

// systemd's notify protocol (Type=notify): READY=1 once serving, RELOADING=1
// around a reload, STOPPING=1 on shutdown, and WATCHDOG=1 pings when the unit
// sets WatchdogSec=. Every call is a no-op when NOTIFY_SOCKET is unset.

#include <chrono>
#include <optional>
#include <string>

namespace botwatch::systemd {

void NotifyReady(const std::string& status = "");
void NotifyReloading();
void NotifyStopping();
void NotifyWatchdog();

// How often to ping: half of WATCHDOG_USEC, or nullopt when the watchdog is off
// (or meant for another process, per WATCHDOG_PID).
std::optional<std::chrono::milliseconds> WatchdogPingInterval();

}  // namespace botwatch::systemd
