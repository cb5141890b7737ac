// Scheduler: the queue's bookkeeping of which message may be delivered when (the state part
// of Postfix's qmgr), a plain class: time comes in as an argument, nothing here knows libuv,
// the journal or the delivery agents.
//
// Each message is in one state:
//   Ready ----take()----> Active ----finished(at)----> Deferred --due(now >= at)--> Ready
//     ^                     |  \---finished(), hold requested while active---> Held
//     |                     \--defer(at): retry after a failed job, hold or not
//     +---- release() / flush() ---- Held / Deferred
// The ready list is FIFO; entries that changed state while listed are skipped when taken.
// hold() of an Active message only takes effect when its job has finished.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace petrel::queue {

class Scheduler {
 public:
  enum class State { Ready, Active, Deferred, Held };

  // A new message, ready now (it was committed, or recovered as due).
  void addReady(const std::string& id, int64_t arrival_us);
  // A recovered message that waits until `next_attempt` (unix seconds).
  void addDeferred(const std::string& id, int64_t arrival_us, int64_t next_attempt);
  void addHeld(const std::string& id, int64_t arrival_us);
  // Forgets a message (delivered, bounced or removed).
  void erase(const std::string& id);

  // Deferred messages whose next attempt is at or before `now` become ready.
  void due(int64_t now);
  // Up to `max` ready messages, now Active, in arrival order.
  std::vector<std::string> take(size_t max);
  // Length of the ready list (may count entries take() will skip).
  size_t readyListed() const { return ready_.size(); }

  // An Active message's job has finished and it still has recipients: Deferred until `at`,
  // or Held when hold() was asked while it was active.
  void finished(const std::string& id, int64_t at);
  // Deferred until `at` whatever was asked while active (a job that could not run at all).
  void defer(const std::string& id, int64_t at);
  // Operator commands: hold keeps a message from delivery; release makes a held one ready.
  void hold(const std::string& id);
  void release(const std::string& id);
  // Every deferred message becomes ready now (queue flush).
  void flush();
  // One deferred message becomes ready now (Postfix's postqueue -i); false when it is not
  // deferred (ready, active, held or unknown).
  bool retry(const std::string& id);
  // The message's state; nullopt when it is not queued.
  std::optional<State> state(const std::string& id) const;

  bool contains(const std::string& id) const { return entries_.count(id) > 0; }
  bool active(const std::string& id) const;
  std::vector<std::string> ids() const;

  struct Counts {
    size_t messages = 0, ready = 0, active = 0, deferred = 0, held = 0;
    int64_t oldest_arrival_us = 0;  // 0 when empty
  };
  Counts counts() const;

 private:
  struct Entry {
    int64_t arrival_us = 0;
    State state = State::Ready;
    bool hold_requested = false;  // hold() while active
  };
  void makeReady(const std::string& id);

  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::string> ready_;
  std::multimap<int64_t, std::string> deferred_;  // next attempt (unix seconds) -> id
};

}  // namespace petrel::queue
