// RetryPolicy: what happens to a recipient after a failed attempt, as a pure function of the
// attempt and the queue settings (Postfix's minimal_backoff_time, maximal_backoff_time,
// maximal_queue_lifetime, delay_warning_time). No clock of its own: `now` is passed in.
//
//   5xx (the agent bounced it)          -> bounce now
//   4xx, message older than max_lifetime -> bounce, "message expired in queue" (4.4.7)
//   4xx otherwise                        -> retry at now + backoff(attempts + 1), and a delay
//                                           warning when delay_warning is on, the message is
//                                           at least that old and none was sent for it yet
// backoff(n) doubles from min_backoff for each attempt after the first, up to max_backoff.
// Whether the sender asked for the DSN (NOTIFY) is the queue's business, not this one's.
#pragma once

#include <cstdint>

#include "petrel/config/config.h"

namespace petrel::queue {

struct RetryInput {
  int64_t attempts = 0;       // attempts before this one
  int64_t arrival_unix = 0;   // when the message was queued
  bool permanent = false;     // this attempt failed permanently (5xx)
  bool delay_warned = false;  // a delay warning already named this recipient
};

struct RetryDecision {
  enum class Action { Retry, Bounce };
  Action action = Action::Retry;
  bool expired = false;      // Bounce because of max_lifetime, not a 5xx
  int64_t next_attempt = 0;  // Retry: unix seconds
  bool warn_delay = false;   // Retry: a delay warning is due now
};

// Seconds to wait after `attempts` attempts (attempts <= 1: min_backoff).
uint64_t backoff(const config::Queue& q, int64_t attempts);

// Whether a message that arrived at `arrival_unix` has outlived max_lifetime at `now`.
bool expired(const config::Queue& q, int64_t arrival_unix, int64_t now);

RetryDecision decideRetry(const RetryInput& in, const config::Queue& q, int64_t now);

}  // namespace petrel::queue
