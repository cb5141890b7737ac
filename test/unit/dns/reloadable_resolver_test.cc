// ReloadableResolver over FakeResolvers: queries go to the resolver installed
// now, a replaced resolver lives exactly as long as its queries in flight
// (answered or cancelled), and the async rule of the resolver underneath is
// kept.
#include "petrel/dns/reloadable_resolver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "fakes/fake_resolver.h"

namespace petrel::dns {
namespace {

using ::testing::ElementsAre;

// A FakeResolver that tells when it is destroyed.
class WatchedResolver final : public Resolver {
 public:
  WatchedResolver(std::string zone, bool &destroyed) : fake_(zone), destroyed_(destroyed) {}
  ~WatchedResolver() override { destroyed_ = true; }
  QueryHandlePtr query(std::string name, Type type, Callback done) override {
    return fake_.query(std::move(name), type, std::move(done));
  }
  ResolverStats stats() const override { return fake_.stats(); }
  std::vector<std::string> servers() const override { return {"watched"}; }
  FakeResolver &fake() { return fake_; }

 private:
  FakeResolver fake_;
  bool &destroyed_;
};

TEST(ReloadableResolver, ForwardsToTheResolverInstalledNow) {
  bool old_gone = false, new_gone = false;
  auto old_dns = std::make_unique<WatchedResolver>("a.example A 192.0.2.1", old_gone);
  auto new_dns = std::make_unique<WatchedResolver>("a.example A 192.0.2.2", new_gone);
  WatchedResolver *old_ptr = old_dns.get();
  WatchedResolver *new_ptr = new_dns.get();
  ReloadableResolver dns(std::move(old_dns));
  std::optional<Answer> got;
  auto h = dns.query("a.example", Type::A, [&](Answer a) { got = std::move(a); });
  EXPECT_FALSE(got);
  old_ptr->fake().runPending();
  ASSERT_TRUE(got);
  EXPECT_THAT(got->addresses, ElementsAre("192.0.2.1"));
  EXPECT_EQ(dns.stats().queries, 1u);

  h.reset();
  dns.replace(std::move(new_dns));
  EXPECT_TRUE(old_gone) << "a replaced resolver with nothing in flight was kept";
  got.reset();
  h = dns.query("a.example", Type::A, [&](Answer a) { got = std::move(a); });
  new_ptr->fake().runPending();
  ASSERT_TRUE(got);
  EXPECT_THAT(got->addresses, ElementsAre("192.0.2.2"));
  EXPECT_THAT(dns.servers(), ElementsAre("watched"));
  EXPECT_EQ(dns.stats().queries, 1u);  // the new one's counters
  EXPECT_FALSE(new_gone);
}

TEST(ReloadableResolver, QueryInFlightKeepsTheReplacedResolverUntilItAnswers) {
  bool old_gone = false, new_gone = false;
  auto old_dns = std::make_unique<WatchedResolver>("a.example A 192.0.2.1", old_gone);
  WatchedResolver *old_ptr = old_dns.get();
  ReloadableResolver dns(std::move(old_dns));
  std::optional<Answer> got;
  auto h = dns.query("a.example", Type::A, [&](Answer a) { got = std::move(a); });
  dns.replace(std::make_unique<WatchedResolver>("a.example A 192.0.2.2", new_gone));
  EXPECT_FALSE(old_gone) << "replaced while its query was in flight";
  old_ptr->fake().runPending();
  ASSERT_TRUE(got) << "a reload dropped an answer";
  EXPECT_THAT(got->addresses,
              ElementsAre("192.0.2.1"));  // asked before the reload
  EXPECT_TRUE(old_gone) << "kept after its last query answered";
  h.reset();  // a handle may outlive its resolver
}

TEST(ReloadableResolver, CancelledQueryReleasesTheReplacedResolver) {
  bool old_gone = false, new_gone = false;
  ReloadableResolver dns(std::make_unique<WatchedResolver>("a.example A 192.0.2.1", old_gone));
  bool called = false;
  auto h = dns.query("a.example", Type::A, [&](Answer) { called = true; });
  dns.replace(std::make_unique<WatchedResolver>("", new_gone));
  EXPECT_FALSE(old_gone);
  h.reset();
  EXPECT_TRUE(old_gone) << "kept after its last query was cancelled";
  EXPECT_FALSE(called);
}

TEST(ReloadableResolver, ReplaceInsideACallback) {
  bool old_gone = false, new_gone = false;
  auto old_dns = std::make_unique<WatchedResolver>("a.example A 192.0.2.1", old_gone);
  WatchedResolver *old_ptr = old_dns.get();
  ReloadableResolver dns(std::move(old_dns));
  bool old_alive_in_callback = false;
  auto h = dns.query("a.example", Type::A, [&](Answer) {
    dns.replace(std::make_unique<WatchedResolver>("", new_gone));
    old_alive_in_callback = !old_gone;
  });
  old_ptr->fake().runPending();
  EXPECT_TRUE(old_alive_in_callback);
  EXPECT_TRUE(old_gone);
  EXPECT_FALSE(new_gone);
}

TEST(ReloadableResolver, CloseDropsTheResolverAndLaterQueriesNeverCallBack) {
  bool gone = false;
  ReloadableResolver dns(std::make_unique<WatchedResolver>("a.example A 192.0.2.1", gone));
  dns.close();
  EXPECT_TRUE(gone);
  auto token = std::make_shared<int>(0);
  auto h = dns.query("a.example", Type::A, [token](Answer) { ADD_FAILURE() << "called back"; });
  EXPECT_EQ(token.use_count(), 1) << "the callback of a query after close() was kept";
  EXPECT_TRUE(dns.servers().empty());
  EXPECT_EQ(dns.stats().queries, 0u);
}

}  // namespace
}  // namespace petrel::dns
