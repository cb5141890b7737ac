// Tests for the vacation memory (delivery/vacation_store.h) in a temporary directory: once per
// period per (recipient, sender, handle), case-insensitive addresses, kept across a reopen
// (a restart), a clock set back.
#include "petrel/delivery/vacation_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace petrel::delivery {
namespace {

class VacationStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/petrel-vacation-store-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path() const { return dir_ + "/vacation.db"; }
  std::string dir_;
};

constexpr uint64_t Week = 7 * 86400;

TEST_F(VacationStoreTest, OncePerPeriodPerSenderRecipientAndHandle) {
  auto store = VacationStore::open(path());
  ASSERT_TRUE(store) << store.error().message();
  auto& s = **store;
  int64_t t = 1'800'000'000;
  EXPECT_TRUE(*s.claim("alice@example.test", "bob@example.net", "h", t, Week));
  EXPECT_FALSE(*s.claim("alice@example.test", "bob@example.net", "h", t + 60, Week));
  EXPECT_FALSE(*s.claim("Alice@Example.test", "BOB@example.net", "h", t + Week - 1, Week));
  EXPECT_TRUE(*s.claim("alice@example.test", "carol@example.net", "h", t + 60, Week));
  EXPECT_TRUE(*s.claim("alice@example.test", "bob@example.net", "other", t + 60, Week));
  EXPECT_TRUE(*s.claim("dave@example.test", "bob@example.net", "h", t + 60, Week));
  EXPECT_TRUE(*s.claim("alice@example.test", "bob@example.net", "h", t + Week, Week));
  // The period starts again from the last reply.
  EXPECT_FALSE(*s.claim("alice@example.test", "bob@example.net", "h", t + Week + 10, Week));
}

TEST_F(VacationStoreTest, SurvivesAReopen) {
  int64_t t = 1'800'000'000;
  {
    auto store = VacationStore::open(path());
    ASSERT_TRUE(store);
    EXPECT_TRUE(*(*store)->claim("alice@example.test", "bob@example.net", "h", t, Week));
  }
  auto again = VacationStore::open(path());
  ASSERT_TRUE(again);
  EXPECT_FALSE(*(*again)->claim("alice@example.test", "bob@example.net", "h", t + 3600, Week));
}

TEST_F(VacationStoreTest, AClockSetBackDoesNotSilenceForGood) {
  auto store = VacationStore::open(path());
  ASSERT_TRUE(store);
  int64_t t = 1'800'000'000;
  EXPECT_TRUE(*(*store)->claim("a@x.test", "b@y.test", "h", t, Week));
  EXPECT_TRUE(*(*store)->claim("a@x.test", "b@y.test", "h", t - 86400, Week));
}

TEST_F(VacationStoreTest, AnUnwritablePlaceIsATemporaryError) {
  auto store = VacationStore::open("/proc/petrel-no-such-dir/vacation.db");
  ASSERT_FALSE(store);
  EXPECT_TRUE(store.error().temporary());
  EXPECT_NE(store.error().message().find("vacation database"), std::string::npos);
}

}  // namespace
}  // namespace petrel::delivery
