// The greylist of a running server: opening the store named by greylisting.database, keeping
// it (and its counters) across reloads, the read-only view `petrel route` uses, the periodic
// cleanup and the /metrics lines. The decision and the store are policy's (policy/greylist.h);
// this file only decides when they are built and run.
#pragma once

#include <memory>
#include <string>

#include "petrel/config/config.h"
#include "petrel/event/dispatcher.h"
#include "petrel/lookup/lookup_table.h"
#include "petrel/policy/greylist.h"

namespace petrel::server {

using GreylistPtr = std::shared_ptr<const policy::Greylist>;

policy::GreylistSettings greylistSettings(const config::Greylisting& g);

// The Greylist for `cfg`: null when greylisting is off. A `previous` one (the running
// snapshot's) with the same database keeps its store, so a reload does not reopen the file;
// the settings are always `cfg`'s, the counters the process's (Metrics::greylist). Errors: the
// database cannot be opened (fatal at startup, a failed reload later).
Result<GreylistPtr> makeGreylist(const config::Config& cfg, const GreylistPtr& previous,
                                 std::shared_ptr<policy::GreylistCounters> counters);

// Does any restriction list of `cfg` name check_greylist? (An enabled greylist that no list
// uses greylists nothing: the server warns.)
bool greylistInUse(const config::Config& cfg);

// For `petrel route`: the database opened read-only (an empty one in memory when it cannot be
// opened, with a warning), recording nothing, so explaining a route never greylists anybody.
GreylistPtr inspectGreylist(const config::Config& cfg, const lookup::Warn& warn);

// Deletes a bounded batch of expired entries on `dispatcher`'s thread pool, unless the
// previous batch is still running; failures are logged. Called by the server's timer.
class GreylistSweeper {
 public:
  static constexpr size_t BatchSize = 1000;
  void sweep(const GreylistPtr& greylist, event::Dispatcher& dispatcher);

 private:
  std::shared_ptr<bool> running_ = std::make_shared<bool>(false);  // touched on the loop only
};

// The greylist's /metrics lines (Prometheus text format).
std::string greylistMetrics(const policy::GreylistCounters& counters);

}  // namespace petrel::server
