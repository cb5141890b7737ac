// Dashboard: counters from the mail log, the minute's save, the routes and the queue actions;
// see server/dashboard.h. The pages themselves are in dashboard_pages.cc.
#include "petrel/server/dashboard.h"

#include <fmt/format.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <ctime>

#include "dashboard_pages.h"
#include "petrel/core/strings.h"
#include "petrel/status/queue_shape.h"

namespace petrel::server {

namespace {

constexpr uint64_t SaveIntervalMs = 60 * 1000;
constexpr size_t MaxMessagesShown = 200;
constexpr size_t MaxEventsShown = 200;
// The first doctor run waits for the workers' listeners (started after the dashboard).
constexpr uint64_t DoctorFirstRunMs = 5000;

using log::MailEvent;
using status::Counter;

// The pages load nothing from elsewhere and run no script; no other site may frame them
// (the queue buttons) or post forms to them.
std::string reply(int code, std::string_view reason, std::string_view type, std::string_view body,
                  std::string_view extra = {}) {
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n"
      "Cache-Control: no-store\r\nX-Frame-Options: DENY\r\nX-Content-Type-Options: nosniff\r\n"
      "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; "
      "form-action 'self'; frame-ancestors 'none'\r\n{}\r\n{}",
      code, reason, type, body.size(), extra, body);
}
std::string htmlReply(const std::string& body) {
  return reply(200, "OK", "text/html; charset=utf-8", body);
}
std::string jsonReply(const std::string& body) {
  return reply(200, "OK", "application/json", body);
}

Counter counterOf(const MailEvent& e) {
  switch (e.kind) {
    case MailEvent::Kind::Received: return Counter::Received;
    case MailEvent::Kind::Delivered: return Counter::Delivered;
    case MailEvent::Kind::Relayed: return Counter::Relayed;
    case MailEvent::Kind::Deferred: return Counter::Deferred;
    case MailEvent::Kind::Bounced: return Counter::Bounced;
    case MailEvent::Kind::Rejected: break;
  }
  return status::classifyRefusal(e.stage, e.text, e.content);
}

const char* kindName(MailEvent::Kind k) {
  switch (k) {
    case MailEvent::Kind::Received: return "received";
    case MailEvent::Kind::Delivered: return "delivered";
    case MailEvent::Kind::Relayed: return "relayed";
    case MailEvent::Kind::Deferred: return "deferred";
    case MailEvent::Kind::Bounced: return "bounced";
    case MailEvent::Kind::Rejected: return "rejected";
  }
  return "";
}

// "CN=mail.example.org, notAfter=2027-03-01T12:00:00Z" -> unix seconds, 0 when not there.
int64_t notAfter(const std::string& description) {
  size_t at = description.find("notAfter=");
  if (at == std::string::npos) return 0;
  std::tm tm{};
  if (strptime(description.c_str() + at + 9, "%Y-%m-%dT%H:%M:%SZ", &tm) == nullptr) return 0;
  return int64_t(timegm(&tm));
}

std::vector<status::ShapeMessage> shapeInput(const std::vector<QueueManager::Listed>& listed) {
  std::vector<status::ShapeMessage> out;
  for (const auto& l : listed) {
    status::ShapeMessage m;
    m.queue = l.queue;
    m.arrival = l.message.arrival_us / 1000000;
    for (const auto& r : l.message.recipients) m.recipients.push_back(r.address);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

Dashboard::Dashboard(event::Dispatcher& main, Runtime& runtime, QueueManager& queue, Clock clock)
    : main_(&main), rt_(&runtime), queue_(&queue), clock_(std::move(clock)),
      csrf_token_(status::newCsrfToken()) {
  if (!clock_) clock_ = [] { return int64_t(::time(nullptr)); };
}

Dashboard::~Dashboard() { shutdown(); }

void Dashboard::start(const config::Config& cfg) {
  state_dir_ = cfg.state_dir;
  mail_root_ = cfg.mail_root;
  auto store = status::TrafficStore::open(cfg.state_dir + "/traffic.db");
  if (!store) {
    log::mail::warning(log::Program::Master,
                       fmt::format("dashboard: {}: the traffic history is kept in memory only",
                                   store.error().message()));
  } else {
    store_ = std::move(store.value());
    auto rows = store_->load();
    if (!rows) {
      log::mail::warning(log::Program::Master,
                         fmt::format("dashboard: {}", rows.error().message()));
    } else {
      std::lock_guard lock(mutex_);
      for (const auto& r : *rows) series_.restore(r);
    }
  }
  log::setMailEventObserver(this);
  observing_ = true;
  timer_ = new uv_timer_t;
  uv_timer_init(main_->loop(), timer_);
  timer_->data = this;
  uv_timer_start(
      timer_, [](uv_timer_t* t) { static_cast<Dashboard*>(t->data)->save(); }, SaveIntervalMs,
      SaveIntervalMs);
  doctor_ = std::make_unique<DoctorJob>(*main_, *rt_);
  if (cfg.doctor.interval > 0) doctor_->start(DoctorFirstRunMs);
}

void Dashboard::stopTimer() {
  if (doctor_) doctor_->stop();
  if (timer_ == nullptr) return;
  uv_timer_stop(timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  timer_ = nullptr;
}

void Dashboard::shutdown() {
  if (observing_) {
    log::setMailEventObserver(nullptr);
    observing_ = false;
  }
  if (!store_) return;
  std::vector<status::TrafficSeries::Row> rows;
  {
    std::lock_guard lock(mutex_);
    rows = series_.takeDirty();
  }
  std::lock_guard lock(store_mutex_);
  if (auto st = store_->save(rows); !st) {
    log::mail::warning(log::Program::Master,
                       fmt::format("dashboard: {}", st.error().message()));
  }
  store_.reset();
}

// Main loop, once a minute: the changed slots go to SQLite on the pool (one save at a time;
// a slow disk makes the next minute's save carry more rows, never a queue of saves). A failed
// save loses those slots' last minute in the file, not in memory.
void Dashboard::save() {
  if (saving_ || !store_) return;
  auto rows = std::make_shared<std::vector<status::TrafficSeries::Row>>();
  {
    std::lock_guard lock(mutex_);
    *rows = series_.takeDirty();
  }
  if (rows->empty()) return;
  saving_ = true;
  auto store = store_;
  auto result = std::make_shared<Status>(okStatus());
  main_->offload(
      [this, store, rows, result] {
        std::lock_guard lock(store_mutex_);
        *result = store->save(*rows);
      },
      [this, rows, result] {
        saving_ = false;
        if (!*result) {
          log::mail::warning(log::Program::Master,
                             fmt::format("dashboard: {}", result->error().message()));
        }
      });
}

void Dashboard::onMailEvent(const MailEvent& e) {
  int64_t now = clock_();
  Counter c = counterOf(e);
  std::lock_guard lock(mutex_);
  series_.add(c, now);
  if (e.kind == MailEvent::Kind::Received) return;
  status::ActivityEntry a;
  a.time = now;
  a.kind = kindName(e.kind);
  a.id = std::string(e.id);
  a.sender = std::string(e.sender);
  a.address = std::string(e.address);
  a.client = std::string(e.client);
  if (e.kind == MailEvent::Kind::Rejected) a.reason = std::string(status::counterName(c));
  a.text = std::string(e.text);
  activity_.add(std::move(a));
}

bool Dashboard::handle(const status::HttpRequest& request, const Respond& respond) {
  const std::string& p = request.path;
  bool post = request.method == "POST";
  for (std::string_view prefix : {"/dash/queue/", "/api/queue/"}) {
    if (p.starts_with(prefix) && p.size() > prefix.size()) {
      if (!post) {
        respond(reply(405, "Method Not Allowed", "text/plain", "POST only\n", "Allow: POST\r\n"));
      } else {
        queueAction(request, p.substr(prefix.size()), prefix == "/dash/queue/", respond);
      }
      return true;
    }
  }
  bool html = p == "/" || p.starts_with("/dash/");
  std::string page = p == "/" ? "traffic" : html ? p.substr(6) : p.starts_with("/api/") ? p.substr(5) : "";
  if (page != "traffic" && page != "queue" && page != "activity" && page != "health") {
    return false;
  }
  if (post) {
    respond(reply(405, "Method Not Allowed", "text/plain", "GET only\n", "Allow: GET, HEAD\r\n"));
    return true;
  }
  int64_t now = clock_();
  if (page == "traffic") {
    dashboard::TrafficView v;
    v.now = now;
    const auto& m = rt_->metrics;
    v.received = m.messages_received.load();
    v.delivered = m.deliveries_sent.load();
    v.deferred = m.deliveries_deferred.load();
    v.bounced = m.deliveries_bounced.load();
    for (const auto& [_, n] : m.rejections()) v.rejected += n;
    {
      std::lock_guard lock(mutex_);
      for (size_t a = 0; a < status::ArchiveCount; ++a) {
        v.series[a] = series_.series(a, now);
        v.totals[a] = series_.total(a, now);
      }
    }
    respond(html ? htmlReply(dashboard::trafficHtml(v)) : jsonReply(dashboard::trafficJson(v)));
  } else if (page == "activity") {
    dashboard::ActivityView v;
    if (auto it = request.query.find("q"); it != request.query.end()) {
      v.query = status::boundedField(it->second, 200);
    }
    {
      std::lock_guard lock(mutex_);
      v.entries = activity_.latest(v.query, MaxEventsShown);
    }
    respond(html ? htmlReply(dashboard::activityHtml(v)) : jsonReply(dashboard::activityJson(v)));
  } else if (page == "queue") {
    queue_->listWithQueues([this, html, now, respond](Result<std::vector<QueueManager::Listed>> r) {
      if (!r) {
        respond(reply(503, "Service Unavailable", "text/plain",
                      fmt::format("queue: {}\n", r.error().message())));
        return;
      }
      dashboard::QueueView v;
      v.now = now;
      v.shape = status::queueShape(shapeInput(*r), now);
      v.total_messages = r->size();
      std::sort(r->begin(), r->end(), [](const auto& a, const auto& b) {
        return a.message.arrival_us < b.message.arrival_us;
      });
      for (const auto& l : *r) {
        if (v.messages.size() >= MaxMessagesShown) break;
        dashboard::QueueMessageView m;
        m.id = l.message.id;
        m.queue = l.queue;
        m.sender = l.message.sender;
        m.arrival = l.message.arrival_us / 1000000;
        m.size = l.message.size;
        for (const auto& rc : l.message.recipients) {
          m.recipients.push_back({rc.address, rc.last_error, rc.attempts, rc.next_attempt});
        }
        v.messages.push_back(std::move(m));
      }
      respond(html ? htmlReply(dashboard::queueHtml(v, csrf_token_))
                   : jsonReply(dashboard::queueJson(v)));
    });
  } else {
    health(html, respond);
  }
  return true;
}

void Dashboard::health(bool html, const Respond& respond) {
  auto v = std::make_shared<dashboard::HealthView>();
  v->now = clock_();
  auto snap = rt_->snapshot();
  if (snap.tls) {
    for (const auto& d : snap.tls->describe()) v->certificates.push_back({d, notAfter(d)});
  }
  for (const auto& l : snap.config->listeners) {
    const char* tls = l.tls == config::TlsMode::None ? "none" : "yes";
    v->listeners.push_back({l.name, l.address.toString(), tls});
  }
  if (snap.config->status.address) v->status_address = snap.config->status.address->toString();
  auto q = queue_->summary();
  v->queue_messages = q.messages;
  v->queue_oldest_age = q.oldest_age_seconds;
  v->disks = {{"state_dir", state_dir_}, {"mail_root", mail_root_}};
  if (doctor_) {
    auto last = doctor_->last();
    v->doctor_time = last.time;
    v->doctor_seconds = last.seconds;
    v->doctor_running = last.running;
    v->doctor = std::move(last.findings);
  }
  // statvfs may wait on a slow or network file system: on the pool.
  main_->offload(
      [v] {
        for (auto& d : v->disks) {
          struct statvfs st;
          if (::statvfs(d.path.c_str(), &st) != 0) continue;
          d.known = true;
          d.total_bytes = uint64_t(st.f_blocks) * st.f_frsize;
          d.free_bytes = uint64_t(st.f_bavail) * st.f_frsize;
        }
      },
      [v, html, respond] {
        respond(html ? htmlReply(dashboard::healthHtml(*v)) : jsonReply(dashboard::healthJson(*v)));
      });
}

void Dashboard::queueAction(const status::HttpRequest& request, const std::string& action,
                            bool html, const Respond& respond) {
  if (!status::csrfAllowed(request, csrf_token_)) {
    respond(reply(403, "Forbidden", "text/plain",
                  "missing or wrong CSRF token: use the buttons of the Queue page\n"));
    return;
  }
  auto it = request.query.find("id");
  std::string id = it == request.query.end() ? "" : it->second;
  // Queue ids are hex digits; anything else is no message of ours (and never reaches a log).
  if (id.empty() || id.size() > 32 ||
      !std::all_of(id.begin(), id.end(), [](char c) { return std::isxdigit(uint8_t(c)); })) {
    respond(reply(400, "Bad Request", "text/plain", "id: a queue ID is needed\n"));
    return;
  }
  auto answer = [respond, html, action, id](Status st) {
    if (html) {
      // Post/redirect/get: back to the Queue page, which shows the result.
      respond(reply(303, "See Other", "text/plain", st ? "ok\n" : st.error().message() + "\n",
                    "Location: /dash/queue\r\n"));
    } else if (st) {
      respond(jsonReply(fmt::format("{{\"ok\":true,\"action\":\"{}\",\"id\":\"{}\"}}\n", action, id)));
    } else {
      respond(reply(st.error().temporary() ? 503 : 404, "Error", "application/json",
                    fmt::format("{{\"ok\":false,\"error\":\"{}\"}}\n",
                                jsonEscape(st.error().message()))));
    }
  };
  if (action == "hold") {
    queue_->hold(id, answer);
  } else if (action == "release") {
    queue_->release(id, answer);
  } else if (action == "retry") {
    queue_->retry(id, answer);
  } else if (action == "delete") {
    queue_->remove(id, [answer](Result<size_t> r) {
      answer(r ? okStatus() : Status(r.error()));
    });
  } else {
    respond(reply(404, "Not Found", "text/plain", "no such action\n"));
  }
}

void Dashboard::shape(bool json, std::function<void(Result<std::string>)> done) {
  int64_t now = clock_();
  queue_->listWithQueues([now, json, done](Result<std::vector<QueueManager::Listed>> r) {
    if (!r) return done(r.error());
    auto tables = status::queueShape(shapeInput(*r), now);
    done(json ? status::shapeJson(tables) : status::shapeText(tables));
  });
}

}  // namespace petrel::server
