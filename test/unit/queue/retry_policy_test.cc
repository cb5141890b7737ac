// Tests for the retry policy (source/queue/retry_policy.cc): backoff doubling, expiry,
// 5xx bounces and the one delay warning, against a fake clock (`now` passed in).
#include "petrel/queue/retry_policy.h"

#include <gtest/gtest.h>

namespace petrel::queue {
namespace {

using Action = RetryDecision::Action;

// A clock the test moves by hand.
struct FakeClock {
  int64_t now = 1'700'000'000;
  void advance(int64_t seconds) { now += seconds; }
};

config::Queue settings() {
  config::Queue q;
  q.min_backoff = 300;
  q.max_backoff = 4 * 3600;
  q.max_lifetime = 5 * 86400;
  q.delay_warning = 4 * 3600;
  return q;
}

TEST(RetryPolicy, BackoffDoublesFromMinToMax) {
  config::Queue q = settings();
  EXPECT_EQ(backoff(q, 0), 300u);
  EXPECT_EQ(backoff(q, 1), 300u);
  EXPECT_EQ(backoff(q, 2), 600u);
  EXPECT_EQ(backoff(q, 3), 1200u);
  EXPECT_EQ(backoff(q, 6), 9600u);
  EXPECT_EQ(backoff(q, 7), 14400u);  // 19200 capped
  EXPECT_EQ(backoff(q, 1000), 14400u);
  q.min_backoff = 20000;  // a minimum above the maximum: the maximum wins
  EXPECT_EQ(backoff(q, 1), 14400u);
}

TEST(RetryPolicy, TemporaryFailureRetriesAfterTheBackoffOfThisAttempt) {
  FakeClock clock;
  config::Queue q = settings();
  RetryInput in;
  in.arrival_unix = clock.now;
  clock.advance(10);
  RetryDecision first = decideRetry(in, q, clock.now);
  EXPECT_EQ(first.action, Action::Retry);
  EXPECT_FALSE(first.expired);
  EXPECT_EQ(first.next_attempt, clock.now + 300);
  EXPECT_FALSE(first.warn_delay);
  in.attempts = 2;  // the third attempt failed
  EXPECT_EQ(decideRetry(in, q, clock.now).next_attempt, clock.now + 1200);
}

TEST(RetryPolicy, PermanentFailureBouncesAtOnce) {
  FakeClock clock;
  RetryInput in;
  in.arrival_unix = clock.now;
  in.permanent = true;
  RetryDecision d = decideRetry(in, settings(), clock.now);
  EXPECT_EQ(d.action, Action::Bounce);
  EXPECT_FALSE(d.expired);
}

TEST(RetryPolicy, BouncesOnceOlderThanMaxLifetime) {
  FakeClock clock;
  config::Queue q = settings();
  RetryInput in;
  in.arrival_unix = clock.now;
  in.attempts = 40;
  clock.advance(int64_t(q.max_lifetime));
  EXPECT_EQ(decideRetry(in, q, clock.now).action, Action::Retry);  // exactly the lifetime
  EXPECT_FALSE(expired(q, in.arrival_unix, clock.now));
  clock.advance(1);
  RetryDecision d = decideRetry(in, q, clock.now);
  EXPECT_EQ(d.action, Action::Bounce);
  EXPECT_TRUE(d.expired);
  EXPECT_TRUE(expired(q, in.arrival_unix, clock.now));
}

TEST(RetryPolicy, DelayWarningOnceWhenOldEnough) {
  FakeClock clock;
  config::Queue q = settings();
  RetryInput in;
  in.arrival_unix = clock.now;
  clock.advance(int64_t(q.delay_warning) - 1);
  EXPECT_FALSE(decideRetry(in, q, clock.now).warn_delay);
  clock.advance(1);
  EXPECT_TRUE(decideRetry(in, q, clock.now).warn_delay);
  in.delay_warned = true;  // it went out: never again
  clock.advance(3600);
  EXPECT_FALSE(decideRetry(in, q, clock.now).warn_delay);
  in.delay_warned = false;
  q.delay_warning = 0;  // off
  EXPECT_FALSE(decideRetry(in, q, clock.now).warn_delay);
}

}  // namespace
}  // namespace petrel::queue
