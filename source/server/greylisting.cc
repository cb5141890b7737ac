// The greylist of a running server; see headers/petrel/server/greylisting.h.
#include "petrel/server/greylisting.h"

#include <fmt/format.h>

#include "petrel/core/strings.h"
#include "petrel/log/mail_log.h"

namespace petrel::server {

policy::GreylistSettings greylistSettings(const config::Greylisting& g) {
  policy::GreylistSettings s;
  s.delay = int64_t(g.delay);
  s.max_age = int64_t(g.max_age);
  s.auto_whitelist_after = g.auto_whitelist_after;
  s.ipv4_prefix = int(g.ipv4_prefix);
  s.ipv6_prefix = int(g.ipv6_prefix);
  return s;
}

Result<GreylistPtr> makeGreylist(const config::Config& cfg, const GreylistPtr& previous,
                                 std::shared_ptr<policy::GreylistCounters> counters) {
  if (!cfg.greylisting.enabled) return GreylistPtr();
  auto g = std::make_shared<policy::Greylist>();
  g->settings = greylistSettings(cfg.greylisting);
  if (counters) g->counters = std::move(counters);
  const std::string wanted = fmt::format("greylist database {}", cfg.greylisting.database);
  if (previous && previous->store && previous->store->describe() == wanted) {
    g->store = previous->store;
    return GreylistPtr(std::move(g));
  }
  auto store = policy::openGreylistStore(cfg.greylisting.database);
  if (!store) return Error::config(store.error().message());
  g->store = std::move(store.value());
  return GreylistPtr(std::move(g));
}

bool greylistInUse(const config::Config& cfg) {
  for (const auto& [name, set] : cfg.restrictions) {
    for (const auto& [stage, checks] : set.stages()) {
      for (const config::CheckSpec& check : *checks) {
        std::string_view text = trim(check.text);
        // Also inside "warn_if_reject check_greylist".
        if (text == "check_greylist" || text.ends_with(" check_greylist")) return true;
      }
    }
  }
  return false;
}

GreylistPtr inspectGreylist(const config::Config& cfg, const lookup::Warn& warn) {
  if (!cfg.greylisting.enabled) return nullptr;
  auto g = std::make_shared<policy::Greylist>();
  g->settings = greylistSettings(cfg.greylisting);
  g->record = false;
  auto store = policy::openGreylistStore(cfg.greylisting.database, true);
  if (!store) {
    warn(fmt::format("{}; greylisting as if it were empty", store.error().message()));
    store = policy::openGreylistStore(":memory:");
  }
  if (store) g->store = std::move(store.value());
  return g;
}

void GreylistSweeper::sweep(const GreylistPtr& greylist, event::Dispatcher& dispatcher) {
  if (!greylist || !greylist->store || *running_) return;
  *running_ = true;
  auto result = std::make_shared<Result<size_t>>(size_t{0});
  dispatcher.offload(
      [greylist, result] {
        *result = greylist->store->expire(greylist->settings, greylist->clock(), BatchSize);
      },
      [running = running_, result, greylist] {
        *running = false;
        if (!*result) {
          log::mail::warning(log::Program::Master,
                             fmt::format("greylist cleanup: {}", result->error().message()));
        }
      });
}

std::string greylistMetrics(const policy::GreylistCounters& c) {
  std::string out;
  out += "# HELP petrel_greylist_defers_total Recipients deferred by check_greylist (450 4.2.0).\n";
  out += "# TYPE petrel_greylist_defers_total counter\n";
  out += fmt::format("petrel_greylist_defers_total{{reason=\"new\"}} {}\n", c.defer_new.load());
  out += fmt::format("petrel_greylist_defers_total{{reason=\"early_retry\"}} {}\n",
                     c.defer_early.load());
  out += "# HELP petrel_greylist_passes_total Recipients check_greylist let through.\n";
  out += "# TYPE petrel_greylist_passes_total counter\n";
  out += fmt::format("petrel_greylist_passes_total{{reason=\"triplet\"}} {}\n", c.pass.load());
  out += fmt::format("petrel_greylist_passes_total{{reason=\"auto_whitelist\"}} {}\n",
                     c.whitelisted.load());
  out +=
      fmt::format("petrel_greylist_passes_total{{reason=\"local_client\"}} {}\n", c.skipped.load());
  out += "# HELP petrel_greylist_cached_passes_total Passes answered from the in-memory cache "
         "of passed triplets (no database read; counted in passes_total too).\n";
  out += "# TYPE petrel_greylist_cached_passes_total counter\n";
  out += fmt::format("petrel_greylist_cached_passes_total {}\n", c.cached.load());
  out += "# HELP petrel_greylist_errors_total Greylist database failures (answered 451 4.3.0).\n";
  out += "# TYPE petrel_greylist_errors_total counter\n";
  out += fmt::format("petrel_greylist_errors_total {}\n", c.errors.load());
  return out;
}

}  // namespace petrel::server
