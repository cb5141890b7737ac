// TrafficSeries and TrafficStore; see status/time_series.h.
#include "petrel/status/time_series.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include "petrel/core/strings.h"
#include "petrel/sqlite/database.h"

namespace petrel::status {

namespace {

constexpr std::array<std::string_view, CounterCount> Names = {
    "received",          "delivered",           "relayed",          "deferred",
    "bounced",           "rejected_relay",      "rejected_unknown_user",
    "rejected_dns_list", "rejected_spf_dmarc",  "rejected_greylisted",
    "rejected_content",  "rejected_other",      "spam",             "virus"};

constexpr std::array<ArchiveSpec, ArchiveCount> Archives = {{
    {"hour", 60, 60},
    {"day", 300, 288},
    {"week", 3600, 168},
    {"month", 3600, 720},
    {"year", 86400, 365},
}};

bool contains(std::string_view text, std::string_view what) {
  return text.find(what) != std::string_view::npos;
}

// Slot starts are multiples of the step (UTC), so every archive's slots line up.
int64_t slotStart(int64_t now, int64_t step) {
  return now >= 0 ? now / step * step : (now - step + 1) / step * step;
}

size_t slotIndex(int64_t start, const ArchiveSpec& a) {
  return size_t((start / a.step) % int64_t(a.slots));
}

constexpr const char* Schema =
    "CREATE TABLE IF NOT EXISTS traffic (archive INTEGER NOT NULL, slot INTEGER NOT NULL, "
    "start INTEGER NOT NULL, counts TEXT NOT NULL, PRIMARY KEY (archive, slot))";

}  // namespace

std::string_view counterName(Counter c) { return Names[size_t(c)]; }

Counter classifyRefusal(std::string_view stage, std::string_view reply, bool content) {
  if (content || stage == "END-OF-MESSAGE" || stage == "DATA" || stage == "BDAT") {
    if (contains(reply, "DMARC")) return Counter::RejectedSpfDmarc;
    if (content || stage == "END-OF-MESSAGE") return Counter::RejectedContent;
  }
  if (contains(reply, "Greylisted")) return Counter::RejectedGreylisted;
  if (contains(reply, "Relay access denied")) return Counter::RejectedRelay;
  if (contains(reply, "blocked using")) return Counter::RejectedDnsList;
  if (contains(reply, "SPF") || contains(reply, "DMARC")) return Counter::RejectedSpfDmarc;
  // RFC 3463 5.1.1: bad destination mailbox address (Postfix: "User unknown in ... table").
  if (contains(reply, " 5.1.1 ") || contains(reply, "User unknown")) {
    return Counter::RejectedUnknownUser;
  }
  return Counter::RejectedOther;
}

const std::array<ArchiveSpec, ArchiveCount>& archives() { return Archives; }

TrafficSeries::TrafficSeries() {
  for (size_t a = 0; a < ArchiveCount; ++a) slots_[a].resize(Archives[a].slots);
}

void TrafficSeries::add(Counter c, int64_t now, uint64_t n) {
  for (size_t a = 0; a < ArchiveCount; ++a) {
    int64_t start = slotStart(now, Archives[a].step);
    Slot& s = slots_[a][slotIndex(start, Archives[a])];
    if (s.start != start) {  // the slot's previous round is out of the window: reuse it
      if (s.start > start) continue;  // the clock went back past this slot: keep the newer data
      s.start = start;
      s.counts.fill(0);
    }
    s.counts[size_t(c)] += n;
    s.dirty = true;
  }
}

std::vector<TrafficSeries::Point> TrafficSeries::series(size_t archive, int64_t now) const {
  const ArchiveSpec& a = Archives[archive];
  int64_t last = slotStart(now, a.step);
  std::vector<Point> out(a.slots);
  for (size_t k = 0; k < a.slots; ++k) {
    int64_t start = last - int64_t(a.slots - 1 - k) * a.step;
    out[k].start = start;
    const Slot& s = slots_[archive][slotIndex(start, a)];
    if (s.start == start) out[k].counts = s.counts;
  }
  return out;
}

Counts TrafficSeries::total(size_t archive, int64_t now) const {
  Counts sum{};
  for (const auto& p : series(archive, now)) {
    for (size_t i = 0; i < CounterCount; ++i) sum[i] += p.counts[i];
  }
  return sum;
}

std::vector<TrafficSeries::Row> TrafficSeries::takeDirty() {
  std::vector<Row> out;
  for (size_t a = 0; a < ArchiveCount; ++a) {
    for (size_t i = 0; i < slots_[a].size(); ++i) {
      Slot& s = slots_[a][i];
      if (!s.dirty) continue;
      s.dirty = false;
      out.push_back({a, i, s.start, s.counts});
    }
  }
  return out;
}

void TrafficSeries::restore(const Row& row) {
  if (row.archive >= ArchiveCount) return;
  const ArchiveSpec& a = Archives[row.archive];
  // A row that does not fit this layout (another version's archives) is dropped.
  if (row.slot >= a.slots || row.start % a.step != 0 || slotIndex(row.start, a) != row.slot) {
    return;
  }
  Slot& s = slots_[row.archive][row.slot];
  if (s.start > row.start) return;
  s.start = row.start;
  s.counts = row.counts;
}

TrafficStore::TrafficStore(std::unique_ptr<sqlite::Database> db) : db_(std::move(db)) {}
TrafficStore::~TrafficStore() = default;

Result<std::unique_ptr<TrafficStore>> TrafficStore::open(const std::string& path) {
  std::string label = fmt::format("traffic database {}", path);
  sqlite::OpenOptions options;
  options.create = true;
  auto db = sqlite::Database::open(path, options, label);
  if (!db) return Error::temporary(fmt::format("{}: {}", label, db.error().message()));
  if (path != ":memory:") ::chmod(path.c_str(), 0600);
  // Losing the last minute's counts in a power cut is fine; an fsync per minute is not needed.
  if (auto st = (*db)->exec("PRAGMA synchronous=OFF"); !st) return st.error();
  if (auto st = (*db)->exec(Schema); !st) return st.error();
  return std::unique_ptr<TrafficStore>(new TrafficStore(std::move(db.value())));
}

Status TrafficStore::save(const std::vector<TrafficSeries::Row>& rows) {
  if (rows.empty()) return okStatus();
  auto tx = sqlite::Transaction::begin(*db_);
  if (!tx) return tx.error();
  auto s = db_->stmt(
      "INSERT OR REPLACE INTO traffic (archive, slot, start, counts) VALUES (?1, ?2, ?3, ?4)");
  if (!s) return s.error();
  for (const auto& r : rows) {
    std::string counts;
    for (size_t i = 0; i < CounterCount; ++i) {
      counts += fmt::format("{}{}", i > 0 ? " " : "", r.counts[i]);
    }
    (*s)->bind(1, int64_t(r.archive)).bind(2, int64_t(r.slot)).bind(3, r.start).bind(4, counts);
    if (auto st = (*s)->run(); !st) return st;
  }
  return tx->commit();
}

Result<std::vector<TrafficSeries::Row>> TrafficStore::load() {
  auto s = db_->stmt("SELECT archive, slot, start, counts FROM traffic");
  if (!s) return s.error();
  std::vector<TrafficSeries::Row> out;
  while (true) {
    auto more = (*s)->step();
    if (!more) return more.error();
    if (!*more) break;
    TrafficSeries::Row r;
    int64_t archive = (*s)->integer(0), slot = (*s)->integer(1);
    if (archive < 0 || slot < 0) continue;
    r.archive = size_t(archive);
    r.slot = size_t(slot);
    r.start = (*s)->integer(2);
    size_t i = 0;
    for (auto part : split((*s)->textView(3), ' ')) {
      if (i >= CounterCount) break;  // a newer version's counters
      r.counts[i++] = std::strtoull(std::string(part).c_str(), nullptr, 10);
    }
    out.push_back(r);
  }
  (*s)->reset();
  return out;
}

}  // namespace petrel::status
