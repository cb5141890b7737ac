// The idle connections of a remote table (pgsql, mysql, ldap): shared by the thread-pool
// threads that run lookups. A lookup takes one (or opens its own when there is none), uses it
// alone, and gives it back when it is still good. The mutex is held only to take or give;
// connections are closed outside it (closing may write to a socket).
#pragma once

#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

namespace petrel::lookup {

// `Handle` owns a connection and closes it when destroyed (a unique_ptr with a deleter).
template <typename Handle>
class IdlePool {
 public:
  explicit IdlePool(size_t max_idle) : max_idle_(max_idle) {}

  // An idle connection, or an empty Handle when there is none.
  Handle take() {
    std::lock_guard lock(mutex_);
    if (idle_.empty()) return Handle();
    Handle h = std::move(idle_.back());
    idle_.pop_back();
    return h;
  }

  // Kept for the next lookup, or closed when max_idle are already waiting.
  void giveBack(Handle&& h) {
    Handle surplus;
    {
      std::lock_guard lock(mutex_);
      if (idle_.size() < max_idle_) {
        idle_.push_back(std::move(h));
      } else {
        surplus = std::move(h);
      }
    }
  }

  // Closes every idle connection: after one turned out broken (a server restart, a cut
  // connection) or timed out, the others most likely did too.
  void clear() {
    std::vector<Handle> closing;
    {
      std::lock_guard lock(mutex_);
      closing.swap(idle_);
    }
  }

 private:
  const size_t max_idle_;
  std::mutex mutex_;
  std::vector<Handle> idle_;  // guarded by mutex_
};

}  // namespace petrel::lookup
