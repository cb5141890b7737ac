// Built-in greylisting (check_greylist; postgrey's algorithm): what a triplet is, how it is
// normalised, the decision over its stored state, and the store interface.
//
// A triplet is (client network, sender, recipient). First sight of a triplet defers it; a retry
// before `delay` is deferred again; a retry after `delay` (and before the triplet expired)
// passes, and every later message of the triplet passes at once. A client network whose
// triplets passed `auto_whitelist_after` times is whitelisted (postgrey's
// --auto-whitelist-clients, kept per network rather than per address). Triplets and networks
// not seen for `max_age` expire: the decision ignores them at once, the store deletes them in
// bounded batches (expire()).
//
// A process keeps the triplets that passed in memory (GreylistPassCache, greylist_cache.cc)
// in front of the store: a known correspondent within touch_interval costs no SQLite read and
// no pool hop; whatever must be written still goes to the store at once.
//
// This header owns the value types and the interface only; the SQLite store is in
// source/policy/greylist_store.cc (policy/ uses sqlite/, which comes before it in the layering,
// only in that .cc file), the check in source/policy/checks/greylist.cc. Nothing here blocks
// except the store's calls, which the check runs through PolicyContext::offload. Time comes
// from an injectable Clock, so tests run on a fake one.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "petrel/core/result.h"

namespace petrel::policy {

// config::Greylisting as the policy area sees it (all times in seconds).
struct GreylistSettings {
  int64_t delay = 300;                // a triplet passes this long after its first sight
  int64_t max_age = 2 * 86400;        // not seen for this long: forgotten
  uint32_t auto_whitelist_after = 5;  // triplets passed from one network; 0 = never
  int ipv4_prefix = 24;               // the client network of an IPv4 address
  int ipv6_prefix = 64;
  // A passed triplet or whitelisted network seen again within this many seconds of its last
  // recorded sight is not written again: the common case (a known correspondent) then costs
  // one read and no write lock. Not a config key.
  int64_t touch_interval = 60;
};

// Unix seconds.
using Clock = std::function<int64_t()>;
int64_t systemClock();

struct Triplet {
  std::string network;    // "192.0.2.0/24", "2001:db8:1:2::/64"
  std::string sender;     // normalised (normalizeSender)
  std::string recipient;  // lower-cased
};

// The client network of `ip` with the settings' prefixes ("192.0.2.0/24"); an IPv4-mapped
// IPv6 address counts as IPv4. nullopt for text that is not an address.
std::optional<std::string> clientNetwork(std::string_view ip, const GreylistSettings& settings);

// The sender as a triplet keeps it (postgrey's substitutions): lower-cased; a BATV tag
// ("prvs=1234567890=user@", RFC-less but common) removed; an address extension after '+'
// removed; every run of digits that stands alone between non-word characters replaced by '#'
// ("bounce-12345-x@" -> "bounce-#-x@"), so that VERP and per-message bounce addresses of one
// list make one triplet. The null sender stays "".
std::string normalizeSender(std::string_view sender);

// The triplet of a transaction.
std::optional<Triplet> makeTriplet(std::string_view client_ip, std::string_view sender,
                                   std::string_view recipient, const GreylistSettings& settings);

// What the store holds of a triplet and of its client network.
struct TripletState {
  int64_t first_seen = 0;
  int64_t last_seen = 0;
  int64_t passes = 0;  // messages accepted through this triplet (see touch_interval)
};
struct NetworkState {
  int64_t passes = 0;  // triplets of this network that passed the delay
  int64_t last_seen = 0;
};

struct GreylistAnswer {
  enum class Kind : uint8_t {
    DeferNew,     // first sight (or expired): recorded, deferred
    DeferEarly,   // seen before, the delay has not passed yet
    Pass,         // the delay has passed: the triplet is known good
    Whitelisted,  // the client network is auto-whitelisted
  };
  Kind kind = Kind::DeferNew;
  int64_t wait = 0;  // deferrals: seconds until the triplet would pass
  bool deferred() const { return kind == Kind::DeferNew || kind == Kind::DeferEarly; }
};

// The decision, pure: the stored state (nullopt when absent) in, the answer and the states to
// store out. Expired entries count as absent; a first_seen in the future (the clock went back)
// is taken as now. Nothing to store when a known-good entry was touched within
// settings.touch_interval.
struct GreylistStep {
  GreylistAnswer answer;
  std::optional<TripletState> triplet;  // to store; nullopt: leave the triplet as it is
  std::optional<NetworkState> network;  // to store; nullopt: leave the network as it is
};
GreylistStep decideGreylist(const std::optional<TripletState>& triplet,
                            const std::optional<NetworkState>& network, int64_t now,
                            const GreylistSettings& settings);

// The triplets that passed, as one process last read or wrote their rows (check_greylist's
// fast path): the triplet's state and its network's, so that decideGreylist over them answers
// as the store would. Bounded: the least recently used triplet goes first. Thread-safe (one
// mutex; a lookup is a hash probe). A network's state is kept once for all its cached
// triplets, so a write through one of them is seen by the others. Knows nothing of SQLite.
class GreylistPassCache {
 public:
  static constexpr size_t DefaultCapacity = 4096;
  explicit GreylistPassCache(size_t capacity = DefaultCapacity);
  ~GreylistPassCache();
  GreylistPassCache(const GreylistPassCache&) = delete;
  GreylistPassCache& operator=(const GreylistPassCache&) = delete;

