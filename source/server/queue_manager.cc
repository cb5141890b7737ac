// Queue scheduling and delivery jobs; see queue_manager.h.
#include "petrel/server/queue_manager.h"

#include <dirent.h>
#include <fmt/format.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <unordered_set>

#include "petrel/core/strings.h"
#include "petrel/delivery/maildir.h"
#include "petrel/log/mail_log.h"
#include "petrel/server/canonical_headers.h"
#include "petrel/queue/bounce.h"

namespace petrel::server {

namespace {

constexpr size_t BatchSize = 32;
constexpr size_t MinParallelJobs = 2;
// Relayed messages wait in the relay agent with their content in memory; no new delivery
// batch starts while this much is in flight.
constexpr size_t MaxRelayMessages = 5000;
constexpr uint64_t MaxRelayBytes = 256ull << 20;

int64_t nowSeconds() { return int64_t(time(nullptr)); }

// Wire-format lines as a Maildir file stores them (header_prefix is written as is).
std::string lfLines(std::string_view wire) {
  std::string out;
  out.reserve(wire.size());
  for (size_t i = 0; i < wire.size(); ++i) {
    if (wire[i] == '\r' && i + 1 < wire.size() && wire[i + 1] == '\n') continue;
    out += wire[i];
  }
  return out;
}

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

uint64_t backoff(const config::Queue& q, int64_t attempts) {
  uint64_t d = q.min_backoff;
  for (int64_t i = 1; i < attempts && d < q.max_backoff; ++i) d *= 2;
  return std::min(d, q.max_backoff);
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
  bool delay_warned = false;          // named in this round's delay warning
};

// The recipients of one message that go to one next hop.
struct PendingRelay {
  RelayJob job;
  std::vector<size_t> results;  // MessageResult::results index of each job recipient
};

struct QueueManager::MessageResult {
  std::string id;
  bool found = false;
  queue::StoredMessage meta;  // without body
  std::vector<RecipientResult> results;
  std::vector<PendingRelay> relay;             // jobs for the relay agent
  std::shared_ptr<const std::string> content;  // loaded when relayed
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
};

struct QueueManager::RelayInFlight {
  MessageResult message;
  Snapshot snap;
  size_t outstanding = 0;
  int64_t start_us = 0;
};

QueueManager::QueueManager(event::Dispatcher& main, Runtime& runtime,
                           std::unique_ptr<RelayAgent> relay)
    : main_(&main), rt_(&runtime), timer_(new uv_timer_t), relay_(std::move(relay)) {
  relay_->configure(*rt_->snapshot().config);
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
    Entry e;
    e.arrival_us = m.arrival_us;
    int64_t next = INT64_MAX;
    for (const auto& r : m.recipients) next = std::min(next, r.next_attempt);
    if (m.held) {
      e.state = State::Held;
    } else if (next <= now || m.recipients.empty()) {
      e.state = State::Ready;
      ready_.push_back(m.id);
    } else {
      e.state = State::Deferred;
      deferred_.emplace(next, m.id);
    }
    entries_.emplace(m.id, e);
  }
  // Slots of messages that never got their 250 (crash between write and commit) are free.
  rt_->spool_slots->recover(spool_files);
  if (!entries_.empty()) {
    log::mail::info(log::Program::Qmgr,
                    fmt::format("recovered {} queued messages ({} due now)", entries_.size(),
                                ready_.size()));
  }
  pump();
  return okStatus();
}

void QueueManager::enqueued(const std::string& id, int64_t arrival_us) {
  entries_[id] = Entry{arrival_us, State::Ready, false};
  ready_.push_back(id);
  pump();
}

void QueueManager::makeReady(const std::string& id) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.state == State::Ready ||
      it->second.state == State::Active) {
    return;
  }
  it->second.state = State::Ready;
  ready_.push_back(id);
}

