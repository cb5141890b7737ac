// The DMARC aggregate report job (dmarc.reports, RFC 7489 7.2): the rows the
// Authentication-Results stage recorded (dmarc/report_store.h) become one report per policy
// domain, mailed to the domain's rua= addresses through the queue, and are then deleted.
//
// tick() runs once a minute on the main loop; the first tick of each UTC day (and the first
// after start) sends the rows of the days that ended. run(all) is `petrel dmarc send-reports`:
// every row, also today's. One run at a time. The store is read, the reports composed
// (report.h, report_mail.h) on the thread pool; external destinations (another
// organizational domain) are checked in the DNS on the main loop (7.1), over a resolver made
// for the run from dns.servers; the mails are queued in one journal transaction
// (QueueManager::inject), and only then are the rows deleted, so a crash in between sends a
// report twice rather than never.
//
// What it does not do: failure reports (ruf=), report intervals other than a day (ri= is
// read, not honoured: 7.2 lets receivers report daily), compression.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "petrel/core/result.h"
#include "petrel/event/dispatcher.h"
#include "petrel/server/runtime.h"

namespace petrel::server {

class QueueManager;

class DmarcReportJob {
 public:
  DmarcReportJob(event::Dispatcher& main, Runtime& rt, QueueManager& queue);
  ~DmarcReportJob();
  DmarcReportJob(const DmarcReportJob&) = delete;
  DmarcReportJob& operator=(const DmarcReportJob&) = delete;

  // Once a minute: a new UTC day since the last run sends the finished days' rows.
  void tick();
  // Sends the rows before the start of the current UTC day, or every row when `all`; `done`
  // (main loop): how many report mails were queued.
  void run(bool all, std::function<void(Result<size_t>)> done);

 private:
  struct Batch;
  void authorize(std::shared_ptr<Batch> batch);
  void queue(std::shared_ptr<Batch> batch);
  void finish(std::shared_ptr<Batch> batch, Result<size_t> result);

  event::Dispatcher& main_;
  Runtime& rt_;
  QueueManager& queue_;
  bool running_ = false;
  int64_t last_day_ = -1;  // the UTC day (unix time / 86400) of the last tick's run
};

}  // namespace petrel::server