  struct Entry {
    std::optional<TripletState> triplet;  // absent: passed by its whitelisted network
    std::optional<NetworkState> network;  // absent: the store has no row for the network
  };
  // The rows as last known; nullopt when the triplet is not cached. Marks it recently used.
  std::optional<Entry> find(const Triplet& triplet);
  // The rows as now stored (after a visit that passed).
  void remember(const Triplet& triplet, const Entry& entry);
  // After a visit that did not pass (or failed): ask the store next time.
  void forget(const Triplet& triplet);
  size_t size() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Where triplets live. Safe to call from several threads at once (pool threads); every call
// may block on disk, but visitCached(). Errors are temporary.
class GreylistStore {
 public:
  virtual ~GreylistStore() = default;
  // Looks the triplet (and its network) up, decides, and unless `record` is false stores
  // what decideGreylist says (a write decides again inside its transaction).
  virtual Result<GreylistAnswer> visit(const Triplet& triplet, const GreylistSettings& settings,
                                       int64_t now, bool record = true) = 0;
  // Never blocks: the answer when the store's cache of passed triplets has it and nothing
  // needs writing (a known correspondent seen within touch_interval); nullopt: call visit().
  virtual std::optional<GreylistAnswer> visitCached(const Triplet& /*triplet*/,
                                                    const GreylistSettings& /*settings*/,
                                                    int64_t /*now*/) {
    return std::nullopt;
  }
  // Deletes at most `limit` triplets and `limit` networks not seen for settings.max_age;
  // returns how many rows went.
  virtual Result<size_t> expire(const GreylistSettings& settings, int64_t now, size_t limit) = 0;
  virtual std::string describe() const = 0;
};
using GreylistStorePtr = std::shared_ptr<GreylistStore>;

// The SQLite store at `path` (created with its schema when missing, WAL journal, one
// connection behind a mutex). `read_only`: opens an existing file without writing (`petrel
// route`); ":memory:" is an empty private database.
Result<GreylistStorePtr> openGreylistStore(const std::string& path, bool read_only = false);

// Counts for /metrics; shared by the snapshots of one process.
struct GreylistCounters {
  std::atomic<uint64_t> defer_new{0};
  std::atomic<uint64_t> defer_early{0};
  std::atomic<uint64_t> pass{0};
  std::atomic<uint64_t> whitelisted{0};
  std::atomic<uint64_t> skipped{0};  // mynetworks and authenticated clients
  std::atomic<uint64_t> errors{0};   // store failures (answered 451 4.3.0)
  std::atomic<uint64_t> cached{0};   // passes answered from GreylistPassCache (of pass and
                                     // whitelisted), on the loop without a pool hop
};

// What check_greylist runs with (CheckEnvironment::greylist).
struct Greylist {
  GreylistSettings settings;
  GreylistStorePtr store;
  Clock clock = &systemClock;
  std::shared_ptr<GreylistCounters> counters = std::make_shared<GreylistCounters>();
  bool record = true;  // false: answer what would happen, store nothing (`petrel route`)
};

}  // namespace petrel::policy
