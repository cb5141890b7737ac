// The vacation memory (RFC 5230 4.2, RFC 3834 2): when each (recipient, sender, handle) last
// got a reply, so that a sender hears at most once per period. One SQLite file under state_dir
// (vacation.db) through the shared wrapper (sqlite/database.h), so it survives a restart.
//
// It owns one connection behind a mutex: delivery jobs on several pool threads ask it, one
// claim is one small transaction. A claim that is granted is written before the reply is
// queued: a crash between the two loses that one reply rather than sending a second (RFC 3834
// prefers silence to repetition). Rows older than a year (the longest :days) are dropped now
// and then. Blocking: the delivery job only. It never logs; errors are temporary and carry
// the label "vacation database PATH".
//
// Schema (user_version 1): replies(recipient, sender, handle, last_reply), unique per triple.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "petrel/core/result.h"

namespace petrel::delivery {

class VacationStore {
 public:
  virtual ~VacationStore() = default;
  // Opens (creating) the file and its schema.
  static Result<std::unique_ptr<VacationStore>> open(const std::string& path);

  // true: no reply went from `recipient` to `sender` for `handle` within `period` seconds
  // before `now` (unix seconds); the reply is recorded as sent at `now`. false: one did.
  // Addresses compare without case.
  virtual Result<bool> claim(std::string_view recipient, std::string_view sender,
                             std::string_view handle, int64_t now, uint64_t period) = 0;
};

// The process's store for `path`, opened on its first use and shared by every delivery job
// (and every config snapshot naming the same path).
Result<std::shared_ptr<VacationStore>> sharedVacationStore(const std::string& path);

}  // namespace petrel::delivery
