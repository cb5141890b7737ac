// The serve process: startup, signals, reload, drain, the status handler; the control socket
// routes to ControlCommands (control_commands.cc).
#include "petrel/server/server.h"

#include <fmt/format.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <thread>
#include <vector>

#include "petrel/core/strings.h"
#include "petrel/log/mail_log.h"
#include "petrel/server/config_checks.h"
#include "petrel/server/control_commands.h"
#include "petrel/server/pickup.h"
#include "petrel/server/dashboard.h"
#include "petrel/server/dmarc_report_job.h"
#include "petrel/server/arc_sealing.h"
#include "petrel/server/dkim_signing_stage.h"
#include "petrel/server/greylisting.h"
#include "petrel/server/host_tls.h"
#include "petrel/server/queue_manager.h"
#include "petrel/server/stage_check.h"
#include "petrel/server/status_endpoint.h"
#include "petrel/server/request_server.h"
#include "petrel/server/runtime.h"
#include "petrel/server/service_notifier.h"
#include "petrel/server/worker.h"

namespace petrel::server {

namespace {

constexpr uint64_t DrainSeconds = 30;
constexpr uint64_t HousekeepingSeconds = 60;

Status makeDir(const std::string& path) {
  std::string partial;
  for (auto part : split(path, '/')) {
    partial += std::string(part) + "/";
    if (part.empty()) continue;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return Error::config(fmt::format("cannot create {}: {}", partial, std::strerror(errno)));
    }
  }
  return okStatus();
}

log::LogSettings logSettings(const config::Config& cfg) {
  log::LogSettings s;
  s.syslog_name = cfg.log.syslog_name;
  s.file = cfg.log.file;
  s.debug = cfg.log.debug;
  return s;
}

// Everything a session needs, built from one config: router, TLS certificates, the
// authenticator, restriction lists, the greylist. Startup and reload share this, so a reload
// re-reads certificates and tables without touching established sessions; the greylist store
// of the snapshot `rt` has installed is kept (and its counters are the process's).
Result<Snapshot> makeSnapshot(const config::Config& cfg, const Runtime& rt) {
  auto warn = [](const std::string& w) { log::mail::warning(log::Program::Master, w); };
  auto greylist = makeGreylist(cfg, rt.snapshot().greylist, rt.metrics.greylist);
  if (!greylist) return greylist.error();
  if (cfg.greylisting.enabled && !greylistInUse(cfg)) {
    warn("greylisting is enabled, but no restriction list uses check_greylist");
  }
  auto routing = routingSnapshot(cfg, warn, std::move(greylist.value()));
  if (!routing) return routing.error();
  Snapshot s = std::move(routing.value());
  bool tls_used = false, auth_used = false;
  for (const auto& l : cfg.listeners) {
    tls_used |= l.tls != config::TlsMode::None;
    auth_used |= l.auth != config::AuthMode::None;
  }
  if (tls_used) {
    auto ctx = hostTlsContext(cfg);
    if (!ctx) return ctx.error();
    s.tls = std::move(ctx.value());
  }
  if (auth_used) {
    auth::AuthSettings as;
    as.backend = cfg.auth.backend;
    as.credentials_db = cfg.auth.credentials_db;
    as.dovecot_socket = cfg.auth.dovecot_socket;
    if (cfg.auth.credentials) {
      as.credentials = lookup::makeTable(*cfg.auth.credentials, [](const std::string& w) {
        log::mail::warning(log::Program::Master, w);
      });
    }
    auto a = auth::makeAuthenticator(as);
    if (!a) return a.error();
    s.authenticator = std::move(a.value());
  }
  s.dkim_signing = loadDkimSigningKeys(cfg, warn);
  s.arc_seal = loadArcSealing(cfg, warn);

  return s;
}

class Process {
 public:
  explicit Process(std::string config_path) : config_path_(std::move(config_path)) {}
  int run();

 private:
  void onSignal(int signum);
  void reload();
  void finishReload(Snapshot snap, const std::vector<config::ConfigError>& postmaster_errors);
  void drain();
  void finishDrain();
  void handleStatus(const status::HttpRequest& request, RequestServer::Respond respond);
  void handleControl(const std::string& request, RequestServer::Respond respond);
  void addControlCommands();
  std::string metrics() const;

