// qshape's table: buckets, rows per recipient domain, the text layout (golden) and JSON.
#include "petrel/status/queue_shape.h"

#include <gtest/gtest.h>

namespace petrel::status {
namespace {

constexpr int64_t Now = 1'800'000'000;

TEST(QueueShapeTest, BucketsDoubleFromFiveMinutes) {
  EXPECT_EQ(shapeBucket(0), 0u);
  EXPECT_EQ(shapeBucket(-30), 0u);  // clock set back
  EXPECT_EQ(shapeBucket(5 * 60 - 1), 0u);
  EXPECT_EQ(shapeBucket(5 * 60), 1u);
  EXPECT_EQ(shapeBucket(19 * 60), 2u);
  EXPECT_EQ(shapeBucket(1279 * 60), 8u);
  EXPECT_EQ(shapeBucket(1280 * 60), 9u);
  EXPECT_EQ(shapeBucket(100 * 86400), 9u);
  EXPECT_EQ(shapeLabels().front(), "5");
  EXPECT_EQ(shapeLabels().back(), "1280+");
}

std::vector<ShapeMessage> sample() {
  return {
      {"deferred", Now - 2 * 60, {"a@Example.COM", "b@example.com", "c@other.org"}},
      {"deferred", Now - 30 * 60, {"d@other.org"}},
      {"deferred", Now - 2 * 86400, {"e@example.com"}},
      {"active", Now - 10, {"f@here.test"}},
      {"hold", Now - 700 * 60, {"g@x.test"}},
  };
}

TEST(QueueShapeTest, RowsPerDomainTotalFirst) {
  auto t = queueShape(sample(), Now);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].queue, "active");
  EXPECT_EQ(t[1].queue, "deferred");
  EXPECT_EQ(t[2].queue, "hold");
  const auto& d = t[1].rows;
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].domain, "TOTAL");
  EXPECT_EQ(d[0].total, 5u);  // recipients, not messages
  EXPECT_EQ(d[1].domain, "example.com");  // lower-cased, 3 recipients
  EXPECT_EQ(d[1].total, 3u);
  EXPECT_EQ(d[1].buckets[0], 2u);
  EXPECT_EQ(d[1].buckets[9], 1u);
  EXPECT_EQ(d[2].domain, "other.org");
  EXPECT_EQ(d[2].buckets[0], 1u);
  EXPECT_EQ(d[2].buckets[3], 1u);  // 30 minutes: the 20-40 bucket
  EXPECT_EQ(t[2].rows[1].buckets[8], 1u);  // 700 minutes: 640-1280
}

TEST(QueueShapeTest, TextLayout) {
  auto t = queueShape(sample(), Now, {"deferred", "active"});
  EXPECT_EQ(shapeText(t),
            "queue: deferred\n"
            "            T 5 10 20 40 80 160 320 640 1280 1280+\n"
            "      TOTAL 5 3  0  0  1  0   0   0   0    0     1\n"
            "example.com 3 2  0  0  0  0   0   0   0    0     1\n"
            "  other.org 2 1  0  0  1  0   0   0   0    0     0\n"
            "\n"
            "queue: active\n"
            "          T 5 10 20 40 80 160 320 640 1280 1280+\n"
            "    TOTAL 1 1  0  0  0  0   0   0   0    0     0\n"
            "here.test 1 1  0  0  0  0   0   0   0    0     0\n"
            "\n");
}

TEST(QueueShapeTest, EmptyQueueAndJson) {
  auto t = queueShape({}, Now, {"hold"});
  ASSERT_EQ(t[0].rows.size(), 1u);
  EXPECT_EQ(t[0].rows[0].total, 0u);
  EXPECT_EQ(shapeJson(t),
            "{\"buckets\":[\"5\",\"10\",\"20\",\"40\",\"80\",\"160\",\"320\",\"640\",\"1280\","
            "\"1280+\"],\"queues\":[{\"queue\":\"hold\",\"rows\":[{\"domain\":\"TOTAL\","
            "\"total\":0,\"buckets\":[0,0,0,0,0,0,0,0,0,0]}]}]}\n");
}

TEST(QueueShapeTest, DomainRowsAreBounded) {
  std::vector<ShapeMessage> many;
  for (int i = 0; i < 50; ++i) {
    many.push_back({"active", Now, {"u@d" + std::to_string(i) + ".test"}});
  }
  auto t = queueShape(many, Now, {"active"}, 10);
  EXPECT_EQ(t[0].rows.size(), 11u);
  EXPECT_EQ(t[0].rows[0].total, 50u);
}

}  // namespace
}  // namespace petrel::status
