// ClientRates: per-client event counts over a time unit, as Postfix's anvil(8) keeps them for
// smtpd_client_*_rate_limit (limits.rate): connections, MAIL, RCPT, AUTH and new TLS sessions
// of one client address.
//
// One instance is shared by every worker thread (Runtime::rates), so a limit holds for the
// client whichever worker its connections land on (SO_REUSEPORT spreads them). It is a hash
// map behind one mutex rather than per-worker counters merged from time to time: an event
// costs one uncontended-or-briefly-contended lock and a hash lookup (about 0.1 µs, see
// client_rates_test.cc), it is counted only for a limit that is on and a client that is not
// exempt, and merged counters would let a client overshoot by up to one merge period times
// the number of workers. Postfix's anvil is one process for the same reason.
//
// Windows are anvil's: fixed per client, starting at the client's first event and reset
// once a time unit has passed since then. Memory is bounded: at most `max_clients` addresses
// are tracked; beyond that the least recently seen one is forgotten (an attacker who sprays
// that many addresses gains a reset for one of them, nothing more).
//
// It decides nothing: callers compare the count with their limit and log and reply as
// Postfix's smtpd does (smtp_connection.cc).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace petrel::server {

enum class RateEvent : uint8_t { Connection, Message, Recipient, Auth, NewTls };
inline constexpr size_t RateEventCount = 5;
// "connection", "message", "recipient", "auth", "new_tls_session": metric labels.
std::string_view toString(RateEvent event);

class ClientRates {
 public:
  using Clock = std::function<int64_t()>;  // milliseconds, monotonic
  static constexpr size_t DefaultMaxClients = 100000;

  // `clock` defaults to the steady clock; tests pass a fake one.
  explicit ClientRates(Clock clock = {}, size_t max_clients = DefaultMaxClients);

  // Counts one `event` of `ip` and returns its count within the client's current window of
  // `time_unit_ms`, this one included (anvil's "rate").
  uint32_t record(std::string_view ip, RateEvent event, int64_t time_unit_ms);
  // The count without adding one (STARTTLS asks whether a new session would be over).
  uint32_t count(std::string_view ip, RateEvent event, int64_t time_unit_ms);

  size_t trackedForTest();

 private:
  struct Entry {
    int64_t window_start = 0;
    std::array<uint32_t, RateEventCount> counts{};
    std::list<std::string>::iterator lru;  // its place in lru_ (front = most recent)
  };
  Entry& touch(std::string_view ip, int64_t now, int64_t time_unit_ms);

  Clock clock_;
  size_t max_clients_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> clients_;
  std::list<std::string> lru_;
};

}  // namespace petrel::server
