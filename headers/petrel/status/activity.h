// ActivityLog: the latest deliveries and refusals, a bounded ring of mail log events the
// dashboard's Activity page lists and searches (by address, queue id or client IP).
//
// It owns copies of the events' fields, each cut to a bounded length with control characters
// replaced (addresses and replies come from the Internet); it does not read the log file.
// Not thread-safe: the dashboard holds it under its mutex.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::status {

struct ActivityEntry {
  int64_t time = 0;  // unix seconds
  std::string kind;  // "delivered", "relayed", "deferred", "bounced", "rejected"
  std::string id;    // queue id or NOQUEUE
  std::string sender;
  std::string address;  // recipient
  std::string client;   // host[ip]
  std::string reason;   // counter name of a refusal ("rejected_relay"), empty otherwise
  std::string text;     // reply or delivery text
};

class ActivityLog {
 public:
  static constexpr size_t DefaultCapacity = 1000;
  static constexpr size_t MaxField = 300;

  explicit ActivityLog(size_t capacity = DefaultCapacity) : capacity_(capacity) {}
  void add(ActivityEntry entry);  // drops the oldest beyond the capacity
  // Newest first, at most `limit`; `query` (case-insensitive substring of the id, sender,
  // recipient or client) empty: all.
  std::vector<ActivityEntry> latest(std::string_view query, size_t limit) const;
  size_t size() const { return entries_.size(); }

 private:
  size_t capacity_;
  std::deque<ActivityEntry> entries_;
};

// `s` cut to `max` octets with control characters replaced by '?' (for the ring and pages).
std::string boundedField(std::string_view s, size_t max = ActivityLog::MaxField);

}  // namespace petrel::status
