// Scheduler; see queue/scheduler.h.
#include "petrel/queue/scheduler.h"

#include <algorithm>
#include <climits>

namespace petrel::queue {

void Scheduler::addReady(const std::string& id, int64_t arrival_us) {
  entries_[id] = Entry{arrival_us, State::Ready, false};
  ready_.push_back(id);
}

void Scheduler::addDeferred(const std::string& id, int64_t arrival_us, int64_t next_attempt) {
  entries_[id] = Entry{arrival_us, State::Deferred, false};
  deferred_.emplace(next_attempt, id);
}

void Scheduler::addHeld(const std::string& id, int64_t arrival_us) {
  entries_[id] = Entry{arrival_us, State::Held, false};
}

void Scheduler::erase(const std::string& id) { entries_.erase(id); }

void Scheduler::makeReady(const std::string& id) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.state == State::Ready ||
      it->second.state == State::Active) {
    return;
  }
  it->second.state = State::Ready;
  ready_.push_back(id);
}

void Scheduler::due(int64_t now) {
  while (!deferred_.empty() && deferred_.begin()->first <= now) {
    std::string id = deferred_.begin()->second;
    deferred_.erase(deferred_.begin());
    auto it = entries_.find(id);
    // A message held or flushed since it was deferred has a stale entry here.
    if (it != entries_.end() && it->second.state == State::Deferred) makeReady(id);
  }
}

std::vector<std::string> Scheduler::take(size_t max) {
  std::vector<std::string> ids;
  while (ids.size() < max && !ready_.empty()) {
    std::string id = std::move(ready_.front());
    ready_.pop_front();
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.state != State::Ready) continue;
    it->second.state = State::Active;
    ids.push_back(std::move(id));
  }
  return ids;
}

void Scheduler::finished(const std::string& id, int64_t at) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  if (it->second.hold_requested) {
    it->second.state = State::Held;
    return;
  }
  it->second.state = State::Deferred;
  deferred_.emplace(at, id);
}

void Scheduler::defer(const std::string& id, int64_t at) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  it->second.state = State::Deferred;
  deferred_.emplace(at, id);
}

void Scheduler::hold(const std::string& id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  if (it->second.state == State::Active) {
    it->second.hold_requested = true;
  } else {
    it->second.state = State::Held;
  }
}

void Scheduler::release(const std::string& id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  it->second.hold_requested = false;
  if (it->second.state == State::Held) makeReady(id);
}

void Scheduler::flush() {
  for (auto& [id, e] : entries_) {
    if (e.state == State::Deferred) makeReady(id);
  }
  deferred_.clear();
}

bool Scheduler::retry(const std::string& id) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.state != State::Deferred) return false;
  for (auto d = deferred_.begin(); d != deferred_.end(); ++d) {
    if (d->second == id) {
      deferred_.erase(d);
      break;
    }
  }
  makeReady(id);
  return true;
}

std::optional<Scheduler::State> Scheduler::state(const std::string& id) const {
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second.state;
}

bool Scheduler::active(const std::string& id) const {
  auto it = entries_.find(id);
  return it != entries_.end() && it->second.state == State::Active;
}

std::vector<std::string> Scheduler::ids() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [id, _] : entries_) out.push_back(id);
  return out;
}

Scheduler::Counts Scheduler::counts() const {
  Counts c;
  c.messages = entries_.size();
  int64_t oldest = INT64_MAX;
  for (const auto& [_, e] : entries_) {
    oldest = std::min(oldest, e.arrival_us);
    switch (e.state) {
      case State::Ready: ++c.ready; break;
      case State::Active: ++c.active; break;
      case State::Deferred: ++c.deferred; break;
      case State::Held: ++c.held; break;
    }
  }
  if (!entries_.empty()) c.oldest_arrival_us = oldest;
  return c;
}

}  // namespace petrel::queue