void QueueManager::onTick() {
  int64_t now = nowSeconds();
  while (!deferred_.empty() && deferred_.begin()->first <= now) {
    std::string id = deferred_.begin()->second;
    deferred_.erase(deferred_.begin());
    auto it = entries_.find(id);
    if (it != entries_.end() && it->second.state == State::Deferred) makeReady(id);
  }
  pump();
}

void QueueManager::pump() {
  if (stopping_) return;
  Snapshot snap = rt_->snapshot();
  size_t limit = concurrency(*snap.config);
  while (jobs_ < limit && !ready_.empty() && relays_ < MaxRelayMessages &&
         relay_bytes_ < MaxRelayBytes) {
    // Group delivery: with jobs already running, wait for a full batch (or for a job to
    // finish) so that one directory fsync and one journal commit cover many messages.
    if (jobs_ >= MinParallelJobs && ready_.size() < BatchSize) break;
    std::vector<std::string> ids;
    while (ids.size() < BatchSize && !ready_.empty()) {
      std::string id = std::move(ready_.front());
      ready_.pop_front();
      auto it = entries_.find(id);
      if (it == entries_.end() || it->second.state != State::Ready) continue;
      it->second.state = State::Active;
      ids.push_back(std::move(id));
    }
    if (ids.empty()) break;
    launch(std::move(ids));
  }
}

void QueueManager::launch(std::vector<std::string> ids) {
  ++jobs_;
  auto batch = std::make_shared<BatchResult>();
  batch->ids = std::move(ids);
  batch->snap = rt_->snapshot();
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
  // Route every recipient; collect Maildir items for one batched delivery.
  std::vector<delivery::MaildirItem> items;
  std::vector<std::pair<size_t, size_t>> item_owner;  // (message, recipient) per item
  size_t li = 0;
  for (size_t mi = 0; mi < batch.messages.size(); ++mi) {
    MessageResult& mr = batch.messages[mi];
    if (!mr.found) continue;
    const queue::StoredMessage& m = loaded[li++];
    // canonical.sender rewrites the envelope sender as delivered (Return-Path, MAIL FROM);
    // canonical.headers decides whether the maps rewrite header fields too.
    Result<std::string> sender = snap.router->canonicalSender(m.sender);
    Result<delivery::RewrittenHeader> header = canonicalHeaders(snap, m);
    std::string lookup_failure = !sender  ? sender.error().message()
                                 : !header ? header.error().message()
                                           : std::string();
    for (const auto& rcpt : m.recipients) {
      RecipientResult rr;
      rr.rcpt = rcpt;
      auto at = rcpt.address.rfind('@');
      std::string domain = at == std::string::npos ? "" : rcpt.address.substr(at + 1);
      delivery::Router::DomainClass domain_class = snap.router->classifyDomain(domain);
      if (!lookup_failure.empty() || domain_class.kind == delivery::Router::DomainKind::TempFail) {
        rr.kind = Kind::Deferred;
        rr.dsn = "4.3.0";
        rr.text = !lookup_failure.empty() ? lookup_failure : domain_class.error;
      } else if (domain_class.kind != delivery::Router::DomainKind::Local) {
        rr.relay = "none";
        addRelayRecipient(mr, rr, domain, *snap.router);
      } else if (auto dir = snap.router->maildirFor(rcpt.address); !dir) {
        rr.kind = dir.error().temporary() ? Kind::Deferred : Kind::Bounced;
        rr.dsn = dir.error().temporary() ? "4.3.0" : "5.1.1";
        rr.text = dir.error().message();
      } else {
        delivery::MaildirItem item;
        item.maildir = *dir;
        item.header_prefix =
            fmt::format("Return-Path: <{}>\nDelivered-To: {}\n", *sender, rcpt.address);
        if (header->changed > 0) {
          item.header_prefix += lfLines(header->header);
          item.body_offset = header->original_size;
        }
        if (m.spool_path.empty()) {
          item.body = m.body;
        } else {
          item.body_path = m.spool_path;
        }
        items.push_back(std::move(item));
        item_owner.emplace_back(mi, mr.results.size());
      }
      mr.results.push_back(std::move(rr));
    }
    if (!mr.relay.empty()) loadRelayContent(mr, m, sender ? *sender : m.sender, *header);
  }
  delivery::deliverMaildirBatch(items, cfg.delivery.maildir_fsync, cfg.hostname);
  for (size_t i = 0; i < items.size(); ++i) {
    auto [mi, ri] = item_owner[i];
    RecipientResult& rr = batch.messages[mi].results[ri];
    if (items[i].result) {
      rr.kind = Kind::Sent;
      rr.dsn = "2.0.0";
      rr.text = "delivered to maildir";
    } else {
      rr.kind = Kind::Deferred;
      rr.dsn = "4.3.0";
      rr.text = items[i].result.error().message();
    }
  }
  li = 0;
  for (auto& mr : batch.messages) {
    if (!mr.found) continue;
    queue::StoredMessage& m = loaded[li++];
    std::string body = std::move(m.body);
    mr.meta = std::move(m);
    if (mr.relay.empty()) settle(mr, snap, body);
  }
  batch.end_us = nowMicros();
}

