// Queue scheduling, delivery jobs and their results; see queue_manager.h.
#include "petrel/server/queue_manager.h"

#include <fmt/format.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <unordered_set>

#include "petrel/core/strings.h"
#include "petrel/delivery/maildir_agent.h"
#include "petrel/log/mail_log.h"
#include "petrel/queue/bounce.h"
#include "petrel/queue/retry_policy.h"
#include "petrel/server/arc_sealing.h"
#include "petrel/server/canonical_headers.h"
#include "petrel/server/dsn_notice.h"
#include "petrel/server/generated_mail.h"

namespace petrel::server {

namespace {

constexpr size_t BatchSize = 32;
constexpr size_t MinParallelJobs = 2;
// Relayed messages wait in the relay agent with their content in memory; no new delivery
// batch starts while this much is in flight.
constexpr size_t MaxRelayMessages = 5000;
constexpr uint64_t MaxRelayBytes = 256ull << 20;

int64_t nowSeconds() { return int64_t(time(nullptr)); }

// One read-only connection per thread-pool thread, opened on first use.
Result<queue::Db*> threadReader(const std::string& path) {
  thread_local std::unique_ptr<queue::Db> db;
  thread_local std::string db_path;
  if (!db || db_path != path) {
    auto opened = queue::Db::open(path, true);
    if (!opened) return opened.error();
    db = std::move(opened.value());
    db_path = path;
  }
  return db.get();
}

// RFC 3461 4.1: without NOTIFY, failures are reported and delays may be; NOTIFY=NEVER
// reports nothing.
bool notifies(const std::string& notify, std::string_view what) {
  return notify.empty() || notify.find(what) != std::string::npos;
}

size_t concurrency(const config::Config& cfg) {
  if (cfg.queue.delivery_concurrency > 0) return cfg.queue.delivery_concurrency;
  return 4 * std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

struct QueueManager::RecipientResult {
  queue::StoredRecipient rcpt;
  enum class Kind { Sent, Deferred, Bounced } kind = Kind::Deferred;
  std::string dsn;
  std::string text;
  std::string relay = "virtual";      // "virtual", "none" or "host[ip]:port"
  std::optional<log::Delays> delays;  // relayed: its own job's times
  std::string remote_mta;             // relayed: the host that answered (DSN Remote-MTA)
  std::string diagnostic;             // relayed: its reply (DSN Diagnostic-Code)
  std::optional<log::Program> program;  // the agent's; else by relay
  bool delay_warned = false;          // named in this round's delay warning
  // Mail its agent made (a redirect's copy, a vacation reply): as reported, then, once settled,
  // stamped for the journal; inserted with this result, dropped when it is deferred.
  std::vector<delivery::GeneratedMessage> made;
  std::vector<QueuedGenerated> generated;
};

struct QueueManager::MessageResult {
  std::string id;
  bool found = false;
  queue::StoredMessage meta;  // without body
  std::vector<RecipientResult> results;
  // Its recipients per target; deliveries still here wait for an agent on the main loop.
  // routed.message.content: the message, when an agent loaded it.
  delivery::MessageDeliveries routed;
  std::optional<queue::StoredMessage> bounce;
  std::optional<queue::StoredMessage> delay_notice;
  int64_t next_attempt = 0;  // for the deferred ones
  bool removed = false;      // filled in by the journal transaction
};

struct QueueManager::BatchResult {
  std::vector<std::string> ids;
  std::vector<MessageResult> messages;
  std::string error;  // the batch could not even read the queue
  int64_t start_us = 0;
  int64_t end_us = 0;
  Snapshot snap;  // the configuration the batch routed with
  delivery::AgentRegistry agents;  // and its agents (all but the job's Maildir agent)
  std::unordered_set<std::string> recheck;  // ids of recheck_ when it started
};

struct QueueManager::RelayInFlight {
  MessageResult message;
  Snapshot snap;
  delivery::AgentRegistry agents;
  int64_t start_us = 0;
};

QueueManager::QueueManager(event::Dispatcher& main, Runtime& runtime,
                           std::unique_ptr<RelayAgent> relay)
    : main_(&main),
      rt_(&runtime),
      timer_(new uv_timer_t),
      injector_([this](const std::string& id, int64_t arrival_us) { enqueued(id, arrival_us); }),
      relay_(std::move(relay)),
      smtp_agent_(*relay_),
      lmtp_(std::make_unique<LmtpClient>(
          main, LmtpNameService{[this] { return relay_->resolver(); },
                                [this] { return rt_->hosts; }})) {
  relay_->configure(*rt_->snapshot().config);
  agents_ = makeTransportAgents({main, *rt_->snapshot().config, smtp_agent_, *relay_, *lmtp_});
  uv_timer_init(main.loop(), timer_);
  timer_->data = this;
  uv_timer_start(
      timer_, [](uv_timer_t* t) { static_cast<QueueManager*>(t->data)->onTick(); }, 1000, 1000);
}

QueueManager::~QueueManager() {
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

Status QueueManager::recover() {
  auto db = queue::Db::open(rt_->journal->path(), true);
  if (!db) return db.error();
  auto max_id = queue::Journal::maxId(**db);
  if (!max_id) return max_id.error();
  seedQueueIds(*max_id);
  auto all = queue::Journal::load(**db, "", false);
  if (!all) return all.error();
  int64_t now = nowSeconds();
  std::unordered_set<std::string> spool_files;
  for (auto& m : *all) {
    if (!m.spool_path.empty()) spool_files.insert(m.spool_path);
    // The last run may have died between a delivery and its journal commit.
    recheck_.insert(m.id);
    int64_t next = INT64_MAX;
    for (const auto& r : m.recipients) next = std::min(next, r.next_attempt);
    if (m.held) {
      scheduler_.addHeld(m.id, m.arrival_us);
    } else if (next <= now || m.recipients.empty()) {
      scheduler_.addReady(m.id, m.arrival_us);
    } else {
      scheduler_.addDeferred(m.id, m.arrival_us, next);
    }
  }
  // Slots of messages that never got their 250 (crash between write and commit) are free.
  rt_->spool_slots->recover(spool_files);
  if (size_t n = scheduler_.counts().messages; n > 0) {
    log::mail::info(log::Program::Qmgr, fmt::format("recovered {} queued messages ({} due now)",
                                                    n, scheduler_.readyListed()));
  }
  pump();
  return okStatus();
}

void QueueManager::enqueued(const std::string& id, int64_t arrival_us, bool held) {
  if (held) {
    scheduler_.addHeld(id, arrival_us);
    return;
  }
  scheduler_.addReady(id, arrival_us);
  pump();
}

void QueueManager::onTick() {
  scheduler_.due(nowSeconds());
  pump();
}

void QueueManager::pump() {
  if (stopping_) return;
  Snapshot snap = rt_->snapshot();
  size_t limit = concurrency(*snap.config);
  while (jobs_ < limit && scheduler_.readyListed() > 0 && relays_ < MaxRelayMessages &&
         relay_bytes_ < MaxRelayBytes) {
    // Group delivery: with jobs already running, wait for a full batch (or for a job to
    // finish) so that one directory fsync and one journal commit cover many messages.
    if (jobs_ >= MinParallelJobs && scheduler_.readyListed() < BatchSize) break;
    std::vector<std::string> ids = scheduler_.take(BatchSize);
    if (ids.empty()) break;
    launch(std::move(ids));
  }
}

void QueueManager::launch(std::vector<std::string> ids) {
  ++jobs_;
  auto batch = std::make_shared<BatchResult>();
  batch->ids = std::move(ids);
  batch->snap = rt_->snapshot();
  batch->agents = agents_;  // asynchronous agents only prepare() in the job
  if (!recheck_.empty()) {
    for (const auto& id : batch->ids) {
      if (recheck_.count(id) > 0) batch->recheck.insert(id);
    }
  }
  std::string path = rt_->journal->path();
  main_->offload([batch, path] { runBatch(*batch, batch->snap, path); },
                 [this, batch] { finishBatch(batch); });
}

// Thread pool: read, route and deliver a batch of messages. No shared state is touched.
void QueueManager::runBatch(BatchResult& batch, const Snapshot& snap, const std::string& path) {
  using Kind = RecipientResult::Kind;
  const config::Config& cfg = *snap.config;
  batch.start_us = nowMicros();
  auto db = threadReader(path);
  if (!db) {
    batch.error = db.error().message();
    return;
  }
  std::vector<queue::StoredMessage> loaded;
  for (const auto& id : batch.ids) {
    auto m = queue::Journal::load(**db, id, true);
    MessageResult r;
    r.id = id;
    if (!m) {
      batch.error = m.error().message();
      return;
    }
    if (!m->empty()) {
      r.found = true;
      loaded.push_back(std::move(m->front()));
    }
    batch.messages.push_back(std::move(r));
  }
  // Resolve every recipient's target and group them per message and target.
  std::vector<Result<delivery::RewrittenHeader>> headers;
  headers.reserve(loaded.size());  // the agents point into it
  std::vector<delivery::MessageDeliveries*> routed;
  size_t li = 0;
  for (auto& mr : batch.messages) {
    if (!mr.found) continue;
    const queue::StoredMessage& m = loaded[li++];
    // canonical.sender rewrites the envelope sender as delivered (Return-Path, MAIL FROM);
    // canonical.headers decides whether the maps rewrite header fields too.
    Result<std::string> sender = snap.router->canonicalSender(m.sender);
    const Result<delivery::RewrittenHeader>& header =
        headers.emplace_back(canonicalHeaders(snap, m));
    std::string lookup_failure = !sender  ? sender.error().message()
                                 : !header ? header.error().message()
                                           : std::string();
    mr.routed.message.stored = &m;
    mr.routed.message.sender = sender ? *sender : m.sender;
    mr.routed.message.header = header ? &header.value() : nullptr;
    mr.routed.message.recheck = batch.recheck.count(mr.id) > 0;
    for (size_t ri = 0; ri < m.recipients.size(); ++ri) {
      RecipientResult rr;
      rr.rcpt = m.recipients[ri];
      if (!lookup_failure.empty()) {
        rr.dsn = "4.3.0";
        rr.text = lookup_failure;
      } else {
        delivery::Transport transport = delivery::Transport::Virtual;
        // The message's content filter, when it has one, takes every recipient (once: the
        // filter re-injects it through a listener that sets none).
        auto target = snap.router->resolveMessage(rr.rcpt.address, m.content_filter, &transport);
        if (transport != delivery::Transport::Virtual) rr.relay = "none";
        if (!target) {
          rr.kind = target.error().temporary() ? Kind::Deferred : Kind::Bounced;
          rr.dsn = target.error().temporary() ? "4.3.0" : "5.1.1";
          rr.text = target.error().message();
        } else {
          // Forwarded recipients (docs/srs.md) go out with their own envelope sender (SRS)
          // and an ARC set (docs/arc.md), so they form a delivery of their own.
          if ((snap.router->srsEnabled() || snap.arc_seal) &&
              snap.router->forwarded(rr.rcpt.orig_address, *target)) {
            if (snap.router->srsEnabled()) {
              target->sender = snap.router->forwardingSender(mr.routed.message.sender);
              if (target->sender == mr.routed.message.sender) target->sender.clear();
            }
            // Not on the way into an after-queue content filter: every recipient at our
            // domains looks forwarded there, the locally delivered ones too.
            target->arc_seal = snap.arc_seal != nullptr && m.content_filter.empty();
          }
          mr.routed.add(*target, ri);
        }
      }
      mr.results.push_back(std::move(rr));
    }
    routed.push_back(&mr.routed);
  }
  delivery::MaildirAgent maildir(cfg.delivery.maildir_fsync, cfg.hostname, snap.sieve,
                                 snap.auto_replies, snap.quota);
  delivery::AgentRegistry agents = batch.agents;
  agents.addUnowned("virtual", maildir);
  delivery::deliverInJob(agents, routed);
  if (snap.arc_seal) sealForwardedDeliveries(*snap.arc_seal, routed, uint64_t(time(nullptr)));
  li = 0;
  for (auto& mr : batch.messages) {
    if (!mr.found) continue;
    takeReports(mr);
    queue::StoredMessage& m = loaded[li++];
    std::string body = std::move(m.body);
    mr.meta = std::move(m);
    mr.routed.message.stored = nullptr;  // `loaded` and `headers` end with this job
    mr.routed.message.header = nullptr;
    if (mr.routed.deliveries.empty()) settle(mr, snap, body);
  }
  batch.end_us = nowMicros();
}

// The reports of the deliveries that have them become the recipients' results; those
// deliveries are done.
void QueueManager::takeReports(MessageResult& mr) {
  using Status = delivery::RecipientReport::Status;
  auto& deliveries = mr.routed.deliveries;
  for (auto& d : deliveries) {
    if (!d.reported()) continue;
    for (size_t k = 0; k < d.recipients.size(); ++k) {
      delivery::RecipientReport& r = d.reports[k];
      RecipientResult& rr = mr.results[d.recipients[k]];
      rr.kind = r.status == Status::Delivered  ? RecipientResult::Kind::Sent
                : r.status == Status::Bounced ? RecipientResult::Kind::Bounced
                                              : RecipientResult::Kind::Deferred;
      rr.dsn = std::move(r.dsn);
      rr.text = std::move(r.text);
      if (!r.relay.empty()) rr.relay = std::move(r.relay);
      rr.delays = r.delays;
      rr.remote_mta = std::move(r.remote_mta);
      rr.diagnostic = std::move(r.diagnostic);
      // agent.h: what a deferred recipient made is made again at its next attempt.
      if (r.status != Status::Deferred) rr.made = std::move(r.generated);
      rr.program = r.program;
    }
  }
  deliveries.erase(std::remove_if(deliveries.begin(), deliveries.end(),
                                  [](const delivery::Delivery& d) { return d.reported(); }),
                   deliveries.end());
}

// Expiry, next attempt and the DSNs of one message whose recipients all have a result, by
// the retry policy. `content`: the message when it is at hand; else its headers are read from
// the spool file (thread pool only).
void QueueManager::settle(MessageResult& mr, const Snapshot& snap, std::string_view content) {
  using Kind = RecipientResult::Kind;
  const config::Config& cfg = *snap.config;
  const queue::StoredMessage& m = mr.meta;
  int64_t now = nowSeconds();
  // No deferred recipient: as after no attempt (backoff of 0 attempts).
  mr.next_attempt = now + int64_t(queue::backoff(cfg.queue, 0));
  std::vector<queue::FailedRecipient> failed, delayed;
  for (auto& rr : mr.results) {
    bool warn = false;
    if (rr.kind != Kind::Sent) {
      queue::RetryInput in{rr.rcpt.attempts, m.arrival_us / 1000000, rr.kind == Kind::Bounced,
                           rr.rcpt.delay_warned};
      queue::RetryDecision d = queue::decideRetry(in, cfg.queue, now);
      if (d.expired) {
        rr.kind = Kind::Bounced;
        rr.text = fmt::format("message expired in queue: {}", rr.text);
        rr.dsn = "4.4.7";
        if (rr.relay == "virtual") rr.relay = "none";  // as Postfix's qmgr logs an expiry
      } else if (d.action == queue::RetryDecision::Action::Retry) {
        mr.next_attempt = std::max(mr.next_attempt, d.next_attempt);
        warn = d.warn_delay;
      }
    }
    for (auto& g : rr.made) rr.generated.push_back(queueGenerated(std::move(g), snap));
    rr.made.clear();
    queue::FailedRecipient f{rr.rcpt.address, rr.rcpt.dsn_orcpt, rr.dsn,
                             rr.text, rr.remote_mta, rr.diagnostic};
    if (rr.kind == Kind::Bounced && notifies(rr.rcpt.dsn_notify, "FAILURE")) {
      failed.push_back(std::move(f));
    } else if (warn && notifies(rr.rcpt.dsn_notify, "DELAY")) {
      rr.delay_warned = true;
      delayed.push_back(std::move(f));
    }
  }
  if (m.sender.empty()) {
    // Never bounce a bounce (RFC 5321 6.1, RFC 3461 6.2): the failure is logged, nothing sent.
    if (!failed.empty()) {
      log::mail::info(log::Program::Bounce,
                      fmt::format("{}: undeliverable mail from <> discarded: {} recipient(s)",
                                  m.id, failed.size()));
    }
    return;
  }
  std::string spool_copy;
  if ((!failed.empty() || !delayed.empty()) && content.empty() && !m.spool_path.empty()) {
    if (FILE* f = fopen(m.spool_path.c_str(), "rb")) {
      // RET=FULL returns the whole message (up to the cap composeBounce applies).
      spool_copy.resize(m.dsn_ret == "FULL" ? queue::MaxReturnedContent + 1 : 64 * 1024);
      spool_copy.resize(fread(spool_copy.data(), 1, spool_copy.size(), f));
      fclose(f);
      spool_copy.insert(0, m.header_prefix);
    }
    content = spool_copy;
  }
  if (!failed.empty()) {
    mr.bounce = composeDsnNotice(m, std::move(failed), false, snap, content);
  }
  if (!delayed.empty()) {
    mr.delay_notice = composeDsnNotice(m, std::move(delayed), true, snap, content);
  }
}

// Main loop: messages routed only locally are recorded now; the others wait for the relay.
void QueueManager::finishBatch(std::shared_ptr<BatchResult> batch) {
  if (!batch->error.empty()) {
    log::mail::warning(log::Program::Qmgr, fmt::format("delivery batch: {}", batch->error));
    for (const auto& id : batch->ids) scheduler_.defer(id, nowSeconds() + 60);
    --jobs_;
    maybeStopped();
    pump();
    return;
  }
  if (log::debugEnabled()) {
    log::debug(fmt::format("delivery batch: {} messages in {:.2f} ms; {} jobs running, {} ready",
                           batch->ids.size(), double(batch->end_us - batch->start_us) / 1000,
                           jobs_, scheduler_.readyListed()));
  }
  // The job is done with the thread pool; its results still have to be committed.
  --jobs_;
  auto local = std::make_shared<BatchResult>();
  local->start_us = batch->start_us;
  local->end_us = batch->end_us;
  for (auto& mr : batch->messages) {
    if (mr.found && !mr.routed.deliveries.empty()) {
      startRelay(std::move(mr), batch->snap, batch->agents);
    } else {
      local->messages.push_back(std::move(mr));
    }
  }
  if (!local->messages.empty()) record(local);
  pump();
}

// Main loop: the deliveries the job prepared go to their agents (the SMTP agent).
void QueueManager::startRelay(MessageResult mr, const Snapshot& snap,
                              const delivery::AgentRegistry& agents) {
  ++relays_;
  const auto& content = mr.routed.message.content;
  relay_bytes_ += content ? content->size() : 0;
  auto flight = std::make_shared<RelayInFlight>();
  flight->message = std::move(mr);
  flight->snap = snap;
  flight->start_us = nowMicros();
  flight->message.routed.message.stored = &flight->message.meta;
  flight->agents = agents;
  delivery::deliverOnLoop(flight->agents, flight->message.routed,
                          [this, flight] { finishRelay(flight); });
}

void QueueManager::finishRelay(const std::shared_ptr<RelayInFlight>& flight) {
  takeReports(flight->message);
  auto settled = [this, flight] {
    MessageResult& m = flight->message;
    auto& content = m.routed.message.content;
    relay_bytes_ -= content ? content->size() : 0;
    content.reset();
    m.routed.message.stored = nullptr;
    auto batch = std::make_shared<BatchResult>();
    batch->start_us = flight->start_us;
    batch->end_us = nowMicros();
    batch->messages.push_back(std::move(m));
    --relays_;
    record(batch);
  };
  auto work = [flight] {
    MessageResult& m = flight->message;
    const auto& content = m.routed.message.content;
    settle(m, flight->snap, content ? std::string_view(*content) : std::string_view());
  };
  // A bounce looks its sender up in the router's tables, which may wait for a database; mail
  // the Maildir deliveries made may be DKIM-signed (RSA: about a millisecond each).
  const auto& results = flight->message.results;
  bool made = std::any_of(results.begin(), results.end(),
                          [](const RecipientResult& rr) { return !rr.made.empty(); });
  if (flight->snap.router->blocking() || made) {
    main_->offload(work, settled);
  } else {
    work();
    settled();
  }
}

// Main loop: log, count, and make the outcome durable in one journal transaction.
void QueueManager::record(std::shared_ptr<BatchResult> batch) {
  using Kind = RecipientResult::Kind;
  for (auto& mr : batch->messages) {
    if (!mr.found) continue;
    double delay = double(nowMicros() - mr.meta.arrival_us) / 1e6;
    log::Delays batch_delays;
    batch_delays.in_queue = double(batch->start_us - mr.meta.arrival_us) / 1e6;
    batch_delays.transmission = double(batch->end_us - batch->start_us) / 1e6;
    for (const auto& rr : mr.results) {
      const char* status = rr.kind == Kind::Sent       ? "sent"
                           : rr.kind == Kind::Bounced ? "bounced"
                                                      : "deferred";
      bool relayed = rr.relay != "virtual";
      log::Program program = relayed ? log::Program::Smtp : log::Program::Virtual;
      log::mail::delivery(rr.program.value_or(program), mr.id,
                          rr.rcpt.address, rr.rcpt.orig_address, rr.relay, delay,
                          rr.delays ? *rr.delays : batch_delays, rr.dsn, status, rr.text);
      auto& counter = rr.kind == Kind::Sent      ? rt_->metrics.deliveries_sent
                      : rr.kind == Kind::Bounced ? rt_->metrics.deliveries_bounced
                                                 : rt_->metrics.deliveries_deferred;
      counter++;
    }
  }
  ++updates_pending_;
  rt_->journal->submit(
      [batch](queue::Db& db) -> Status {
        for (auto& mr : batch->messages) {
          if (!mr.found) continue;
          for (const auto& rr : mr.results) {
            Status st = rr.kind == Kind::Deferred
                            ? queue::Journal::deferRecipient(db, mr.id, rr.rcpt.idx,
                                                             rr.rcpt.attempts + 1,
                                                             mr.next_attempt, rr.text)
                            : queue::Journal::deleteRecipient(db, mr.id, rr.rcpt.idx);
            if (!st) return st;
            // The mail this recipient's delivery made, with its removal (agent.h): a redirect
            // without keep is never lost between the two.
            for (const QueuedGenerated& g : rr.generated) {
              if (auto ins = MessageInjector::insert(db, g.message); !ins) return ins;
            }
            if (rr.delay_warned) {
              if (auto w = queue::Journal::setDelayWarned(db, mr.id, rr.rcpt.idx); !w) return w;
            }
          }
          // In the same transaction as the recipients they report on (MessageInjector).
          for (const auto* notice : {&mr.bounce, &mr.delay_notice}) {
            if (!*notice) continue;
            if (auto st = MessageInjector::insert(db, **notice); !st) return st;
          }
          auto left = queue::Journal::remainingRecipients(db, mr.id);
          if (!left) return left.error();
          if (*left == 0) {
            if (auto st = queue::Journal::deleteMessage(db, mr.id); !st) return st;
            mr.removed = true;
          }
        }
        return okStatus();
      },
      [this, batch](const Status& st) { main_->post([this, batch, st] { applied(batch, st); }); },
      /*urgent=*/false);
}

void QueueManager::applied(const std::shared_ptr<BatchResult>& batch, const Status& st) {
  if (!st) {
    // Deliveries happened but could not be recorded: try again later (at least once).
    log::mail::warning(log::Program::Qmgr,
                       fmt::format("cannot record delivery results: {}", st.error().message()));
  }
  for (auto& mr : batch->messages) {
    if (!mr.found) {
      scheduler_.erase(mr.id);
      recheck_.erase(mr.id);
      continue;
    }
    if (st && mr.bounce) {
      log::mail::bounceCreated(mr.id, mr.bounce->id);
      injector_.committed(*mr.bounce);
    }
    if (st && mr.delay_notice) {
      log::mail::delayNoticeCreated(mr.id, mr.delay_notice->id);
      injector_.committed(*mr.delay_notice);
    }
    for (const auto& rr : mr.results) {
      if (!st) break;
      for (const QueuedGenerated& g : rr.generated) {
        log::mail::generatedCreated(mr.id, g.kind, g.message.id);
        injector_.committed(g.message);
      }
    }
    if (st) {
      recheck_.erase(mr.id);
    } else {
      recheck_.insert(mr.id);  // delivered, maybe, but not recorded
    }
    // Deleted by the operator while this job read its body: its slot is free only now.
    if (auto held = release_after_job_.find(mr.id); held != release_after_job_.end()) {
      rt_->spool_slots->release(held->second);
      release_after_job_.erase(held);
      continue;
    }
    if (st && mr.removed) {
      log::mail::removed(mr.id);
      rt_->spool_slots->release(mr.meta.spool_path);
      scheduler_.erase(mr.id);
      continue;
    }
    scheduler_.finished(mr.id, st ? mr.next_attempt : nowSeconds() + 60);
  }
  --updates_pending_;
  maybeStopped();
  pump();
}

void QueueManager::maybeStopped() {
  if (stopping_ && jobs_ == 0 && relays_ == 0 && updates_pending_ == 0 && agents_running_ == 0 &&
      stopped_) {
    auto fn = std::move(stopped_);
    stopped_ = nullptr;
    fn();
  }
}

QueueManager::Summary QueueManager::summary() const {
  queue::Scheduler::Counts c = scheduler_.counts();
  Summary s;
  s.messages = c.messages;
  s.ready = c.ready;
  s.active = c.active;
  s.deferred = c.deferred;
  s.held = c.held;
  if (c.messages > 0) s.oldest_age_seconds = double(nowMicros() - c.oldest_arrival_us) / 1e6;
  return s;
}

void QueueManager::stop(std::function<void()> done) {
  stopping_ = true;
  stopped_ = std::move(done);
  agents_running_ = 2;
  relay_->stop([this] {
    --agents_running_;
    maybeStopped();
  });
  lmtp_->stop([this] {
    --agents_running_;
    maybeStopped();
  });
  agents_.stop();  // the agents that stop at once (pipe: its programs are killed)
  maybeStopped();
}

void QueueManager::reconfigure(const config::Config& cfg, dns::ResolverPtr resolver) {
  relay_->configure(cfg);
  agents_ = makeTransportAgents({*main_, cfg, smtp_agent_, *relay_, *lmtp_});  // in flight: theirs
  if (resolver) relay_->setResolver(std::move(resolver));
}

}  // namespace petrel::server