  std::string config_path_;
  uv_loop_t* loop_ = nullptr;
  Runtime rt_;
  std::unique_ptr<event::Dispatcher> main_;
  std::unique_ptr<queue::Journal> journal_;
  std::unique_ptr<SpoolSlots> spool_slots_;
  std::unique_ptr<QueueManager> qmgr_;
  std::unique_ptr<Dashboard> dashboard_;  // the status pages; counts from the mail log
  std::unique_ptr<ServiceNotifier> notifier_;  // systemd: READY, RELOADING, STOPPING, watchdog
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<StatusEndpoint> status_;
  std::unique_ptr<RequestServer> control_;
  std::unique_ptr<Pickup> pickup_;  // sendmail's submissions and the maildrop
  ControlCommands control_commands_;
  std::vector<uv_signal_t*> signals_;
  uv_timer_t refresh_timer_;
  uv_timer_t housekeeping_timer_;
  GreylistSweeper greylist_sweeper_;
  std::unique_ptr<DmarcReportJob> dmarc_reports_;
  uv_timer_t drain_timer_;
  size_t workers_draining_ = 0;
  bool reload_running_ = false;  // a reload waits for its postmaster check on the pool
  bool reload_again_ = false;    // SIGHUP came meanwhile: reload once more afterwards
  bool draining_ = false;
  bool finished_ = false;
};

int Process::run() {
  auto loaded = config::loadConfig(config_path_, standardValidators());
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) fmt::print(stderr, "{}\n", e.toString());
    fmt::print(stderr, "petrel: fatal: invalid configuration, not starting\n");
    return 1;
  }
  const config::Config& cfg = *loaded.config;
  log::configure(logSettings(cfg));
  rt_.spool_dir = cfg.state_dir + "/spool";
  for (const auto& dir : {cfg.state_dir, rt_.spool_dir, cfg.mail_root}) {
    if (auto st = makeDir(dir); !st) {
      log::mail::warning(log::Program::Master, fmt::format("fatal: {}", st.error().message()));
      return 1;
    }
  }
  auto journal = queue::Journal::open(cfg.state_dir + "/queue.db");
  if (!journal) {
    log::mail::warning(log::Program::Master,
                       fmt::format("fatal: {}", journal.error().message()));
    return 1;
  }
  journal_ = std::move(journal.value());
  rt_.journal = journal_.get();
  spool_slots_ = std::make_unique<SpoolSlots>(rt_.spool_dir);
  rt_.spool_slots = spool_slots_.get();
  rt_.hosts = std::make_shared<dns::HostsFile>(dns::HostsFile::load("/etc/hosts"));
  if (cfg.dmarc.verify && cfg.dmarc.reports.enabled) {
    auto reports = dmarc::ReportStore::open(cfg.dmarc.reports.database);
    if (!reports) {
      log::mail::warning(log::Program::Master,
                         fmt::format("fatal: {}", reports.error().message()));
      return 1;
    }
    rt_.dmarc_reports = std::move(reports.value());
  }
  auto snap = makeSnapshot(cfg, rt_);
  if (!snap) {
    log::mail::warning(log::Program::Master, fmt::format("fatal: {}", snap.error().message()));
    return 1;
  }
  if (auto errors = delivery::checkPostmaster(cfg, *snap->router); !errors.empty()) {
    for (const auto& e : errors) fmt::print(stderr, "{}\n", e.toString());
    fmt::print(stderr, "petrel: fatal: invalid configuration, not starting\n");
    return 1;
  }
  rt_.install(std::move(snap.value()));

  loop_ = uv_default_loop();
  main_ = std::make_unique<event::Dispatcher>(loop_);
  rt_.main = main_.get();
  auto resolver = dns::Resolver::create(*main_, cfg.dns.servers);
  if (!resolver) {
    log::mail::warning(log::Program::Master,
                       fmt::format("fatal: dns: {}", resolver.error().message()));
    return 1;
  }
  qmgr_ = std::make_unique<QueueManager>(
      *main_, rt_, std::make_unique<RelayAgent>(*main_, std::move(resolver.value())));
  rt_.queue_manager = qmgr_.get();
  dmarc_reports_ = std::make_unique<DmarcReportJob>(*main_, rt_, *qmgr_);
  if (auto st = qmgr_->recover(); !st) {
    log::mail::warning(log::Program::Master,
                       fmt::format("fatal: queue recovery: {}", st.error().message()));
    return 1;
  }

  dashboard_ = std::make_unique<Dashboard>(*main_, rt_, *qmgr_);
  dashboard_->start(cfg);
  addControlCommands();

  unsigned n = cfg.workers > 0 ? cfg.workers : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>(rt_);
    if (auto st = w->start(cfg); !st) {
      log::mail::warning(log::Program::Master, fmt::format("fatal: {}", st.error().message()));
      for (auto& started : workers_) started->stop();
      return 1;
    }
    workers_.push_back(std::move(w));
  }

  control_ = std::make_unique<RequestServer>(
      loop_, "\n", 4096, [this](const std::string& r, RequestServer::Respond respond) {
        handleControl(r, std::move(respond));
      });
  if (auto st = control_->listenUnix(cfg.state_dir + "/control.sock"); !st) {
    log::mail::warning(log::Program::Master, fmt::format("fatal: {}", st.error().message()));
    return 1;
  }
  pickup_ = std::make_unique<Pickup>(
      loop_, *main_, rt_, MessageInjector([this](const std::string& id, int64_t arrival_us) {
        qmgr_->enqueued(id, arrival_us);
      }));
  if (auto st = pickup_->start(cfg.state_dir); !st) {
    log::mail::warning(log::Program::Master, fmt::format("fatal: {}", st.error().message()));
    return 1;
  }
  if (cfg.status.address) {
    auto status = StatusEndpoint::start(
        loop_, *main_, cfg, [this](const status::HttpRequest& r, RequestServer::Respond respond) {
          handleStatus(r, std::move(respond));
        });
    if (!status) {
      log::mail::warning(log::Program::Master,
                         fmt::format("fatal: status: {}", status.error().message()));
      return 1;
    }
    status_ = std::move(status.value());
  }

  for (int signum : {SIGTERM, SIGINT, SIGHUP}) {
    auto* s = new uv_signal_t;
    uv_signal_init(loop_, s);
    s->data = this;
    uv_signal_start(s, [](uv_signal_t* h, int sig) { static_cast<Process*>(h->data)->onSignal(sig); },
                    signum);
    signals_.push_back(s);
  }
  // File tables notice edits within a second (Postfix needs `postmap`; we do not).
  uv_timer_init(loop_, &refresh_timer_);
  refresh_timer_.data = this;
  uv_timer_start(
      &refresh_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Process*>(t->data);
        auto snap = self->rt_.snapshot();
        const_cast<delivery::Router&>(*snap.router).refreshTables();
        if (snap.quota) snap.quota->refreshTables();
        if (snap.sieve && snap.sieve->user_table) snap.sieve->user_table->refresh();
        if (snap.checks) {  // header/body check files too (a shared table refreshes once more)
          for (const auto& t : {snap.checks->header, snap.checks->mime_header,
                                snap.checks->nested_header, snap.checks->body}) {
            if (t) t->refresh();
          }
        }
      },
      1000, 1000);
  // Once a minute: expired greylist entries in bounded batches on the pool; DMARC reports of
  // the days that ended.
  uv_timer_init(loop_, &housekeeping_timer_);
  housekeeping_timer_.data = this;
  uv_timer_start(
      &housekeeping_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Process*>(t->data);
        self->greylist_sweeper_.sweep(self->rt_.snapshot().greylist, *self->main_);
        self->dmarc_reports_->tick();
      },
      HousekeepingSeconds * 1000, HousekeepingSeconds * 1000);
  uv_timer_init(loop_, &drain_timer_);
  drain_timer_.data = this;

  std::string listen;
  for (const auto& l : cfg.listeners) listen += " " + l.address.toString();
  log::mail::info(log::Program::Master,
                  fmt::format("daemon started -- version {}, configuration {}, {} workers, "
                              "listening on{}",
                              PETREL_VERSION, cfg.source_file, n, listen));
  notifier_ = std::make_unique<ServiceNotifier>(loop_);
  notifier_->ready(fmt::format("{} workers, listening on{}", n, listen));
  uv_run(loop_, UV_RUN_DEFAULT);

  // Drained: workers have no sessions, deliveries are done.
  for (auto& w : workers_) w->stop();
  workers_.clear();
  dashboard_->shutdown();  // the last minute's counts to state_dir/traffic.db
  dmarc_reports_.reset();
  qmgr_.reset();
  journal_.reset();  // commits anything still queued
  log::mail::info(log::Program::Master, "daemon stopped");
  return 0;
}

