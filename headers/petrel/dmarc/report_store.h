// The aggregate-report store: one row per evaluated message (dmarc::ReportRecord) in a SQLite
// file (dmarc.reports.database, default <state_dir>/dmarc.db, mode 0600), read back per policy
// domain and period to compose the daily reports (report.h).
//
// Blocking: every call does SQLite I/O, so the server calls it on the thread pool
// (Dispatcher::offload), never on a loop. One connection behind a mutex: calls may come from
// any pool thread. WAL with synchronous=NORMAL: a crash may lose the last rows (a report
// counts a few messages less), never corrupts the file. Errors are temporary and carry the
// label "dmarc report database PATH".
//
// Schema (user_version 1):
//   messages(id, time, policy_domain, published, rua, source_ip, header_from, envelope_from,
//            envelope_to, disposition, dkim_aligned, spf_aligned, reasons, spf_domain,
//            spf_result, spf_helo, dkim), index (policy_domain, time)
//
// What it does not do: compose or send reports, decide the period (the caller gives it).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"
#include "petrel/dmarc/report.h"

namespace petrel::sqlite {
class Database;
}

namespace petrel::dmarc {

class ReportStore {
 public:
  // Opens (and creates) the file; ":memory:" for tests.
  static Result<std::unique_ptr<ReportStore>> open(const std::string& path);
  ~ReportStore();
  ReportStore(const ReportStore&) = delete;
  ReportStore& operator=(const ReportStore&) = delete;

  Status add(const ReportRecord& r);
  // The policy domains with rows in [begin, end), sorted.
  Result<std::vector<std::string>> policyDomains(int64_t begin, int64_t end);
  // The rows of one policy domain in [begin, end), in the order they were added.
  Result<std::vector<ReportRecord>> records(std::string_view policy_domain, int64_t begin,
                                            int64_t end);
  // Deletes the rows older than `before` (once their reports are sent); how many.
  Result<size_t> purge(int64_t before);

 private:
  explicit ReportStore(std::unique_ptr<sqlite::Database> db);
  std::mutex mutex_;
  std::unique_ptr<sqlite::Database> db_;
};

}  // namespace petrel::dmarc
