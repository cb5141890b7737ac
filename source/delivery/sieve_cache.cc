// SieveCache: compiled scripts by file stamp or text digest; see delivery/sieve_cache.h.
#include "petrel/delivery/sieve_cache.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <variant>

#include "petrel/tls/crypto.h"

namespace petrel::delivery {

SieveCache::SieveCache(sieve::Options options, SieveCacheLimits limits)
    : options_(std::move(options)), limits_(limits) {
  options_.include = nullptr;  // compiling needs the parse limits only
  options_.include_program = nullptr;
}

std::optional<SieveCache::Entry> SieveCache::find(const std::string& key, const Stamp& stamp) {
  std::lock_guard lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end() || !(it->second->stamp == stamp)) {
    ++stats_.misses;
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  ++stats_.hits;
  return *it->second;
}

void SieveCache::insert(Entry entry) {
  std::lock_guard lock(mu_);
  if (auto it = index_.find(entry.key); it != index_.end()) {
    stats_.bytes -= it->second->cost;
    lru_.erase(it->second);
    index_.erase(it);
  }
  if (entry.cost > limits_.max_bytes || limits_.max_scripts == 0) return;  // served uncached
  stats_.bytes += entry.cost;
  lru_.push_front(std::move(entry));
  index_[lru_.front().key] = lru_.begin();
  while (lru_.size() > limits_.max_scripts || stats_.bytes > limits_.max_bytes) {
    Entry& last = lru_.back();
    stats_.bytes -= last.cost;
    index_.erase(last.key);
    lru_.pop_back();
    ++stats_.evictions;
  }
  stats_.scripts = lru_.size();
}

SieveCache::Entry SieveCache::compile(std::string key, Stamp stamp, std::string_view text) const {
  Entry e;
  e.key = std::move(key);
  e.stamp = stamp;
  e.cost = text.size() + SieveCacheLimits::EntryOverhead;
  auto compiled = sieve::compile(text, options_);
  if (auto* error = std::get_if<sieve::SyntaxError>(&compiled)) {
    e.error = error->message();
  } else {
    e.program = std::get<sieve::ProgramPtr>(std::move(compiled));
  }
  return e;
}

CachedScript SieveCache::result(const Entry& e, std::string_view name) {
  CachedScript s;
  if (e.program) {
    s.status = CachedScript::Status::Compiled;
    s.program = e.program;
  } else {
    s.status = CachedScript::Status::Broken;
    s.error = fmt::format("{}:{}", name, e.error);
  }
  return s;
}

CachedScript SieveCache::file(const std::string& path) {
  CachedScript out;
  auto broken = [&out, &path](std::string why) {
    out.status = CachedScript::Status::Broken;
    out.error = fmt::format("{}: {}", path, why);
    return out;
  };
  auto stampOf = [](const struct stat& st) {
    return Stamp{st.st_dev, st.st_ino, st.st_size,
                 int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  };
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return out;  // Missing
    return broken(fmt::format("cannot read the script: {}", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) return broken("not a regular file");
  std::string key = "file:" + path;
  if (auto hit = find(key, stampOf(st))) return result(*hit, path);

  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return out;  // removed since the stat
    return broken(fmt::format("cannot read the script: {}", std::strerror(errno)));
  }
  // The stamp of what is read, so that a change while reading is seen at the next use.
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return broken("not a regular file");
  }
  size_t max = options_.parse_limits.max_script_bytes;
  std::string text;
  text.resize(std::min<size_t>(size_t(st.st_size), max) + 1);
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return broken(fmt::format("cannot read the script: {}", std::strerror(e)));
    }
    if (n == 0) break;
    got += size_t(n);
  }
  ::close(fd);
  text.resize(got);  // one octet over the limit, when there is more: compile() reports it
  Entry e = compile(std::move(key), stampOf(st), text);
  CachedScript r = result(e, path);
  insert(std::move(e));
  return r;
}

CachedScript SieveCache::text(std::string_view text, std::string_view origin) {
  std::string key = "text:" + tls::sha256(text);
  if (auto hit = find(key, Stamp{})) return result(*hit, origin);
  Entry e = compile(std::move(key), Stamp{}, text);
  CachedScript r = result(e, origin);
  insert(std::move(e));
  return r;
}

SieveCacheStats SieveCache::stats() const {
  std::lock_guard lock(mu_);
  SieveCacheStats s = stats_;
  s.scripts = lru_.size();
  return s;
}

}  // namespace petrel::delivery