void Process::onSignal(int signum) {
  if (signum == SIGHUP) {
    reload();
  } else {
    drain();
  }
}

void Process::reload() {
  if (reload_running_) {
    reload_again_ = true;
    return;
  }
  // READY=1 again when the last copy is gone: at the end of this call, or of the pool's check.
  auto notice = notifier_ ? notifier_->reloading() : nullptr;
  auto loaded = config::loadConfig(config_path_, standardValidators());
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) {
      log::mail::warning(log::Program::Master, fmt::format("reload: {}", e.toString()));
    }
    log::mail::warning(log::Program::Master,
                       "reload failed: keeping the running configuration");
    return;
  }
  auto old = rt_.snapshot();
  const config::Config& cfg = *loaded.config;
  bool listeners_changed = cfg.listeners.size() != old.config->listeners.size();
  for (size_t i = 0; !listeners_changed && i < cfg.listeners.size(); ++i) {
    listeners_changed = cfg.listeners[i].address.toString() !=
                        old.config->listeners[i].address.toString();
  }
  if (listeners_changed || cfg.state_dir != old.config->state_dir) {
    log::mail::warning(log::Program::Master,
                       "listeners and state_dir change only on restart; other settings reloaded");
  }
  auto snap = makeSnapshot(cfg, rt_);
  if (!snap) {
    log::mail::warning(log::Program::Master, fmt::format("reload: {}", snap.error().message()));
    log::mail::warning(log::Program::Master, "reload failed: keeping the running configuration");
    return;
  }
  // The postmaster check looks addresses up; with SQL or LDAP tables that may wait on a
  // server, so it runs on the pool and the main loop goes on meanwhile.
  auto checked = std::make_shared<Snapshot>(std::move(snap.value()));
  auto errors = std::make_shared<std::vector<config::ConfigError>>();
  auto check = [checked, errors] {
    *errors = delivery::checkPostmaster(*checked->config, *checked->router);
  };
  if (!checked->router->blocking()) {
    check();
    finishReload(std::move(*checked), *errors);
    return;
  }
  reload_running_ = true;
  main_->offload(check, [this, checked, errors, notice] {
    reload_running_ = false;
    if (finished_) return;
    finishReload(std::move(*checked), *errors);
    if (reload_again_) {
      reload_again_ = false;
      reload();
    }
  });
}