// Expiry, next attempt and the bounce of one message whose recipients all have a result.
// `content`: the message when it is at hand; else its headers are read from the spool file
// (thread pool only).
void QueueManager::settle(MessageResult& mr, const Snapshot& snap, std::string_view content) {
  using Kind = RecipientResult::Kind;
  const config::Config& cfg = *snap.config;
  const queue::StoredMessage& m = mr.meta;
  int64_t now = nowSeconds();
  int64_t age = now - m.arrival_us / 1000000;
  bool expired = age > int64_t(cfg.queue.max_lifetime);
  bool warn = cfg.queue.delay_warning > 0 && age >= int64_t(cfg.queue.delay_warning);
  int64_t max_attempts = 0;
  std::vector<queue::FailedRecipient> failed, delayed;
  for (auto& rr : mr.results) {
    if (rr.kind == Kind::Deferred && expired) {
      rr.kind = Kind::Bounced;
      rr.text = fmt::format("message expired in queue: {}", rr.text);
      rr.dsn = "4.4.7";
      if (rr.relay == "virtual") rr.relay = "none";  // as Postfix's qmgr logs an expiry
    }
    if (rr.kind == Kind::Deferred) max_attempts = std::max(max_attempts, rr.rcpt.attempts + 1);
    queue::FailedRecipient f{rr.rcpt.address, rr.rcpt.dsn_orcpt, rr.dsn,
                             rr.text, rr.remote_mta, rr.diagnostic};
    if (rr.kind == Kind::Bounced && notifies(rr.rcpt.dsn_notify, "FAILURE")) {
      failed.push_back(std::move(f));
    } else if (rr.kind == Kind::Deferred && warn && !rr.rcpt.delay_warned &&
               notifies(rr.rcpt.dsn_notify, "DELAY")) {
      rr.delay_warned = true;
      delayed.push_back(std::move(f));
    }
  }
  mr.next_attempt = now + int64_t(backoff(cfg.queue, max_attempts));
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
    }
    content = spool_copy;
  }
  if (!failed.empty()) {
    mr.bounce = report(m, std::move(failed), false, snap, content);
  }
  if (!delayed.empty()) {
    mr.delay_notice = report(m, std::move(delayed), true, snap, content);
  }
}

