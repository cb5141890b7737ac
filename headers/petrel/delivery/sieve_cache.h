// SieveCache: compiled Sieve scripts for delivery (docs/sieve.md, "Compiled once"), so that a
// script is parsed and checked once, not at every message.
//
// Two kinds of entries, in one LRU list bounded by a number of scripts and a number of bytes:
// - a script file (a user's script, an included one), keyed by its path and checked at each
//   use by one stat(): the entry holds the (device, inode, size, mtime in ns) it was compiled
//   from, and a file that changed in any of them is read and compiled again;
// - a script's text from a table (delivery.sieve.user_scripts as a table), keyed by the
//   SHA-256 of the text: the table is asked at each delivery, the compiling is done once per
//   distinct text.
// A script that does not compile is cached too (its error, until the file changes), so a
// broken script costs one stat per message, like a good one. A missing file is not cached.
//
// Thread-safe: deliveries run on the thread pool and share one cache (a mutex around the
// list; reading and compiling are done outside it, so two threads may both compile a script
// that changed, and the second result wins). Blocking: file() stats and reads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "petrel/sieve/interpreter.h"

namespace petrel::delivery {

// A script as the cache hands it out: compiled, absent, or why it cannot run.
struct CachedScript {
  enum class Status { Compiled, Missing, Broken };
  Status status = Status::Missing;
  sieve::ProgramPtr program;  // Compiled
  std::string error;          // Broken: "NAME:line:column: what", or why it could not be read
};

struct SieveCacheLimits {
  size_t max_scripts = 1000;
  // Each entry is charged its text's size plus EntryOverhead (the compiled tree is a few
  // times the text; this is a bound on what users can make the cache hold, not a measure).
  size_t max_bytes = 64u << 20;
  static constexpr size_t EntryOverhead = 1024;
};

struct SieveCacheStats {
  uint64_t hits = 0;      // an entry served as it was
  uint64_t misses = 0;    // compiled (first use, a changed file, or evicted before)
  uint64_t evictions = 0;
  size_t scripts = 0;     // entries now
  size_t bytes = 0;       // their charge now
};

class SieveCache {
 public:
  explicit SieveCache(sieve::Options options = {}, SieveCacheLimits limits = {});

  // The script file at `path`: Missing when there is no such file, Broken (with
  // "PATH:line:column: what") when it does not compile or cannot be read.
  CachedScript file(const std::string& path);
  // A script's text; `origin` names it in the error ("table sqlite:/x: alice@example.test").
  CachedScript text(std::string_view text, std::string_view origin);

  SieveCacheStats stats() const;

 private:
  struct Stamp {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const Stamp&) const = default;
  };
  struct Entry {
    std::string key;  // "file:PATH" or "text:HEX-SHA-256"
    Stamp stamp;      // files only
    sieve::ProgramPtr program;
    std::string error;  // "line:column: what" (without the name), when it does not compile
    size_t cost = 0;
  };
  using List = std::list<Entry>;

  // The entry for `key` (moved to the front) when its stamp is `stamp`; a copy, since the
  // list may change as soon as the lock is let go.
  std::optional<Entry> find(const std::string& key, const Stamp& stamp);
  void insert(Entry entry);
  static CachedScript result(const Entry& e, std::string_view name);
  Entry compile(std::string key, Stamp stamp, std::string_view text) const;

  sieve::Options options_;  // parse limits
  SieveCacheLimits limits_;
  mutable std::mutex mu_;
  List lru_;  // most recently used first
  std::unordered_map<std::string, List::iterator> index_;
  SieveCacheStats stats_;
};

}  // namespace petrel::delivery