void Process::finishReload(Snapshot snap,
                           const std::vector<config::ConfigError>& postmaster_errors) {
  if (!postmaster_errors.empty()) {
    for (const auto& e : postmaster_errors) {
      log::mail::warning(log::Program::Master, fmt::format("reload: {}", e.toString()));
    }
    log::mail::warning(log::Program::Master, "reload failed: keeping the running configuration");
    return;
  }
  const config::Config& cfg = *snap.config;
  auto old = rt_.snapshot();
  // Other dns.servers: a new resolver for the relay and one for each worker loop, all made
  // here (create may read resolv.conf, which the worker loops should not wait for) before
  // anything is installed, so a bad entry leaves every loop as it was.
  dns::ResolverPtr resolver;
  std::vector<dns::ResolverPtr> worker_resolvers;
  if (cfg.dns.servers != old.config->dns.servers) {
    auto created = dns::Resolver::create(*main_, cfg.dns.servers);
    for (size_t i = 0; created && i < workers_.size(); ++i) {
      auto for_worker = dns::Resolver::create(workers_[i]->dispatcher(), cfg.dns.servers);
      if (!for_worker) {
        created = for_worker.error();
      } else {
        worker_resolvers.push_back(std::move(for_worker.value()));
      }
    }
    if (!created) {
      log::mail::warning(log::Program::Master,
                         fmt::format("reload: dns: {}", created.error().message()));
      log::mail::warning(log::Program::Master,
                         "reload failed: keeping the running configuration");
      return;
    }
    resolver = std::move(created.value());
  }
  log::configure(logSettings(cfg));
  // The snapshot keeps its config alive; read what the log line needs before handing it over.
  std::shared_ptr<const config::Config> config = snap.config;
  rt_.install(std::move(snap));
  qmgr_->reconfigure(*config, std::move(resolver));
  for (size_t i = 0; i < worker_resolvers.size(); ++i) {
    workers_[i]->replaceResolver(std::move(worker_resolvers[i]));
  }
  log::mail::info(log::Program::Master,
                  fmt::format("reload -- version {}, configuration {}", PETREL_VERSION,
                              config->source_file));
}

