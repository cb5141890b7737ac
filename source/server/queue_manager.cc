// Queue scheduling and delivery jobs; see queue_manager.h.
#include "petrel/server/queue_manager.h"

#include <dirent.h>
#include <fmt/format.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <unordered_set>

#include "petrel/delivery/maildir.h"
#include "petrel/log/mail_log.h"
#include "petrel/queue/bounce.h"

namespace petrel::server {

namespace {

constexpr size_t BatchSize = 32;
constexpr size_t MinParallelJobs = 2;

int64_t nowSeconds() { return int64_t(time(nullptr)); }

std::string rfc5322Now() {
  time_t now = time(nullptr);
  struct tm tm;
  localtime_r(&now, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S %z", &tm);
  return buf;
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

bool notifyOnFailure(const std::string& notify) {
  return notify.empty() || notify.find("FAILURE") != std::string::npos;
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
};

struct QueueManager::MessageResult {
  std::string id;
  bool found = false;
  queue::StoredMessage meta;  // without body
  std::vector<RecipientResult> results;
  std::optional<queue::StoredMessage> bounce;
  int64_t next_attempt = 0;  // for the deferred ones
  bool removed = false;      // filled in by the journal transaction
};

struct QueueManager::BatchResult {
  std::vector<std::string> ids;
  std::vector<MessageResult> messages;
  std::string error;  // the batch could not even read the queue
  int64_t start_us = 0;
  int64_t end_us = 0;
};

QueueManager::QueueManager(event::Dispatcher& main, Runtime& runtime)
    : main_(&main), rt_(&runtime), timer_(new uv_timer_t) {
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
  while (jobs_ < limit && !ready_.empty()) {
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
  Snapshot snap = rt_->snapshot();
  std::string path = rt_->journal->path();
  main_->offload([batch, snap, path] { runBatch(*batch, snap, path); },
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
    for (const auto& rcpt : m.recipients) {
      RecipientResult rr;
      rr.rcpt = rcpt;
      auto at = rcpt.address.rfind('@');
      std::string domain = at == std::string::npos ? "" : rcpt.address.substr(at + 1);
      if (!snap.router->isLocalDomain(domain)) {
        rr.kind = Kind::Deferred;
        rr.dsn = "4.4.1";
        rr.text = "delivery to other hosts is not available in this version";
      } else if (auto dir = snap.router->maildirFor(rcpt.address); !dir) {
        rr.kind = dir.error().temporary() ? Kind::Deferred : Kind::Bounced;
        rr.dsn = dir.error().temporary() ? "4.3.0" : "5.1.1";
        rr.text = dir.error().message();
      } else {
        delivery::MaildirItem item;
        item.maildir = *dir;
        item.header_prefix =
            fmt::format("Return-Path: <{}>\nDelivered-To: {}\n", m.sender, rcpt.address);
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
  // Expiry, next attempts and bounces.
  int64_t now = nowSeconds();
  li = 0;
  for (auto& mr : batch.messages) {
    if (!mr.found) continue;
    const queue::StoredMessage& m = loaded[li++];
    bool expired = now - m.arrival_us / 1000000 > int64_t(cfg.queue.max_lifetime);
    int64_t max_attempts = 0;
    std::vector<queue::FailedRecipient> failed;
    for (auto& rr : mr.results) {
      if (rr.kind == Kind::Deferred && expired) {
        rr.kind = Kind::Bounced;
        rr.text = fmt::format("message expired in queue: {}", rr.text);
        rr.dsn = "4.4.7";
      }
      if (rr.kind == Kind::Deferred) max_attempts = std::max(max_attempts, rr.rcpt.attempts + 1);
      if (rr.kind == Kind::Bounced && notifyOnFailure(rr.rcpt.dsn_notify)) {
        failed.push_back({rr.rcpt.address, rr.rcpt.dsn_orcpt, rr.dsn, rr.text});
      }
    }
    mr.next_attempt = now + int64_t(backoff(cfg.queue, max_attempts));
    // Never bounce a bounce (null sender), RFC 5321 6.1.
    if (!failed.empty() && !m.sender.empty()) {
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
      in.date = rfc5322Now();
      in.failed = std::move(failed);
      std::string headers_copy;
      if (m.spool_path.empty()) {
        in.original_headers = queue::headerSection(m.body);
      } else if (FILE* f = fopen(m.spool_path.c_str(), "rb")) {
        headers_copy.resize(64 * 1024);
        headers_copy.resize(fread(headers_copy.data(), 1, headers_copy.size(), f));
        fclose(f);
        in.original_headers = queue::headerSection(headers_copy);
      }
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
      mr.bounce = std::move(b);
    }
    mr.meta = m;
    mr.meta.body.clear();
  }
  batch.end_us = nowMicros();
}

// Main loop: log, count, and make the outcome durable in one journal transaction.
void QueueManager::finishBatch(std::shared_ptr<BatchResult> batch) {
  using Kind = RecipientResult::Kind;
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
  for (auto& mr : batch->messages) {
    if (!mr.found) continue;
    double delay = double(batch->end_us - mr.meta.arrival_us) / 1e6;
    log::Delays d;
    d.in_queue = double(batch->start_us - mr.meta.arrival_us) / 1e6;
    d.transmission = double(batch->end_us - batch->start_us) / 1e6;
    for (const auto& rr : mr.results) {
      const char* status = rr.kind == Kind::Sent       ? "sent"
                           : rr.kind == Kind::Bounced ? "bounced"
                                                      : "deferred";
      bool local = rr.kind == Kind::Sent || rr.dsn == "4.3.0";
      log::mail::delivery(mr.id, rr.rcpt.address, rr.rcpt.orig_address,
                          local ? "virtual" : "none", delay, d, rr.dsn, status, rr.text);
      auto& counter = rr.kind == Kind::Sent      ? rt_->metrics.deliveries_sent
                      : rr.kind == Kind::Bounced ? rt_->metrics.deliveries_bounced
                                                 : rt_->metrics.deliveries_deferred;
      counter++;
    }
  }
  // The job is done with the thread pool; its results still have to be committed.
  --jobs_;
  ++updates_pending_;
  pump();
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
          }
          if (mr.bounce) {
            if (auto st = queue::Journal::insertMessage(db, *mr.bounce); !st) return st;
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
  if (stopping_ && jobs_ == 0 && updates_pending_ == 0 && stopped_) {
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
  maybeStopped();
}

}  // namespace petrel::server
