// CachedTable: keeps a table's answers for a while (TableSpec::cache_ttl), so that a remote
// table is not asked the same key for every RCPT. Found answers live cache_ttl seconds,
// NotFound answers cache_negative_ttl seconds (0: not kept); TempFail and ConfigError are never
// kept, so a database that comes back is asked at once.
#include "cached_table.h"

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace petrel::lookup {

namespace {

// When the cache holds this many keys it is emptied: simpler than LRU and just as good for a
// working set that fits, which is what the TTLs are sized for.
constexpr size_t MaxEntries = 100000;

class CachedTable final : public LookupTable {
 public:
  CachedTable(TablePtr inner, uint64_t ttl, uint64_t negative_ttl)
      : inner_(std::move(inner)), ttl_(ttl), negative_ttl_(negative_ttl) {}

  LookupResult lookup(std::string_view key) const override {
    auto now = Clock::now();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = entries_.find(std::string(key));
      if (it != entries_.end() && it->second.expires > now) return it->second.result;
    }
    LookupResult r = inner_->lookup(key);
    uint64_t keep = r.status == LookupStatus::Found      ? ttl_
                    : r.status == LookupStatus::NotFound ? negative_ttl_
                                                         : 0;
    if (keep > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (entries_.size() >= MaxEntries) entries_.clear();
      entries_[std::string(key)] = {r, now + std::chrono::seconds(keep)};
    }
    return r;
  }

  // A file behind the cache that changed must not keep answering from the cache.
  void refresh() override { inner_->refresh(); }
  std::string describe() const override { return inner_->describe(); }
  bool blocking() const override { return inner_->blocking(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    LookupResult result;
    Clock::time_point expires;
  };
  TablePtr inner_;
  uint64_t ttl_, negative_ttl_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, Entry> entries_;
};

}  // namespace

TablePtr withCache(TablePtr inner, uint64_t ttl, uint64_t negative_ttl) {
  return std::make_shared<CachedTable>(std::move(inner), ttl, negative_ttl);
}

}  // namespace petrel::lookup
