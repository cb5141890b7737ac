// Dashboard: the status endpoint's pages (Traffic, Queue, Activity, Health) and their JSON
// twins under /api/, and `petrel queue shape` (docs/dashboard.md).
//
// It owns the traffic counters (status::TrafficSeries, saved once a minute to
// state_dir/traffic.db on the thread pool, read back at start) and the ring of recent events
// (status::ActivityLog); it fills both as the mail log's observer (log::MailEventObserver),
// the one place that sees every acceptance, delivery result and refusal. Queue actions (hold,
// release, delete, retry) call the QueueManager's operator commands, the same code as
// `petrel queue`, and need a POST with the process's CSRF token. It runs `petrel doctor`'s
// checks periodically (DoctorJob) and shows the last results on Health. It does not listen: the
// status RequestServer hands it parsed requests on the main loop.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "petrel/log/mail_log.h"
#include "petrel/server/doctor.h"
#include "petrel/server/queue_manager.h"
#include "petrel/server/runtime.h"
#include "petrel/status/activity.h"
#include "petrel/status/time_series.h"
#include "petrel/status/web.h"

namespace petrel::server {

class Dashboard : public log::MailEventObserver {
 public:
  using Respond = std::function<void(std::string)>;
  using Clock = std::function<int64_t()>;  // unix seconds

  Dashboard(event::Dispatcher& main, Runtime& runtime, QueueManager& queue, Clock clock = {});
  ~Dashboard() override;

  // Opens `state_dir`/traffic.db and reads the history back (blocking: at start), becomes the
  // mail log's observer and starts the minute timer on the main loop. A database that cannot
  // be opened is a warning: the counters then live in memory only.
  void start(const config::Config& cfg);
  // Stops the timer (while the loop runs, before it ends).
  void stopTimer();
  // Leaves the mail log and saves what changed (blocking: after the threads stopped).
  void shutdown();

  void onMailEvent(const log::MailEvent& event) override;

  // Answers a dashboard path (/, /dash/..., /api/...); false: not one of ours.
  bool handle(const status::HttpRequest& request, const Respond& respond);
  // qshape's table as text or JSON (`petrel queue shape`).
  void shape(bool json, std::function<void(Result<std::string>)> done);

  const std::string& csrfToken() const { return csrf_token_; }

 private:
  void save();
  void queueAction(const status::HttpRequest& request, const std::string& action, bool html,
                   const Respond& respond);
  void health(bool html, const Respond& respond);

  event::Dispatcher* main_;
  Runtime* rt_;
  QueueManager* queue_;
  Clock clock_;
  std::string csrf_token_;
  std::string state_dir_, mail_root_;

  std::mutex mutex_;  // series_ and activity_: the observer runs on every thread that logs
  status::TrafficSeries series_;
  status::ActivityLog activity_;

  std::mutex store_mutex_;  // the pool's save and the last one at shutdown
  std::shared_ptr<status::TrafficStore> store_;
  bool saving_ = false;  // main loop: a save is on the pool
  bool observing_ = false;
  uv_timer_t* timer_ = nullptr;
  std::unique_ptr<DoctorJob> doctor_;  // the last doctor results for Health
};

}  // namespace petrel::server