// A DSN from <> to the sender of `m`: a failure report, or a delay warning.
queue::StoredMessage QueueManager::report(const queue::StoredMessage& m,
                                          std::vector<queue::FailedRecipient> recipients,
                                          bool delayed, const Snapshot& snap,
                                          std::string_view content) {
  const config::Config& cfg = *snap.config;
  queue::StoredMessage b;
  b.id = nextQueueId();
  b.arrival_us = nowMicros();
  b.client = "local";
  b.helo = cfg.hostname;
  b.protocol = "LOCAL";
  queue::BounceInput in;
  in.original_id = m.id;
  in.original_sender = m.sender;
  in.envid = m.dsn_envid;
  in.arrival_unix = m.arrival_us / 1000000;
  in.hostname = cfg.hostname;
  in.bounce_id = b.id;
  in.date = rfc5322Date(nowSeconds());
  in.failed = std::move(recipients);
  in.original = content;
  in.return_full = m.dsn_ret == "FULL";  // RFC 3461 4.3
  in.delayed = delayed;
  in.retry_until_unix = in.arrival_unix + int64_t(cfg.queue.max_lifetime);
  b.body = queue::composeBounce(in);
  b.size = b.body.size();
  auto e = snap.router->expand(m.sender);
  std::vector<std::string> to = e.outcome == delivery::Expansion::Outcome::Accepted
                                    ? e.recipients
                                    : std::vector<std::string>{m.sender};
  for (size_t i = 0; i < to.size(); ++i) {
    queue::StoredRecipient r;
    r.idx = int64_t(i);
    r.address = to[i];
    r.orig_address = m.sender;
    b.recipients.push_back(std::move(r));
  }
  return b;
}

// Thread pool: the recipient goes to the relay job of its next hop (one per message and hop).
void QueueManager::addRelayRecipient(MessageResult& mr, RecipientResult& rr,
                                     const std::string& domain, const delivery::Router& router) {
  auto hop = router.nextHop(domain);
  if (!hop) {
    rr.kind = RecipientResult::Kind::Deferred;
    rr.dsn = "4.3.0";
    rr.text = hop.error().message();
    return;
  }
  config::TlsPolicy tls = router.tlsPolicy(hop->mx_lookup ? domain : hop->host);
  auto it = std::find_if(mr.relay.begin(), mr.relay.end(), [&](const PendingRelay& p) {
    return p.job.hop == *hop && p.job.tls == tls;
  });
  if (it == mr.relay.end()) {
    PendingRelay p;
    p.job.queue_id = mr.id;
    p.job.hop = *hop;
    p.job.tls = tls;
    mr.relay.push_back(std::move(p));
    it = std::prev(mr.relay.end());
  }
  smtp::RcptParams params;
  params.recipient.text = rr.rcpt.address;
  params.dsn_notify = rr.rcpt.dsn_notify;
  params.dsn_orcpt = rr.rcpt.dsn_orcpt;
  it->job.job.recipients.push_back(std::move(params));
  it->results.push_back(mr.results.size());  // rr is appended next
}

// Thread pool: the content for the relay jobs (inline, or read from the spool slot).
void QueueManager::loadRelayContent(MessageResult& mr, const queue::StoredMessage& m,
                                    const std::string& sender,
                                    const delivery::RewrittenHeader& header) {
  auto content = std::make_shared<std::string>();
  if (m.spool_path.empty()) {
    *content = m.body;
  } else {
    FILE* f = fopen(m.spool_path.c_str(), "rb");
    bool ok = f != nullptr;
    if (ok) {
      char buf[64 * 1024];
      size_t n;
      while ((n = fread(buf, 1, sizeof buf, f)) > 0) content->append(buf, n);
      ok = !ferror(f);
      fclose(f);
    }
    if (!ok) {
      std::string why = fmt::format("cannot read queue file {}: {}", m.spool_path, systemErrorText(errno));
      for (const auto& p : mr.relay) {
        for (size_t i : p.results) {
          mr.results[i].kind = RecipientResult::Kind::Deferred;
          mr.results[i].dsn = "4.3.0";
          mr.results[i].text = why;
        }
      }
      mr.relay.clear();
      return;
    }
  }
  if (header.changed > 0) content->replace(0, header.original_size, header.header);
  bool eight_bit = std::any_of(content->begin(), content->end(),
                               [](char c) { return static_cast<unsigned char>(c) > 127; });
  for (auto& p : mr.relay) {
    smtp::client::Job& job = p.job.job;
    job.sender.text = sender;
    job.size = content->size();
    job.is_8bit = eight_bit;
    job.needs_smtputf8 = m.smtputf8;
    job.dsn_ret = m.dsn_ret;
    job.dsn_envid = m.dsn_envid;
    p.job.content = content;
  }
  mr.content = std::move(content);
}

