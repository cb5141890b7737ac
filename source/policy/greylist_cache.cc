// GreylistPassCache (policy/greylist.h): the passed triplets of one process and their
// networks' rows, least recently used first out. One mutex: a find is a hash probe and a list
// splice, far shorter than the SQLite read it saves; the store's visits and the loops' fast
// paths share it. Networks are reference-counted by the triplets that name them, so the
// network map never holds more entries than the triplet map.
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "petrel/policy/greylist.h"

namespace petrel::policy {

namespace {

std::string keyOf(const Triplet& t) {
  std::string key;
  key.reserve(t.network.size() + t.sender.size() + t.recipient.size() + 2);
  key += t.network;
  key += '\0';
  key += t.sender;
  key += '\0';
  key += t.recipient;
  return key;
}

}  // namespace

struct GreylistPassCache::State {
  struct TripletEntry {
    std::list<std::string>::iterator lru;  // position in `order`
    std::optional<TripletState> triplet;
    std::string network;
  };
  struct NetworkEntry {
    std::optional<NetworkState> state;
    size_t refs = 0;  // cached triplets of this network
  };

  explicit State(size_t cap) : capacity(cap == 0 ? 1 : cap) {}

  void unref(const std::string& network) {
    auto it = networks.find(network);
    if (it != networks.end() && --it->second.refs == 0) networks.erase(it);
  }
  void erase(std::unordered_map<std::string, TripletEntry>::iterator it) {
    order.erase(it->second.lru);
    unref(it->second.network);
    triplets.erase(it);
  }

  const size_t capacity;
  mutable std::mutex mutex;
  std::list<std::string> order;  // most recently used first; guarded by mutex
  std::unordered_map<std::string, TripletEntry> triplets;
  std::unordered_map<std::string, NetworkEntry> networks;
};

GreylistPassCache::GreylistPassCache(size_t capacity)
    : state_(std::make_unique<State>(capacity)) {}
GreylistPassCache::~GreylistPassCache() = default;

std::optional<GreylistPassCache::Entry> GreylistPassCache::find(const Triplet& triplet) {
  std::string key = keyOf(triplet);
  std::lock_guard lock(state_->mutex);
  auto it = state_->triplets.find(key);
  if (it == state_->triplets.end()) return std::nullopt;
  state_->order.splice(state_->order.begin(), state_->order, it->second.lru);
  Entry e{it->second.triplet, std::nullopt};
  if (auto n = state_->networks.find(it->second.network); n != state_->networks.end()) {
    e.network = n->second.state;
  }
  return e;
}

void GreylistPassCache::remember(const Triplet& triplet, const Entry& entry) {
  std::string key = keyOf(triplet);
  std::lock_guard lock(state_->mutex);
  State& s = *state_;
  auto it = s.triplets.find(key);
  if (it == s.triplets.end()) {
    if (s.triplets.size() >= s.capacity) {
      s.erase(s.triplets.find(s.order.back()));
    }
    s.order.push_front(key);
    it = s.triplets
             .emplace(std::move(key), State::TripletEntry{s.order.begin(), {}, triplet.network})
             .first;
    s.networks[triplet.network].refs++;
  } else {
    s.order.splice(s.order.begin(), s.order, it->second.lru);
  }
  it->second.triplet = entry.triplet;
  s.networks[triplet.network].state = entry.network;
}

void GreylistPassCache::forget(const Triplet& triplet) {
  std::string key = keyOf(triplet);
  std::lock_guard lock(state_->mutex);
  if (auto it = state_->triplets.find(key); it != state_->triplets.end()) state_->erase(it);
}

size_t GreylistPassCache::size() const {
  std::lock_guard lock(state_->mutex);
  return state_->triplets.size();
}

}  // namespace petrel::policy
