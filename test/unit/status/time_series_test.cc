// TrafficSeries bucketing with a fake clock (plain integers), refusal reasons, and the store's
// round trip through SQLite.
#include "petrel/status/time_series.h"

#include <gtest/gtest.h>

namespace petrel::status {
namespace {

constexpr int64_t T0 = 1'800'000'000 / 86400 * 86400;  // a day's start (UTC)

size_t idx(Counter c) { return size_t(c); }

TEST(TimeSeriesTest, MinuteSlotsOverTheLastHour) {
  TrafficSeries s;
  s.add(Counter::Received, T0 + 10);
  s.add(Counter::Received, T0 + 59);
  s.add(Counter::Received, T0 + 60);  // the next minute
  s.add(Counter::Delivered, T0 + 61, 3);
  auto hour = s.series(0, T0 + 61);
  ASSERT_EQ(hour.size(), 60u);
  EXPECT_EQ(hour.back().start, T0 + 60);
  EXPECT_EQ(hour.back().counts[idx(Counter::Received)], 1u);
  EXPECT_EQ(hour.back().counts[idx(Counter::Delivered)], 3u);
  EXPECT_EQ(hour[58].start, T0);
  EXPECT_EQ(hour[58].counts[idx(Counter::Received)], 2u);
  EXPECT_EQ(s.total(0, T0 + 61)[idx(Counter::Received)], 3u);
  // The same events in the 5-minute, hourly and daily slots.
  for (size_t a = 1; a < ArchiveCount; ++a) {
    EXPECT_EQ(s.series(a, T0 + 61).back().counts[idx(Counter::Received)], 3u) << a;
  }
}

TEST(TimeSeriesTest, OldSlotsLeaveTheWindowAndAreReused) {
  TrafficSeries s;
  s.add(Counter::Bounced, T0);
  // 61 minutes later the minute archive no longer shows it, the day archive does.
  EXPECT_EQ(s.total(0, T0 + 61 * 60)[idx(Counter::Bounced)], 0u);
  EXPECT_EQ(s.total(1, T0 + 61 * 60)[idx(Counter::Bounced)], 1u);
  // An hour later exactly, the same minute slot is written again: the old count is gone.
  s.add(Counter::Bounced, T0 + 3600);
  auto hour = s.series(0, T0 + 3600);
  EXPECT_EQ(hour.back().counts[idx(Counter::Bounced)], 1u);
  EXPECT_EQ(s.total(0, T0 + 3600)[idx(Counter::Bounced)], 1u);
  EXPECT_EQ(s.total(4, T0 + 3600)[idx(Counter::Bounced)], 2u);  // the year: both
  // A year and a day later nothing is left anywhere.
  for (size_t a = 0; a < ArchiveCount; ++a) {
    EXPECT_EQ(s.total(a, T0 + 366 * 86400)[idx(Counter::Bounced)], 0u) << a;
  }
}

TEST(TimeSeriesTest, WindowsHaveTheirSizes) {
  TrafficSeries s;
  std::array<size_t, ArchiveCount> sizes = {60, 288, 168, 720, 365};
  for (size_t a = 0; a < ArchiveCount; ++a) EXPECT_EQ(s.series(a, T0).size(), sizes[a]);
  EXPECT_EQ(archives()[3].name, "month");
}

TEST(TimeSeriesTest, ClockSetBackDoesNotEraseNewerData) {
  TrafficSeries s;
  s.add(Counter::Received, T0 + 3600);
  s.add(Counter::Received, T0);  // an hour back: the minute slot holds the newer minute
  EXPECT_EQ(s.series(0, T0 + 3600).back().counts[idx(Counter::Received)], 1u);
}

TEST(TimeSeriesTest, DirtyRowsRestoreIntoAFreshSeries) {
  TrafficSeries s;
  s.add(Counter::RejectedRelay, T0 + 5);
  s.add(Counter::Relayed, T0 + 400);
  auto rows = s.takeDirty();
  EXPECT_EQ(rows.size(), 7u);  // two minutes, two 5-minute slots, one slot in each other
  EXPECT_TRUE(s.takeDirty().empty());
  TrafficSeries back;
  for (const auto& r : rows) back.restore(r);
  for (size_t a = 0; a < ArchiveCount; ++a) {
    EXPECT_EQ(back.total(a, T0 + 400), s.total(a, T0 + 400)) << a;
  }
  // A row that does not fit the layout is ignored.
  back.restore({0, 7, T0 + 5, {}});
  EXPECT_EQ(back.total(0, T0 + 400)[idx(Counter::RejectedRelay)], 1u);
}

TEST(TimeSeriesTest, StoreRoundTrip) {
  auto store = TrafficStore::open(":memory:");
  ASSERT_TRUE(store) << store.error().message();
  TrafficSeries s;
  s.add(Counter::Received, T0, 7);
  s.add(Counter::Virus, T0 + 86400);
  ASSERT_TRUE((*store)->save(s.takeDirty()));
  s.add(Counter::Received, T0 + 1);  // the same slots again: rows replaced, not added
  ASSERT_TRUE((*store)->save(s.takeDirty()));
  auto rows = (*store)->load();
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->size(), 8u);  // the minute and 5-minute slots of a day apart are the same
  TrafficSeries back;
  for (const auto& r : *rows) back.restore(r);
  EXPECT_EQ(back.total(4, T0 + 86400)[idx(Counter::Received)], 8u);
  EXPECT_EQ(back.total(4, T0 + 86400)[idx(Counter::Virus)], 1u);
}

TEST(TimeSeriesTest, RefusalReasons) {
  EXPECT_EQ(classifyRefusal("RCPT", "554 5.7.1 <a@b.c>: Relay access denied", false),
            Counter::RejectedRelay);
  EXPECT_EQ(classifyRefusal("RCPT",
                            "550 5.1.1 <x@example.org>: Recipient address rejected: User unknown "
                            "in virtual mailbox table",
                            false),
            Counter::RejectedUnknownUser);
  EXPECT_EQ(classifyRefusal("RCPT",
                            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
                            "zen.example",
                            false),
            Counter::RejectedDnsList);
  EXPECT_EQ(classifyRefusal("RCPT",
                            "450 4.2.0 <a@b>: Recipient address rejected: Greylisted, try again "
                            "in 300 seconds",
                            false),
            Counter::RejectedGreylisted);
  EXPECT_EQ(classifyRefusal("MAIL", "550 5.7.23 <a@b>: SPF fail: ...", false),
            Counter::RejectedSpfDmarc);
  EXPECT_EQ(classifyRefusal("END-OF-MESSAGE", "550 5.7.1 rejected by DMARC policy for b", false),
            Counter::RejectedSpfDmarc);
  EXPECT_EQ(classifyRefusal("END-OF-MESSAGE", "5.7.1 no spam here", true),
            Counter::RejectedContent);
  EXPECT_EQ(classifyRefusal("DATA", "554 5.5.1 Error: no valid recipients", false),
            Counter::RejectedOther);
  EXPECT_EQ(counterName(Counter::RejectedUnknownUser), "rejected_unknown_user");
}

}  // namespace
}  // namespace petrel::status