// Main loop: messages routed only locally are recorded now; the others wait for the relay.
void QueueManager::finishBatch(std::shared_ptr<BatchResult> batch) {
  if (!batch->error.empty()) {
    log::mail::warning(log::Program::Qmgr, fmt::format("delivery batch: {}", batch->error));
    for (const auto& id : batch->ids) {
      auto it = entries_.find(id);
      if (it == entries_.end()) continue;
      it->second.state = State::Deferred;
      deferred_.emplace(nowSeconds() + 60, id);
    }
    --jobs_;
    maybeStopped();
    pump();
    return;
  }
  if (log::debugEnabled()) {
    log::debug(fmt::format("delivery batch: {} messages in {:.2f} ms; {} jobs running, {} ready",
                           batch->ids.size(), double(batch->end_us - batch->start_us) / 1000,
                           jobs_, ready_.size()));
  }
  // The job is done with the thread pool; its results still have to be committed.
  --jobs_;
  auto local = std::make_shared<BatchResult>();
  local->start_us = batch->start_us;
  local->end_us = batch->end_us;
  for (auto& mr : batch->messages) {
    if (mr.found && !mr.relay.empty()) {
      startRelay(std::move(mr), batch->snap);
    } else {
      local->messages.push_back(std::move(mr));
    }
  }
  if (!local->messages.empty()) record(local);
  pump();
}

void QueueManager::startRelay(MessageResult mr, const Snapshot& snap) {
  ++relays_;
  relay_bytes_ += mr.content ? mr.content->size() : 0;
  auto flight = std::make_shared<RelayInFlight>();
  flight->message = std::move(mr);
  flight->snap = snap;
  flight->outstanding = flight->message.relay.size();
  flight->start_us = nowMicros();
  for (size_t j = 0; j < flight->message.relay.size(); ++j) {
    relay_->submit(flight->message.relay[j].job, [this, flight, j](RelayResult r) {
      using Kind = RecipientResult::Kind;
      MessageResult& m = flight->message;
      const PendingRelay& p = m.relay[j];
      log::Delays d;
      d.in_queue = double(flight->start_us - m.meta.arrival_us) / 1e6;
      d.setup = r.setup;
      d.transmission = r.transmission;
      std::string host = r.relay.substr(0, r.relay.find('['));
      for (size_t k = 0; k < p.results.size(); ++k) {
        RecipientResult& rr = m.results[p.results[k]];
        rr.relay = r.relay;
        rr.delays = d;
        if (k >= r.outcomes.size()) {  // the agent stopped before trying
          rr.kind = Kind::Deferred;
          rr.dsn = "4.3.2";
          rr.text = "delivery interrupted: mail system shutting down";
          continue;
        }
        const smtp::client::Outcome& o = r.outcomes[k];
        rr.kind = o.status == smtp::client::RecipientStatus::Delivered ? Kind::Sent
                  : o.status == smtp::client::RecipientStatus::Bounced ? Kind::Bounced
                                                                        : Kind::Deferred;
        rr.dsn = o.dsn;
        rr.text = describeOutcome(o, r.relay);
        if (o.reply) {
          rr.remote_mta = host;
          rr.diagnostic = o.reply->oneLine();
        }
      }
      if (--flight->outstanding == 0) finishRelay(flight);
    });
  }
}