void Process::drain() {
  if (draining_) return;
  draining_ = true;
  log::mail::info(log::Program::Master, "terminating on signal: draining sessions");
  if (notifier_) notifier_->stopping("draining sessions");
  if (status_) status_->close();
  workers_draining_ = workers_.size();
  for (auto& w : workers_) {
    w->drain([this] {
      main_->post([this] {
        if (--workers_draining_ == 0) finishDrain();
      });
    });
  }
  uv_timer_start(
      &drain_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Process*>(t->data);
        log::mail::warning(log::Program::Master, "drain deadline passed: closing sessions");
        self->finishDrain();
      },
      DrainSeconds * 1000, 0);
}

void Process::finishDrain() {
  if (finished_) return;
  finished_ = true;
  qmgr_->stop([this] {
    uv_timer_stop(&drain_timer_);
    uv_timer_stop(&refresh_timer_);
    uv_timer_stop(&housekeeping_timer_);
    dashboard_->stopTimer();
    if (notifier_) notifier_->close();
    control_->close();
    pickup_->close();
    for (auto* s : signals_) {
      uv_close(reinterpret_cast<uv_handle_t*>(s),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_signal_t*>(h); });
    }
    signals_.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(&drain_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&refresh_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&housekeeping_timer_), nullptr);
    main_->close();
    uv_stop(loop_);
  });
}

