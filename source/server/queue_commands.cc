// The operator's commands on the queue (`petrel queue`, the control socket): flush, hold,
// release, remove, list, show, and the health probe. Each goes through the journal first
// (hold, release and remove survive a restart) and then tells the scheduler; list and show
// read through the journal writer so they see every committed change. Part of QueueManager
// (queue_manager.h), which owns the state they change.
#include <fmt/format.h>

#include "petrel/log/mail_log.h"
#include "petrel/server/queue_manager.h"

namespace petrel::server {

void QueueManager::flush() {
  scheduler_.flush();
  pump();
}

void QueueManager::hold(const std::string& id, std::function<void(Status)> done) {
  setHeld(id, true, std::move(done));
}

void QueueManager::release(const std::string& id, std::function<void(Status)> done) {
  setHeld(id, false, std::move(done));
}

// hold and release: the journal row first, then the scheduler (a released message is due now).
void QueueManager::setHeld(const std::string& id, bool held, std::function<void(Status)> done) {
  if (!scheduler_.contains(id)) {
    done(Error::permanent(fmt::format("{}: no such message", id)));
    return;
  }
  rt_->journal->submit([id, held](queue::Db& db) { return queue::Journal::setHeld(db, id, held); },
                       [this, id, held, done](const Status& st) {
                         main_->post([this, id, held, done, st] {
                           if (st && scheduler_.contains(id)) {
                             if (held) {
                               scheduler_.hold(id);
                             } else {
                               scheduler_.release(id);
                             }
                             log::mail::info(log::Program::Qmgr,
                                             fmt::format("{}: {}", id, held ? "held" : "released"));
                             if (!held) pump();
                           }
                           done(st);
                         });
                       });
}

void QueueManager::remove(const std::string& id, std::function<void(Result<size_t>)> done) {
  std::vector<std::string> ids;
  if (id == "ALL") {
    ids = scheduler_.ids();
  } else if (scheduler_.contains(id)) {
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
            if (scheduler_.active(i)) {
              release_after_job_[i] = (*spools)[k];  // a delivery job may be reading it
            } else {
              rt_->spool_slots->release((*spools)[k]);
            }
            scheduler_.erase(i);
            recheck_.erase(i);
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

}  // namespace petrel::server

namespace petrel::server {

void QueueManager::retry(const std::string& id, std::function<void(Status)> done) {
  if (!scheduler_.retry(id)) {
    done(Error::permanent(scheduler_.contains(id)
                              ? fmt::format("{}: not deferred", id)
                              : fmt::format("{}: no such message", id)));
    return;
  }
  log::mail::info(log::Program::Qmgr, fmt::format("{}: retry requested", id));
  pump();
  done(okStatus());
}

// The list reads through the journal; the states are the scheduler's when the answer arrives
// (a message delivered meanwhile is left out).
void QueueManager::listWithQueues(std::function<void(Result<std::vector<Listed>>)> done) {
  list([this, done](Result<std::vector<queue::StoredMessage>> r) {
    if (!r) return done(r.error());
    std::vector<Listed> out;
    for (auto& m : *r) {
      auto st = scheduler_.state(m.id);
      if (!st) continue;
      using State = queue::Scheduler::State;
      const char* q = *st == State::Held       ? "hold"
                      : *st == State::Deferred ? "deferred"
                                               : "active";
      out.push_back({std::move(m), q});
    }
    done(std::move(out));
  });
}

}  // namespace petrel::server
