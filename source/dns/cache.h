// Cache: answers by (name, type), kept for their TTL, bounded in memory (pure; time in).
//
// Holds Found answers for their TTL and NxDomain/NoData for their negative TTL (RFC 2308),
// both capped; TempFail and TTL 0 are never stored. The clock is the caller's: every call takes
// `now` in milliseconds (the resolver passes uv_now(), tests a number). When the stored answers
// exceed `max_bytes` (an estimate of their names and records), the least recently used go
// first. It does not cache partial CNAME chains or anything from additional sections: the
// resolver stores only complete answers.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "petrel/dns/resolver.h"

namespace petrel::dns {

struct CacheLimits {
  size_t max_bytes = 4u << 20;
  uint32_t max_ttl = 86400;
  uint32_t max_negative_ttl = 10800;
};

class Cache {
 public:
  explicit Cache(CacheLimits limits);

  // The answer for (name, type) while it is valid, with `ttl` lowered to the whole seconds
  // left (rounded up). `name` normalized. Refreshes the entry's place in the LRU order.
  std::optional<Answer> get(std::string_view name, Type type, uint64_t now_ms);

  // Stores a copy of `answer` for min(answer.ttl, cap) seconds from now_ms, replacing what
  // was there. Ignores TempFail, TTL 0, and answers larger than a quarter of max_bytes.
  void put(std::string_view name, Type type, const Answer& answer, uint64_t now_ms);

  size_t size() const { return index_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  struct Entry {
    std::string key;
    Answer answer;
    uint64_t expires_ms;
    size_t cost;
  };
  using Lru = std::list<Entry>;

  static std::string key(std::string_view name, Type type);
  static size_t costOf(const std::string& key, const Answer& answer);
  void erase(Lru::iterator it);

  CacheLimits limits_;
  Lru lru_;  // most recently used first
  std::unordered_map<std::string, Lru::iterator> index_;
  size_t bytes_ = 0;
};

}  // namespace petrel::dns
