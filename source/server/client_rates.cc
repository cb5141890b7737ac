// Per-client event counts for limits.rate (anvil's rates); see client_rates.h for why one
// shared map behind a mutex.
#include "petrel/server/client_rates.h"

#include <chrono>

namespace petrel::server {

std::string_view toString(RateEvent event) {
  switch (event) {
    case RateEvent::Connection: return "connection";
    case RateEvent::Message: return "message";
    case RateEvent::Recipient: return "recipient";
    case RateEvent::Auth: return "auth";
    case RateEvent::NewTls: return "new_tls_session";
  }
  return "?";
}

ClientRates::ClientRates(Clock clock, size_t max_clients)
    : clock_(std::move(clock)), max_clients_(max_clients == 0 ? 1 : max_clients) {
  if (!clock_) {
    clock_ = [] {
      return int64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count());
    };
  }
}

ClientRates::Entry& ClientRates::touch(std::string_view ip, int64_t now, int64_t time_unit_ms) {
  auto it = clients_.find(std::string(ip));
  if (it == clients_.end()) {
    if (clients_.size() >= max_clients_) {
      clients_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.emplace_front(ip);
    it = clients_.emplace(lru_.front(), Entry{}).first;
    it->second.window_start = now;
    it->second.lru = lru_.begin();
    return it->second;
  }
  Entry& e = it->second;
  lru_.splice(lru_.begin(), lru_, e.lru);
  // anvil: a window is one time unit from the client's first event in it.
  if (now - e.window_start >= time_unit_ms) {
    e.window_start = now;
    e.counts.fill(0);
  }
  return e;
}

uint32_t ClientRates::record(std::string_view ip, RateEvent event, int64_t time_unit_ms) {
  int64_t now = clock_();
  std::lock_guard<std::mutex> lock(mutex_);
  uint32_t& n = touch(ip, now, time_unit_ms).counts[size_t(event)];
  if (n < UINT32_MAX) ++n;
  return n;
}

uint32_t ClientRates::count(std::string_view ip, RateEvent event, int64_t time_unit_ms) {
  int64_t now = clock_();
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = clients_.find(std::string(ip));
  if (it == clients_.end() || now - it->second.window_start >= time_unit_ms) return 0;
  return it->second.counts[size_t(event)];
}

size_t ClientRates::trackedForTest() {
  std::lock_guard<std::mutex> lock(mutex_);
  return clients_.size();
}

}  // namespace petrel::server
