// Cache; see cache.h.
#include "cache.h"

#include <fmt/format.h>

#include <algorithm>

namespace petrel::dns {

Cache::Cache(CacheLimits limits) : limits_(limits) {}

std::string Cache::key(std::string_view name, Type type) {
  return fmt::format("{}/{}", name, uint16_t(type));
}

size_t Cache::costOf(const std::string& key, const Answer& a) {
  // Rough heap use: the entry and list/map nodes, plus the characters of every string.
  size_t cost = sizeof(Entry) + 96 + key.size() + a.error.size() + a.canonical_name.size();
  for (const auto& s : a.addresses) cost += sizeof(std::string) + s.size();
  for (const auto& s : a.txt) cost += sizeof(std::string) + s.size();
  for (const auto& s : a.ptr) cost += sizeof(std::string) + s.size();
  for (const auto& s : a.ns) cost += sizeof(std::string) + s.size();
  for (const auto& m : a.mx) cost += sizeof(MxRecord) + m.exchange.size();
  return cost;
}

void Cache::erase(Lru::iterator it) {
  bytes_ -= it->cost;
  index_.erase(it->key);
  lru_.erase(it);
}

std::optional<Answer> Cache::get(std::string_view name, Type type, uint64_t now_ms) {
  auto found = index_.find(key(name, type));
  if (found == index_.end()) return std::nullopt;
  auto it = found->second;
  if (now_ms >= it->expires_ms) {
    erase(it);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it);
  Answer a = it->answer;
  a.ttl = uint32_t((it->expires_ms - now_ms + 999) / 1000);
  return a;
}

void Cache::put(std::string_view name, Type type, const Answer& answer, uint64_t now_ms) {
  if (limits_.max_bytes == 0) return;
  uint32_t ttl = answer.ttl;
  switch (answer.status) {
    case Answer::Status::Found:
      ttl = std::min(ttl, limits_.max_ttl);
      break;
    case Answer::Status::NxDomain:
    case Answer::Status::NoData:
      ttl = std::min(ttl, limits_.max_negative_ttl);
      break;
    case Answer::Status::TempFail:
      return;
  }
  if (ttl == 0) return;
  std::string k = key(name, type);
  if (auto old = index_.find(k); old != index_.end()) erase(old->second);
  size_t cost = costOf(k, answer);
  if (cost > limits_.max_bytes / 4) return;
  while (bytes_ + cost > limits_.max_bytes && !lru_.empty()) erase(std::prev(lru_.end()));
  lru_.push_front(Entry{k, answer, now_ms + uint64_t(ttl) * 1000, cost});
  index_.emplace(std::move(k), lru_.begin());
  bytes_ += cost;
}

}  // namespace petrel::dns
