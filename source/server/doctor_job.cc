// DoctorJob; see headers/petrel/server/doctor.h.
#include <fmt/format.h>

#include <chrono>
#include <ctime>

#include "petrel/log/mail_log.h"
#include "petrel/server/doctor.h"

namespace petrel::server {

DoctorJob::DoctorJob(event::Dispatcher& main, Runtime& rt) : main_(main), rt_(rt) {}

DoctorJob::~DoctorJob() { stop(); }

void DoctorJob::start(uint64_t first_delay_ms) {
  if (timer_ != nullptr) return;
  uint64_t interval_ms = rt_.snapshot().config->doctor.interval * 1000;
  timer_ = new uv_timer_t;
  uv_timer_init(main_.loop(), timer_);
  timer_->data = this;
  uv_timer_start(
      timer_, [](uv_timer_t* t) { static_cast<DoctorJob*>(t->data)->run(); }, first_delay_ms,
      interval_ms);
}

void DoctorJob::stop() {
  if (timer_ == nullptr) return;
  uv_timer_stop(timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  timer_ = nullptr;
}

DoctorJob::Last DoctorJob::last() const {
  std::lock_guard lock(mutex_);
  return last_;
}

void DoctorJob::run() {
  {
    std::lock_guard lock(mutex_);
    if (last_.running) return;
    last_.running = true;
  }
  Snapshot snap = rt_.snapshot();
  auto findings = std::make_shared<std::vector<doctor::Finding>>();
  auto started = std::chrono::steady_clock::now();
  // Blocking sockets and its own DNS loop: on the pool, never on the main loop.
  main_.offload([snap, findings] { *findings = runDoctor(*snap.config, {}); },
                [this, findings, started] {
                  int status = doctor::exitStatus(*findings);
                  size_t problems = 0;
                  for (const auto& f : *findings) {
                    if (f.verdict != doctor::Verdict::Pass) ++problems;
                  }
                  std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
                  {
                    std::lock_guard lock(mutex_);
                    last_.running = false;
                    last_.time = int64_t(::time(nullptr));
                    last_.seconds = took.count();
                    last_.findings = std::move(*findings);
                  }
                  std::string line = fmt::format("doctor: {} ({} check{}, {} not passing; "
                                                 "petrel doctor shows them)",
                                                 doctor::verdictName(doctor::Verdict(status)),
                                                 last_.findings.size(),
                                                 last_.findings.size() == 1 ? "" : "s", problems);
                  if (status == 0) {
                    log::mail::info(log::Program::Master, line);
                  } else {
                    log::mail::warning(log::Program::Master, line);
                  }
                });
}

}  // namespace petrel::server
