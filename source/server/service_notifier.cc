// sd_notify(3) through libsystemd: the one file that sees <systemd/sd-daemon.h>.
#include "petrel/server/service_notifier.h"

#include <fmt/format.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdlib>
#include <cstring>

#include "petrel/log/mail_log.h"

namespace petrel::server {
namespace {

// A status line goes into one datagram field: no newline may end it early.
std::string statusField(std::string_view status) {
  std::string out;
  for (char c : status) out += (c == '\n' || c == '\r') ? ' ' : c;
  return out;
}

}  // namespace

ServiceNotifier::ServiceNotifier(uv_loop_t* loop) : loop_(loop) {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  active_ = socket != nullptr && *socket != '\0';
  uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is this process.
  if (active_ && sd_watchdog_enabled(0, &usec) > 0) watchdog_usec_ = usec;
}

ServiceNotifier::~ServiceNotifier() { close(); }

void ServiceNotifier::send(const std::string& state) {
  if (!active_) return;
  int rc = sd_notify(0, state.c_str());
  if (rc < 0) {
    log::mail::warning(log::Program::Master,
                       fmt::format("cannot notify the service manager: {}", strerror(-rc)));
  }
}

void ServiceNotifier::ready(std::string_view status) {
  send(fmt::format("READY=1\nSTATUS={}", statusField(status)));
  if (watchdog_usec_ == 0 || watchdog_ != nullptr) return;
  // Half the interval, as sd_watchdog_enabled(3) advises; at least a millisecond.
  uint64_t every_ms = watchdog_usec_ / 2000 > 0 ? watchdog_usec_ / 2000 : 1;
  watchdog_ = new uv_timer_t;
  uv_timer_init(loop_, watchdog_);
  watchdog_->data = this;
  uv_timer_start(
      watchdog_,
      [](uv_timer_t* t) { static_cast<ServiceNotifier*>(t->data)->send("WATCHDOG=1"); },
      every_ms, every_ms);
  uv_unref(reinterpret_cast<uv_handle_t*>(watchdog_));  // never what keeps the loop alive
}

std::shared_ptr<void> ServiceNotifier::reloading() {
  if (!active_) return nullptr;
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  uint64_t usec = static_cast<uint64_t>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
  send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading the configuration", usec));
  return std::shared_ptr<void>(nullptr, [this](void*) { send("READY=1\nSTATUS=running"); });
}

void ServiceNotifier::stopping(std::string_view status) {
  send(fmt::format("STOPPING=1\nSTATUS={}", statusField(status)));
}

void ServiceNotifier::close() {
  if (watchdog_ == nullptr) return;
  uv_timer_stop(watchdog_);
  uv_close(reinterpret_cast<uv_handle_t*>(watchdog_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  watchdog_ = nullptr;
}

}  // namespace petrel::server