std::string Process::metrics() const {
  const auto& m = rt_.metrics;
  auto q = qmgr_->summary();
  std::string out;
  auto counter = [&out](const char* name, const char* help, const char* type, auto value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  counter("petrel_connections_total", "SMTP connections accepted.", "counter",
          m.connections_total.load());
  counter("petrel_connections_active", "SMTP connections open now.", "gauge",
          m.connections_active.load());
  counter("petrel_messages_received_total", "Messages accepted into the queue (250 sent).",
          "counter", m.messages_received.load());
  counter("petrel_messages_delivered_total", "Recipients delivered.", "counter",
          m.deliveries_sent.load());
  counter("petrel_messages_deferred_total", "Delivery attempts deferred.", "counter",
          m.deliveries_deferred.load());
  counter("petrel_messages_bounced_total", "Recipients bounced.", "counter",
          m.deliveries_bounced.load());
  out += "# HELP petrel_rejections_total SMTP refusals by stage and reply.\n";
  out += "# TYPE petrel_rejections_total counter\n";
  for (const auto& [labels, n] : m.rejections()) {
    out += fmt::format("petrel_rejections_total{{{}}} {}\n", labels, n);
  }
  out += "# HELP petrel_rejections_by_check_total SMTP refusals by the restriction check that made them.\n";
  out += "# TYPE petrel_rejections_by_check_total counter\n";
  for (const auto& [check, n] : m.checkRejections()) {
    out += fmt::format("petrel_rejections_by_check_total{{check=\"{}\"}} {}\n", check, n);
  }
  out += "# HELP petrel_dnsbl_rejections_total SMTP refusals by DNS list.\n";
  out += "# TYPE petrel_dnsbl_rejections_total counter\n";
  for (const auto& [list, n] : m.dnsListRejections()) {
    out += fmt::format("petrel_dnsbl_rejections_total{{list=\"{}\"}} {}\n", list, n);
  }
  out += "# HELP petrel_rate_limit_refusals_total Refusals by limits.rate, by event kind.\n";
  out += "# TYPE petrel_rate_limit_refusals_total counter\n";
  for (size_t i = 0; i < RateEventCount; ++i) {
    out += fmt::format("petrel_rate_limit_refusals_total{{kind=\"{}\"}} {}\n",
                       toString(RateEvent(i)), m.rate_limited[i].load());
  }
  out += greylistMetrics(*m.greylist);
  counter("petrel_queue_messages", "Messages in the queue.", "gauge", q.messages);
  out += "# HELP petrel_queue_messages_by_state Messages in the queue by state.\n";
  out += "# TYPE petrel_queue_messages_by_state gauge\n";
  out += fmt::format("petrel_queue_messages_by_state{{state=\"ready\"}} {}\n", q.ready);
  out += fmt::format("petrel_queue_messages_by_state{{state=\"active\"}} {}\n", q.active);
  out += fmt::format("petrel_queue_messages_by_state{{state=\"deferred\"}} {}\n", q.deferred);
  out += fmt::format("petrel_queue_messages_by_state{{state=\"held\"}} {}\n", q.held);
  counter("petrel_queue_oldest_age_seconds", "Age of the oldest queued message.", "gauge",
          fmt::format("{:.3f}", q.oldest_age_seconds));
  return out;
}

void Process::handleStatus(const status::HttpRequest& request, RequestServer::Respond respond) {
  std::string path = request.method != "POST" ? request.path : "";
  if (dashboard_->handle(request, respond)) {
    // a dashboard page, its JSON or a queue action
  } else if (path == "/healthz") {
    qmgr_->probe([respond](Status st) {
      if (st) {
        respond(httpResponse(200, "text/plain", "ok\n"));
      } else {
        respond(httpResponse(503, "text/plain",
                             fmt::format("queue not writable: {}\n", st.error().message())));
      }
    });
  } else if (path == "/metrics") {
    respond(httpResponse(200, "text/plain; version=0.0.4", metrics()));
  } else if (path == "/queue") {
    auto q = qmgr_->summary();
    respond(httpResponse(
        200, "application/json",
        fmt::format("{{\"messages\":{},\"ready\":{},\"active\":{},\"deferred\":{},\"held\":{},"
                    "\"oldest_age_seconds\":{:.3f}}}\n",
                    q.messages, q.ready, q.active, q.deferred, q.held, q.oldest_age_seconds)));
  } else {
    respond(httpResponse(404, "text/plain", "not found\n"));
  }
}

void Process::handleControl(const std::string& request, RequestServer::Respond respond) {
  control_commands_.handle(request, std::move(respond));
}

// The control socket's commands: the queue's, and the process's own.
void Process::addControlCommands() {
  addQueueCommands(control_commands_, *qmgr_, *dashboard_);
  control_commands_.add("dmarc-reports", false,
                        [this](const std::string&, ControlCommands::Respond respond) {
                          dmarc_reports_->run(true, [respond](Result<size_t> r) {
                            if (!r) return ControlCommands::fail(respond, r.error().message());
                            respond(fmt::format("ok\n{} DMARC aggregate report{} queued\n", *r,
                                                *r == 1 ? "" : "s"));
                          });
                        });
  control_commands_.add("reload", false, [this](const std::string&, ControlCommands::Respond respond) {
    reload();
    respond("ok\n");
  });
  control_commands_.add("pickup", false,
                        [this](const std::string&, ControlCommands::Respond respond) {
    pickup_->scan();  // the maildrop now (sendmail -q; files left while the server was down)
    respond("ok\n");
  });
}


}  // namespace

int serve(const std::string& config_path) {
  // The libuv pool runs Maildir deliveries and spool writes; 4 threads are too few.
  setenv("UV_THREADPOOL_SIZE", "16", 0);
  // One malloc arena per thread-pool thread would keep freed message buffers per thread.
  mallopt(M_ARENA_MAX, 2);
  // Every connection and every tmp file of a delivery batch is a descriptor.
  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  signal(SIGPIPE, SIG_IGN);
  Process p(config_path);
  return p.run();
}

}  // namespace petrel::server