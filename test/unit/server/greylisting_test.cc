// Tests for the server's greylist wiring (server/greylisting.h): nothing when greylisting is
// off, a store that a reload hands on (same database: the same store, the process's
// counters), `petrel route`'s read-only view that creates no file, and the /metrics lines.
#include "petrel/server/greylisting.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

namespace petrel::server {
namespace {

namespace fs = std::filesystem;

class GreylistingTest : public ::testing::Test {
 protected:
  GreylistingTest() {
    dir_ = fs::temp_directory_path() / fmt::format("petrel-greylisting-test-{}", ::getpid());
    fs::create_directories(dir_);
    cfg_.greylisting.enabled = true;
    cfg_.greylisting.delay = 60;
    cfg_.greylisting.database = (dir_ / "greylist.db").string();
  }
  ~GreylistingTest() override { fs::remove_all(dir_); }

  fs::path dir_;
  config::Config cfg_;
  std::shared_ptr<policy::GreylistCounters> counters_ =
      std::make_shared<policy::GreylistCounters>();
};

TEST_F(GreylistingTest, NothingWhenDisabled) {
  cfg_.greylisting.enabled = false;
  auto g = makeGreylist(cfg_, nullptr, counters_);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, nullptr);
  EXPECT_FALSE(fs::exists(cfg_.greylisting.database));
  EXPECT_EQ(inspectGreylist(cfg_, [](const std::string&) {}), nullptr);
}

TEST_F(GreylistingTest, AReloadKeepsTheStoreAndTakesTheNewSettings) {
  auto first = makeGreylist(cfg_, nullptr, counters_);
  ASSERT_TRUE(first.ok()) << first.error().message();
  ASSERT_TRUE(*first);
  EXPECT_TRUE(fs::exists(cfg_.greylisting.database));
  EXPECT_EQ((*first)->settings.delay, 60);
  EXPECT_EQ((*first)->counters, counters_);
  EXPECT_TRUE((*first)->record);

  cfg_.greylisting.delay = 120;
  auto second = makeGreylist(cfg_, *first, counters_);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)->store, (*first)->store);
  EXPECT_EQ((*second)->settings.delay, 120);

  cfg_.greylisting.database = (dir_ / "other.db").string();
  auto third = makeGreylist(cfg_, *second, counters_);
  ASSERT_TRUE(third.ok());
  EXPECT_NE((*third)->store, (*second)->store);
  EXPECT_EQ((*third)->counters, counters_);
}

TEST_F(GreylistingTest, AnUnopenableDatabaseIsAnError) {
  cfg_.greylisting.database = (dir_ / "missing" / "greylist.db").string();
  auto g = makeGreylist(cfg_, nullptr, counters_);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message().find("greylist database " + cfg_.greylisting.database),
            std::string::npos)
      << g.error().message();
}

TEST_F(GreylistingTest, RouteReadsWithoutRecordingOrCreating) {
  std::vector<std::string> warnings;
  auto view = inspectGreylist(cfg_, [&](const std::string& w) { warnings.push_back(w); });
  ASSERT_TRUE(view);
  EXPECT_FALSE(view->record);
  ASSERT_TRUE(view->store);
  EXPECT_FALSE(fs::exists(cfg_.greylisting.database));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("greylisting as if it were empty"), std::string::npos);
}

TEST_F(GreylistingTest, InUseWhenAListNamesTheCheck) {
  EXPECT_FALSE(greylistInUse(cfg_));
  config::RestrictionSet set;
  set.recipient.push_back({"permit_mynetworks", "t.yaml:1:1", "r[0]"});
  cfg_.restrictions["default"] = set;
  EXPECT_FALSE(greylistInUse(cfg_));
  cfg_.restrictions["default"].sender.push_back({"warn_if_reject check_greylist", "", ""});
  EXPECT_TRUE(greylistInUse(cfg_));
}

TEST_F(GreylistingTest, MetricsLines) {
  counters_->defer_new = 3;
  counters_->pass = 2;
  std::string text = greylistMetrics(*counters_);
  EXPECT_NE(text.find("petrel_greylist_defers_total{reason=\"new\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("petrel_greylist_defers_total{reason=\"early_retry\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("petrel_greylist_passes_total{reason=\"triplet\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE petrel_greylist_errors_total counter\n"), std::string::npos);
}

}  // namespace
}  // namespace petrel::server
