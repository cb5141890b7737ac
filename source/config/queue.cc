// The `queue:` section: lifetime, backoff, concurrency and the delay warning.
#include <fmt/format.h>

#include "loader.h"

namespace petrel::config::detail {

void Loader::loadQueue(const Section& top, Config& c) {
  const Field* f = top.find("queue");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly(
      {"max_lifetime", "min_backoff", "max_backoff", "delivery_concurrency", "delay_warning"});
  if (const Field* w = s.find("delay_warning")) {
    // 0 (or off) turns the warning off; any other value is a duration.
    if (w->value.IsScalar() && (w->value.Scalar() == "0" || w->value.Scalar() == "off")) {
      c.queue.delay_warning = 0;
    } else {
      setDuration(s, "delay_warning", c.queue.delay_warning);
    }
  }
  setDuration(s, "max_lifetime", c.queue.max_lifetime);
  setDuration(s, "min_backoff", c.queue.min_backoff);
  setDuration(s, "max_backoff", c.queue.max_backoff);
  setNumber(s, "delivery_concurrency", c.queue.delivery_concurrency, 0);
  if (c.queue.min_backoff > c.queue.max_backoff) {
    // One of them was set, or the defaults would be wrong; point at the one that was.
    const Field* at = s.find("min_backoff") ? s.find("min_backoff") : s.find("max_backoff");
    reporter_.add(
        at ? at->mark() : s.mark(),
        fmt::format("queue.min_backoff ({}) must not exceed queue.max_backoff ({})",
                    formatDuration(c.queue.min_backoff), formatDuration(c.queue.max_backoff)));
  }
}

}  // namespace petrel::config::detail