void QueueManager::finishRelay(const std::shared_ptr<RelayInFlight>& flight) {
  auto settled = [this, flight] {
    MessageResult& m = flight->message;
    relay_bytes_ -= m.content ? m.content->size() : 0;
    m.content.reset();
    m.relay.clear();
    auto batch = std::make_shared<BatchResult>();
    batch->start_us = flight->start_us;
    batch->end_us = nowMicros();
    batch->messages.push_back(std::move(m));
    --relays_;
    record(batch);
  };
  auto work = [flight] {
    MessageResult& m = flight->message;
    settle(m, flight->snap, m.content ? std::string_view(*m.content) : std::string_view());
  };
  // A bounce looks its sender up in the router's tables, which may wait for a database.
  if (flight->snap.router->blocking()) {
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
      log::mail::delivery(relayed ? log::Program::Smtp : log::Program::Virtual, mr.id,
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
            if (rr.delay_warned) {
              if (auto w = queue::Journal::setDelayWarned(db, mr.id, rr.rcpt.idx); !w) return w;
            }
          }
          for (const auto* notice : {&mr.bounce, &mr.delay_notice}) {
            if (!*notice) continue;
            if (auto st = queue::Journal::insertMessage(db, **notice); !st) return st;
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
    auto it = entries_.find(mr.id);
    if (!mr.found) {
      if (it != entries_.end()) entries_.erase(it);
      continue;
    }
    if (st && mr.bounce) {
      log::mail::bounceCreated(mr.id, mr.bounce->id);
      log::mail::client(mr.bounce->id, "local");
      log::mail::queued(mr.bounce->id, "", mr.bounce->size, mr.bounce->recipients.size());
      enqueued(mr.bounce->id, mr.bounce->arrival_us);
    }
    if (st && mr.delay_notice) {
      log::mail::delayNoticeCreated(mr.id, mr.delay_notice->id);
      log::mail::client(mr.delay_notice->id, "local");
      log::mail::queued(mr.delay_notice->id, "", mr.delay_notice->size,
                        mr.delay_notice->recipients.size());
      enqueued(mr.delay_notice->id, mr.delay_notice->arrival_us);
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
      if (it != entries_.end()) entries_.erase(it);
      continue;
    }
    if (it == entries_.end()) continue;
    if (it->second.hold_requested) {
      it->second.state = State::Held;
      continue;
    }
    it->second.state = State::Deferred;
    deferred_.emplace(st ? mr.next_attempt : nowSeconds() + 60, mr.id);
  }
  --updates_pending_;
  maybeStopped();
  pump();
}

void QueueManager::maybeStopped() {
  if (stopping_ && jobs_ == 0 && relays_ == 0 && updates_pending_ == 0 && stopped_) {
    auto fn = std::move(stopped_);
    stopped_ = nullptr;
    fn();
  }
}

void QueueManager::flush() {
  for (auto& [id, e] : entries_) {
    if (e.state == State::Deferred) makeReady(id);
  }
  deferred_.clear();
  pump();
}

void QueueManager::hold(const std::string& id, std::function<void(Status)> done) {
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    done(Error::permanent(fmt::format("{}: no such message", id)));
    return;
  }
  rt_->journal->submit([id](queue::Db& db) { return queue::Journal::setHeld(db, id, true); },
                       [this, id, done](const Status& st) {
                         main_->post([this, id, done, st] {
                           auto it = entries_.find(id);
                           if (st && it != entries_.end()) {
                             if (it->second.state == State::Active) {
                               it->second.hold_requested = true;
                             } else {
                               it->second.state = State::Held;
                             }
                             log::mail::info(log::Program::Qmgr, fmt::format("{}: held", id));
                           }
                           done(st);
                         });
                       });
}

void QueueManager::release(const std::string& id, std::function<void(Status)> done) {
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    done(Error::permanent(fmt::format("{}: no such message", id)));
    return;
  }
  rt_->journal->submit([id](queue::Db& db) { return queue::Journal::setHeld(db, id, false); },
                       [this, id, done](const Status& st) {
                         main_->post([this, id, done, st] {
                           auto it = entries_.find(id);
                           if (st && it != entries_.end()) {
                             it->second.hold_requested = false;
                             if (it->second.state == State::Held) makeReady(id);
                             log::mail::info(log::Program::Qmgr, fmt::format("{}: released", id));
                             pump();
                           }
                           done(st);
                         });
                       });
}

