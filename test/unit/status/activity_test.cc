// ActivityLog: bounded ring, newest first, search, and fields made safe.
#include "petrel/status/activity.h"

#include <gtest/gtest.h>

namespace petrel::status {
namespace {

ActivityEntry entry(int64_t t, std::string id, std::string to, std::string client = "") {
  ActivityEntry e;
  e.time = t;
  e.kind = "delivered";
  e.id = std::move(id);
  e.address = std::move(to);
  e.client = std::move(client);
  return e;
}

TEST(ActivityTest, RingKeepsTheNewest) {
  ActivityLog log(3);
  for (int i = 0; i < 5; ++i) log.add(entry(i, "ID" + std::to_string(i), "a@b"));
  EXPECT_EQ(log.size(), 3u);
  auto all = log.latest("", 10);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, "ID4");
  EXPECT_EQ(all[2].id, "ID2");
  EXPECT_EQ(log.latest("", 1).size(), 1u);
}

TEST(ActivityTest, SearchesAddressIdAndClient) {
  ActivityLog log;
  log.add(entry(1, "3F2A91C04B10", "Bob@Example.org"));
  log.add(entry(2, "NOQUEUE", "eve@evil.test", "unknown[192.0.2.7]"));
  EXPECT_EQ(log.latest("bob@example", 10).size(), 1u);
  EXPECT_EQ(log.latest("3f2a", 10).size(), 1u);
  EXPECT_EQ(log.latest("192.0.2.7", 10).at(0).address, "eve@evil.test");
  EXPECT_TRUE(log.latest("nobody", 10).empty());
}

TEST(ActivityTest, FieldsAreBoundedAndClean) {
  ActivityLog log;
  log.add(entry(1, "X", std::string(1000, 'a') + "\r\n"));
  log.add(entry(2, "Y", "a\x1b[31m@b"));
  auto all = log.latest("", 10);
  EXPECT_EQ(all[1].address.size(), ActivityLog::MaxField);
  EXPECT_EQ(all[0].address, "a?[31m@b");
}

}  // namespace
}  // namespace petrel::status
