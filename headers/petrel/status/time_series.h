// TrafficSeries: the dashboard's mail counters over time, in round-robin archives of fixed
// size (mailgraph's RRDs): per minute over the last hour, per 5 minutes over a day, per hour
// over a week and over a month, per day over a year. Memory and the persisted rows are
// bounded by the archives' slot counts (1601 slots in all), whatever the traffic.
//
// It owns only the numbers; time comes from the caller (unix seconds), so tests use a fake
// clock. Not thread-safe: the dashboard holds it under its mutex. TrafficStore (below) keeps
// the slots in SQLite so that a restart keeps the history; it blocks, so it runs on the pool.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"

namespace petrel::sqlite {
class Database;
}

namespace petrel::status {

// New counters go at the end: the store keeps them in this order.
enum class Counter : uint8_t {
  Received,
  Delivered,  // to a mailbox here
  Relayed,    // sent to another host
  Deferred,
  Bounced,
  RejectedRelay,
  RejectedUnknownUser,
  RejectedDnsList,
  RejectedSpfDmarc,
  RejectedGreylisted,
  RejectedContent,
  RejectedOther,
  Spam,   // placeholders until the content filters report them
  Virus,
};
constexpr size_t CounterCount = 14;
using Counts = std::array<uint64_t, CounterCount>;

// "received", "rejected_unknown_user", ... (JSON keys and page labels).
std::string_view counterName(Counter c);
// The refusal's reason from what the mail log line says: the stage, the reply text and whether
// header/body checks or a milter made it. Greylisting and DNS lists are known by their replies
// ("Greylisted", "blocked using"), as Postfix admins grep them.
Counter classifyRefusal(std::string_view stage, std::string_view reply, bool content);

struct ArchiveSpec {
  std::string_view name;  // "hour", "day", "week", "month", "year"
  int64_t step;           // seconds per slot
  size_t slots;
};
constexpr size_t ArchiveCount = 5;
const std::array<ArchiveSpec, ArchiveCount>& archives();

class TrafficSeries {
 public:
  TrafficSeries();

  void add(Counter c, int64_t now, uint64_t n = 1);

  struct Point {
    int64_t start = 0;  // unix seconds at the slot's start
    Counts counts{};
  };
  // The archive's window ending with the slot that holds `now`, oldest first; slots with no
  // data (never written, or older than the window) read as zero.
  std::vector<Point> series(size_t archive, int64_t now) const;
  // Sums over the archive's window.
  Counts total(size_t archive, int64_t now) const;

  // Persistence: the slots changed since the last call, and a slot read back at start.
  struct Row {
    size_t archive = 0;
    size_t slot = 0;
    int64_t start = 0;
    Counts counts{};
  };
  std::vector<Row> takeDirty();
  void restore(const Row& row);

 private:
  struct Slot {
    int64_t start = -1;
    Counts counts{};
    bool dirty = false;
  };
  std::array<std::vector<Slot>, ArchiveCount> slots_;
};

// The slots in SQLite (state_dir/traffic.db): one row per archive slot, so the file stays
// small (at most 1601 rows). Blocking: open at start, save() on the pool, one call at a time.
class TrafficStore {
 public:
  static Result<std::unique_ptr<TrafficStore>> open(const std::string& path);
  ~TrafficStore();
  Status save(const std::vector<TrafficSeries::Row>& rows);  // one transaction
  Result<std::vector<TrafficSeries::Row>> load();

 private:
  explicit TrafficStore(std::unique_ptr<sqlite::Database> db);
  std::unique_ptr<sqlite::Database> db_;
};

}  // namespace petrel::status
