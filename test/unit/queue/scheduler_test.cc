// Tests for queue::Scheduler (source/queue/scheduler.cc): ready, active, deferred and held
// messages, due times from a fake clock, hold and release while a job runs.
#include "petrel/queue/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace petrel::queue {
namespace {

using Ids = std::vector<std::string>;

TEST(Scheduler, ReadyMessagesAreTakenInArrivalOrderAndBecomeActive) {
  Scheduler s;
  s.addReady("A", 1);
  s.addReady("B", 2);
  s.addReady("C", 3);
  EXPECT_EQ(s.readyListed(), 3u);
  EXPECT_EQ(s.take(2), (Ids{"A", "B"}));
  EXPECT_TRUE(s.active("A"));
  EXPECT_EQ(s.take(5), (Ids{"C"}));
  EXPECT_TRUE(s.take(5).empty());
  Scheduler::Counts c = s.counts();
  EXPECT_EQ(c.messages, 3u);
  EXPECT_EQ(c.active, 3u);
  EXPECT_EQ(c.oldest_arrival_us, 1);
}

TEST(Scheduler, DeferredMessagesComeOutWhenDue) {
  int64_t now = 1000;  // the fake clock
  Scheduler s;
  s.addReady("A", 1);
  s.addReady("B", 2);
  ASSERT_EQ(s.take(2), (Ids{"A", "B"}));
  s.finished("A", now + 300);
  s.finished("B", now + 600);
  EXPECT_EQ(s.counts().deferred, 2u);
  s.due(now + 299);
  EXPECT_TRUE(s.take(5).empty());
  s.due(now + 300);
  EXPECT_EQ(s.take(5), (Ids{"A"}));
  s.due(now + 10000);
  EXPECT_EQ(s.take(5), (Ids{"B"}));
}

TEST(Scheduler, HoldWhileActiveTakesEffectWhenTheJobFinishes) {
  Scheduler s;
  s.addReady("A", 1);
  ASSERT_EQ(s.take(1), (Ids{"A"}));
  s.hold("A");
  EXPECT_TRUE(s.active("A"));  // the job goes on
  s.finished("A", 2000);
  EXPECT_EQ(s.counts().held, 1u);
  s.due(5000);
  EXPECT_TRUE(s.take(5).empty());  // held: not due whatever the time
  s.release("A");
  EXPECT_EQ(s.take(5), (Ids{"A"}));
}

TEST(Scheduler, ReleaseWhileActiveCancelsTheHold) {
  Scheduler s;
  s.addReady("A", 1);
  ASSERT_EQ(s.take(1), (Ids{"A"}));
  s.hold("A");
  s.release("A");
  s.finished("A", 2000);
  EXPECT_EQ(s.counts().deferred, 1u);
}

TEST(Scheduler, HoldOfADeferredMessageOutlivesItsDueTime) {
  Scheduler s;
  s.addDeferred("A", 1, 2000);
  s.hold("A");
  s.due(3000);  // its stale entry is skipped
  EXPECT_TRUE(s.take(5).empty());
  EXPECT_EQ(s.counts().held, 1u);
  s.release("A");
  EXPECT_EQ(s.take(5), (Ids{"A"}));
}

TEST(Scheduler, DeferAfterAFailedJobIgnoresAHoldRequest) {
  Scheduler s;
  s.addReady("A", 1);
  ASSERT_EQ(s.take(1), (Ids{"A"}));
  s.hold("A");
  s.defer("A", 2000);  // the job could not read the queue: try again
  EXPECT_EQ(s.counts().deferred, 1u);
  s.due(2000);
  ASSERT_EQ(s.take(1), (Ids{"A"}));
  s.finished("A", 5000);  // the request still stands
  EXPECT_EQ(s.counts().held, 1u);
}

TEST(Scheduler, FlushMakesEveryDeferredMessageReady) {
  Scheduler s;
  s.addDeferred("A", 1, 9000);
  s.addDeferred("B", 2, 8000);
  s.addHeld("C", 3);
  s.flush();
  Ids taken = s.take(5);
  std::sort(taken.begin(), taken.end());
  EXPECT_EQ(taken, (Ids{"A", "B"}));
  EXPECT_EQ(s.counts().held, 1u);
}

TEST(Scheduler, ErasedMessagesAreSkippedAndForgotten) {
  Scheduler s;
  s.addReady("A", 1);
  s.addReady("B", 2);
  s.erase("A");
  EXPECT_FALSE(s.contains("A"));
  EXPECT_EQ(s.readyListed(), 2u);  // listed, but skipped when taken
  EXPECT_EQ(s.take(5), (Ids{"B"}));
  s.finished("A", 100);  // a late result for a removed message changes nothing
  EXPECT_FALSE(s.contains("A"));
  EXPECT_EQ(s.ids(), (Ids{"B"}));
}

}  // namespace
}  // namespace petrel::queue
