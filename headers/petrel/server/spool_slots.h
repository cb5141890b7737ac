// SpoolSlots: the files that hold message bodies too large to keep inline in the journal.
//
// A slot is a file <spool_dir>/slot-N that is reused, never unlinked: a new body overwrites
// it in place and truncates it to its length. Reuse avoids an inode allocation, a directory
// entry and a directory fsync per message, and an unlink per delivery (on ext4 without a
// journal, recently freed inodes slow down every later allocation). A slot is busy from
// acquire() until the queue no longer names it (release() after the journal commit that
// removed the message); after a crash every slot that no queue row names is free again.
// Thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

namespace petrel::server {

class SpoolSlots {
 public:
  explicit SpoolSlots(std::string dir) : dir_(std::move(dir)) {}

  // At start: files named slot-N that no queued message uses become free; anything else in
  // the directory (a half-written file from an older layout) is removed.
  void recover(const std::unordered_set<std::string>& busy_paths);

  struct Slot {
    std::string path;  // the file may not exist yet: the writer creates it when missing
  };
  Slot acquire();
  void release(const std::string& path);
  size_t freeCount() const;

 private:
  std::string dir_;
  mutable std::mutex mutex_;
  std::vector<std::string> free_;
  unsigned long next_ = 0;  // next new slot number
};

}  // namespace petrel::server
