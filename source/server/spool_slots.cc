// Reusable spool files; see spool_slots.h.
#include "petrel/server/spool_slots.h"

#include <dirent.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>

namespace petrel::server {

void SpoolSlots::recover(const std::unordered_set<std::string>& busy_paths) {
  std::lock_guard<std::mutex> lock(mutex_);
  free_.clear();
  DIR* d = opendir(dir_.c_str());
  if (d == nullptr) return;
  while (auto* ent = readdir(d)) {
    std::string name = ent->d_name;
    if (name == "." || name == "..") continue;
    std::string path = dir_ + "/" + name;
    if (name.rfind("slot-", 0) == 0) {
      unsigned long n = std::strtoul(name.c_str() + 5, nullptr, 10);
      if (n >= next_) next_ = n + 1;
      if (!busy_paths.count(path)) free_.push_back(path);
    } else if (!busy_paths.count(path)) {
      ::unlink(path.c_str());
    }
  }
  closedir(d);
}

SpoolSlots::Slot SpoolSlots::acquire() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!free_.empty()) {
    Slot s{std::move(free_.back())};
    free_.pop_back();
    return s;
  }
  return Slot{fmt::format("{}/slot-{}", dir_, next_++)};
}

void SpoolSlots::release(const std::string& path) {
  if (path.empty()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  free_.push_back(path);
}

size_t SpoolSlots::freeCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return free_.size();
}

}  // namespace petrel::server
