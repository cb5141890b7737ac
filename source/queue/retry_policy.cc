// RetryPolicy; see queue/retry_policy.h.
#include "petrel/queue/retry_policy.h"

#include <algorithm>

namespace petrel::queue {

uint64_t backoff(const config::Queue& q, int64_t attempts) {
  uint64_t d = q.min_backoff;
  for (int64_t i = 1; i < attempts && d < q.max_backoff; ++i) d *= 2;
  return std::min(d, q.max_backoff);
}

bool expired(const config::Queue& q, int64_t arrival_unix, int64_t now) {
  return now - arrival_unix > int64_t(q.max_lifetime);
}

RetryDecision decideRetry(const RetryInput& in, const config::Queue& q, int64_t now) {
  RetryDecision d;
  if (in.permanent) {
    d.action = RetryDecision::Action::Bounce;
    return d;
  }
  if (expired(q, in.arrival_unix, now)) {
    d.action = RetryDecision::Action::Bounce;
    d.expired = true;
    return d;
  }
  int64_t age = now - in.arrival_unix;
  d.next_attempt = now + int64_t(backoff(q, in.attempts + 1));
  d.warn_delay = q.delay_warning > 0 && age >= int64_t(q.delay_warning) && !in.delay_warned;
  return d;
}

}  // namespace petrel::queue
