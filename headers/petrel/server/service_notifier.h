// Tells the service manager what the process is doing, over the sd_notify(3) protocol, so a
// unit with Type=notify knows when Petrel listens, reloads and stops, and can restart it when
// its main loop stops turning (WatchdogSec=).
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace petrel::server {

class ServiceNotifier {
 public:
  // Reads NOTIFY_SOCKET and the watchdog settings (WATCHDOG_USEC, WATCHDOG_PID) once. Without
  // NOTIFY_SOCKET (not started by systemd) every call below does nothing.
  explicit ServiceNotifier(uv_loop_t* loop);
  ~ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  // READY=1 with STATUS=status, and the watchdog pings start (WATCHDOG=1 from this loop at half
  // the interval systemd asked for).
  void ready(std::string_view status);
  // RELOADING=1 (with MONOTONIC_USEC, as Type=notify-reload wants) now, READY=1 when the last
  // copy of the returned token is gone, whichever way the reload ends.
  std::shared_ptr<void> reloading();
  // STOPPING=1 with STATUS=status; the watchdog keeps pinging while the sessions drain.
  void stopping(std::string_view status);
  // Stops the watchdog timer; call before the loop's last run.
  void close();

  bool active() const { return active_; }
  uint64_t watchdogIntervalUsec() const { return watchdog_usec_; }

 private:
  void send(const std::string& state);

  uv_loop_t* loop_;
  uv_timer_t* watchdog_ = nullptr;  // owned; freed in its close callback
  bool active_ = false;
  uint64_t watchdog_usec_ = 0;
};

}  // namespace petrel::server
