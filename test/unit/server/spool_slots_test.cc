// SpoolSlots: reuse without unlinking, recovery after a crash.
#include "petrel/server/spool_slots.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>

namespace petrel::server {
namespace {

class SpoolSlotsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/petrel-spool-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  void touch(const std::string& name) { std::ofstream(dir_ + "/" + name) << "x"; }
  bool exists(const std::string& name) { return access((dir_ + "/" + name).c_str(), F_OK) == 0; }
  std::string dir_;
};

TEST_F(SpoolSlotsTest, ReleasedSlotsAreReusedBeforeNewOnesAreMade) {
  SpoolSlots slots(dir_);
  auto a = slots.acquire();
  auto b = slots.acquire();
  EXPECT_NE(a.path, b.path);
  slots.release(a.path);
  EXPECT_EQ(slots.acquire().path, a.path);
  EXPECT_EQ(slots.freeCount(), 0u);
  auto c = slots.acquire();
  EXPECT_NE(c.path, a.path);
  EXPECT_NE(c.path, b.path);
}

TEST_F(SpoolSlotsTest, RecoveryFreesUnnamedSlotsKeepsBusyOnesAndRemovesStrangers) {
  touch("slot-0");
  touch("slot-4");
  touch("0123456789AB");  // a spool file from an older layout, named by nobody
  SpoolSlots slots(dir_);
  slots.recover({dir_ + "/slot-4"});
  EXPECT_EQ(slots.freeCount(), 1u);
  EXPECT_TRUE(exists("slot-0"));   // free slots stay on disk, to be overwritten
  EXPECT_TRUE(exists("slot-4"));
  EXPECT_FALSE(exists("0123456789AB"));
  EXPECT_EQ(slots.acquire().path, dir_ + "/slot-0");
  // New slots are numbered past every existing one: never a busy slot's name.
  std::set<std::string> fresh{slots.acquire().path, slots.acquire().path};
  EXPECT_EQ(fresh, (std::set<std::string>{dir_ + "/slot-5", dir_ + "/slot-6"}));
}

}  // namespace
}  // namespace petrel::server