void QueueManager::remove(const std::string& id, std::function<void(Result<size_t>)> done) {
  std::vector<std::string> ids;
  if (id == "ALL") {
    for (const auto& [k, _] : entries_) ids.push_back(k);
  } else if (entries_.count(id)) {
    ids.push_back(id);
  } else {
    done(Error::permanent(fmt::format("{}: no such message", id)));
    return;
  }
  auto spools = std::make_shared<std::vector<std::string>>();
  rt_->journal->submit(
      [ids, spools](queue::Db& db) -> Status {
        for (const auto& i : ids) {
          auto m = queue::Journal::load(db, i, false);
          if (!m) return m.error();
          spools->push_back(m->empty() ? std::string() : m->front().spool_path);
          if (auto st = queue::Journal::deleteMessage(db, i); !st) return st;
        }
        return okStatus();
      },
      [this, ids, spools, done](const Status& st) {
        main_->post([this, ids, spools, done, st] {
          if (!st) {
            done(st.error());
            return;
          }
          for (size_t k = 0; k < ids.size(); ++k) {
            const std::string& i = ids[k];
            auto it = entries_.find(i);
            bool active = it != entries_.end() && it->second.state == State::Active;
            if (active) {
              release_after_job_[i] = (*spools)[k];  // a delivery job may be reading it
            } else {
              rt_->spool_slots->release((*spools)[k]);
            }
            if (it != entries_.end()) entries_.erase(it);
            log::mail::info(log::Program::Qmgr, fmt::format("{}: removed by operator", i));
            log::mail::removed(i);
          }
          done(ids.size());
        });
      });
}

void QueueManager::list(std::function<void(Result<std::vector<queue::StoredMessage>>)> done) {
  auto out = std::make_shared<std::vector<queue::StoredMessage>>();
  rt_->journal->submit(
      [out](queue::Db& db) -> Status {
        auto all = queue::Journal::load(db, "", false);
        if (!all) return all.error();
        *out = std::move(all.value());
        return okStatus();
      },
      [this, out, done](const Status& st) {
        main_->post([out, done, st] {
          if (!st) {
            done(st.error());
          } else {
            done(std::move(*out));
          }
        });
      });
}

void QueueManager::show(const std::string& id,
                        std::function<void(Result<queue::StoredMessage>)> done) {
  auto out = std::make_shared<std::vector<queue::StoredMessage>>();
  rt_->journal->submit(
      [id, out](queue::Db& db) -> Status {
        auto one = queue::Journal::load(db, id, true);
        if (!one) return one.error();
        *out = std::move(one.value());
        return okStatus();
      },
      [this, id, out, done](const Status& st) {
        main_->post([id, out, done, st] {
          if (!st) {
            done(st.error());
          } else if (out->empty()) {
            done(Error::permanent(fmt::format("{}: no such message", id)));
          } else {
            done(std::move(out->front()));
          }
        });
      });
}

void QueueManager::probe(std::function<void(Status)> done) {
  rt_->journal->submit(
      [](queue::Db& db) -> Status {
        return db.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('health', 'ok')");
      },
      [this, done](const Status& st) { main_->post([done, st] { done(st); }); });
}

QueueManager::Summary QueueManager::summary() const {
  Summary s;
  s.messages = entries_.size();
  int64_t oldest = INT64_MAX;
  for (const auto& [_, e] : entries_) {
    oldest = std::min(oldest, e.arrival_us);
    switch (e.state) {
      case State::Ready: ++s.ready; break;
      case State::Active: ++s.active; break;
      case State::Deferred: ++s.deferred; break;
      case State::Held: ++s.held; break;
    }
  }
  if (!entries_.empty()) s.oldest_age_seconds = double(nowMicros() - oldest) / 1e6;
  return s;
}

void QueueManager::stop(std::function<void()> done) {
  stopping_ = true;
  stopped_ = std::move(done);
  relay_->stop([this] { maybeStopped(); });
  maybeStopped();
}

void QueueManager::reconfigure(const config::Config& cfg, dns::ResolverPtr resolver) {
  relay_->configure(cfg);
  if (resolver) relay_->setResolver(std::move(resolver));
}

}  // namespace petrel::server
