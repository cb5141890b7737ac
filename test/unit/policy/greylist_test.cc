// Tests for built-in greylisting (policy/greylist.h, checks/greylist.cc): triplets and sender
// normalisation, the SQLite store on a fake clock (first sight, early retry, pass after the
// delay, expiry after max_age, auto-whitelisting of a client network, /24 and /64 networks,
// the bounded cleanup, a file reopened, the in-memory cache of passed triplets), and
// check_greylist in a restriction list (reply text, mynetworks and authenticated clients,
// offload, store failure, the config error without a greylist). Hermetic: an in-memory
// database or a file in a temporary directory, no sleeps.
#include "petrel/policy/greylist.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "petrel/policy/restrictions.h"

namespace petrel::policy {
namespace {

using Kind = GreylistAnswer::Kind;

constexpr int64_t Start = 1'800'000'000;  // some Unix time
constexpr int64_t Day = 86400;

GreylistSettings settings() {
  GreylistSettings s;  // delay 5m, max_age 2d, auto-whitelist after 5, /24 and /64
  return s;
}

Triplet triplet(std::string ip, std::string sender = "alice@example.net",
                std::string recipient = "bob@example.org") {
  auto t = makeTriplet(ip, sender, recipient, settings());
  EXPECT_TRUE(t.has_value()) << ip;
  return t.value_or(Triplet{});
}

GreylistStorePtr memoryStore() {
  auto s = openGreylistStore(":memory:");
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message());
  return s.ok() ? *s : nullptr;
}

GreylistAnswer visit(GreylistStore& store, const Triplet& t, int64_t now,
                     const GreylistSettings& s = settings()) {
  auto a = store.visit(t, s, now);
  EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.error().message());
  return a.ok() ? *a : GreylistAnswer{};
}

TEST(GreylistTest, ClientNetworks) {
  GreylistSettings s = settings();
  EXPECT_EQ(clientNetwork("192.0.2.77", s), "192.0.2.0/24");
  EXPECT_EQ(clientNetwork("::ffff:192.0.2.77", s), "192.0.2.0/24");
  EXPECT_EQ(clientNetwork("2001:db8:1:2:aaaa:bbbb:cccc:dddd", s), "2001:db8:1:2::/64");
  s.ipv4_prefix = 32;  // postgrey --lookup-by-host
  s.ipv6_prefix = 48;
  EXPECT_EQ(clientNetwork("192.0.2.77", s), "192.0.2.77/32");
  EXPECT_EQ(clientNetwork("2001:db8:1:2::1", s), "2001:db8:1::/48");
  s.ipv4_prefix = 20;
  EXPECT_EQ(clientNetwork("192.0.47.1", s), "192.0.32.0/20");
  EXPECT_EQ(clientNetwork("unknown", s), std::nullopt);
  EXPECT_EQ(clientNetwork("192.0.2.1/24", s), std::nullopt);
}

TEST(GreylistTest, SenderNormalisation) {
  EXPECT_EQ(normalizeSender("Alice@Example.NET"), "alice@example.net");
  EXPECT_EQ(normalizeSender(""), "");  // the null sender
  EXPECT_EQ(normalizeSender("list+bounces-1234@lists.example"), "list@lists.example");
  EXPECT_EQ(normalizeSender("bounce-12345-67@example.com"), "bounce-#-#@example.com");
  EXPECT_EQ(normalizeSender("user2024@example.com"), "user2024@example.com");
  EXPECT_EQ(normalizeSender("12ab.34@example.com"), "12ab.#@example.com");
  EXPECT_EQ(normalizeSender("prvs=0123456789=alice@example.com"), "alice@example.com");
  EXPECT_EQ(normalizeSender("prvs=alice=0123456789@example.com"), "alice@example.com");
  EXPECT_EQ(normalizeSender("MAILER-DAEMON"), "mailer-daemon");
  Triplet t = triplet("192.0.2.1", "Alice+News@Example.net", "Bob@Example.ORG");
  EXPECT_EQ(t.network, "192.0.2.0/24");
  EXPECT_EQ(t.sender, "alice@example.net");
  EXPECT_EQ(t.recipient, "bob@example.org");
}

TEST(GreylistTest, FirstSightEarlyRetryThenPass) {
  GreylistStorePtr store = memoryStore();
  ASSERT_TRUE(store);
  Triplet t = triplet("192.0.2.1");
  GreylistAnswer first = visit(*store, t, Start);
  EXPECT_EQ(first.kind, Kind::DeferNew);
  EXPECT_EQ(first.wait, 300);
  GreylistAnswer early = visit(*store, t, Start + 120);
  EXPECT_EQ(early.kind, Kind::DeferEarly);
  EXPECT_EQ(early.wait, 180);  // counted from the first sight, not the last retry
  EXPECT_EQ(visit(*store, t, Start + 299).kind, Kind::DeferEarly);
  EXPECT_EQ(visit(*store, t, Start + 300).kind, Kind::Pass);
  // Once passed, every later message passes at once, also a day later.
  EXPECT_EQ(visit(*store, t, Start + Day).kind, Kind::Pass);
  // Another host of the same /24 is the same triplet.
  EXPECT_EQ(visit(*store, triplet("192.0.2.200"), Start + Day + 1).kind, Kind::Pass);
  // Another network, sender or recipient is not.
  EXPECT_EQ(visit(*store, triplet("192.0.3.1"), Start + Day).kind, Kind::DeferNew);
  EXPECT_EQ(visit(*store, triplet("192.0.2.1", "carol@example.net"), Start + Day).kind,
            Kind::DeferNew);
  EXPECT_EQ(
      visit(*store, triplet("192.0.2.1", "alice@example.net", "dave@example.org"), Start + Day)
          .kind,
      Kind::DeferNew);
}

TEST(GreylistTest, Ipv6ClientsShareTheirSlash64) {
  GreylistStorePtr store = memoryStore();
  ASSERT_TRUE(store);
  EXPECT_EQ(visit(*store, triplet("2001:db8:0:1::25"), Start).kind, Kind::DeferNew);
  // A client that retries from another address of its /64 (privacy addresses, pools).
  EXPECT_EQ(visit(*store, triplet("2001:db8:0:1:ffff::9"), Start + 400).kind, Kind::Pass);
  EXPECT_EQ(visit(*store, triplet("2001:db8:0:2::25"), Start + 400).kind, Kind::DeferNew);
}

TEST(GreylistTest, EntriesExpireAfterMaxAge) {
  GreylistStorePtr store = memoryStore();
  ASSERT_TRUE(store);
  Triplet pending = triplet("192.0.2.1", "pending@example.net");
  Triplet passed = triplet("192.0.2.1", "passed@example.net");
  visit(*store, pending, Start);
  visit(*store, passed, Start);
  EXPECT_EQ(visit(*store, passed, Start + 600).kind, Kind::Pass);
  // Seen within max_age: remembered (max_age counts from the last sight).
  EXPECT_EQ(visit(*store, passed, Start + 600 + 2 * Day).kind, Kind::Pass);
  // A retry that comes after max_age starts over, as does a passed triplet not seen since.
  EXPECT_EQ(visit(*store, pending, Start + 2 * Day + 1).kind, Kind::DeferNew);
  EXPECT_EQ(visit(*store, passed, Start + 600 + 4 * Day + 1).kind, Kind::DeferNew);
}

TEST(GreylistTest, CleanupDeletesExpiredRowsInBoundedBatches) {
  GreylistStorePtr store = memoryStore();
  ASSERT_TRUE(store);
  for (int i = 0; i < 5; ++i) {
    visit(*store, triplet("192.0.2.1", fmt::format("old{}@example.net", i)), Start);
  }
  visit(*store, triplet("192.0.2.1", "young@example.net"), Start + Day);
  GreylistSettings s = settings();
  int64_t later = Start + 2 * Day + 1;
  auto first = store->expire(s, later, 3);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, 3u);
  auto second = store->expire(s, later, 3);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, 2u);
  auto third = store->expire(s, later, 3);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(*third, 0u);
  // The young triplet is still there: its early retry stays early.
  EXPECT_EQ(visit(*store, triplet("192.0.2.1", "young@example.net"), Start + Day + 10).kind,
            Kind::DeferEarly);
}

TEST(GreylistTest, ANetworkIsWhitelistedAfterEnoughPassedTriplets) {
  GreylistStorePtr store = memoryStore();
  ASSERT_TRUE(store);
  auto sender = [](int i) { return fmt::format("user{}@example.net", char('a' + i)); };
  for (int i = 0; i < 5; ++i) {
    Triplet t = triplet("192.0.2.1", sender(i));
    EXPECT_EQ(visit(*store, t, Start + i * 1000).kind, Kind::DeferNew);
    EXPECT_EQ(visit(*store, t, Start + i * 1000 + 300).kind, Kind::Pass);
    // A second message of a passed triplet does not count again; after the fifth pass the
    // network's whitelist entry answers first.
    EXPECT_EQ(visit(*store, t, Start + i * 1000 + 301).kind,
              i < 4 ? Kind::Pass : Kind::Whitelisted);
    if (i == 3) {
      // Four are not enough.
      EXPECT_EQ(visit(*store, triplet("192.0.2.9", "new@example.net"), Start + 3302).kind,
                Kind::DeferNew);
    }
  }
  // Five triplets passed from 192.0.2.0/24: any sender from any host of it passes at once.
  EXPECT_EQ(visit(*store, triplet("192.0.2.77", "stranger@example.com"), Start + 6000).kind,
            Kind::Whitelisted);
  EXPECT_EQ(visit(*store, triplet("192.0.3.1", "stranger@example.com"), Start + 6000).kind,
            Kind::DeferNew);
  // Off: never whitelisted.
  GreylistSettings off = settings();
  off.auto_whitelist_after = 0;
  EXPECT_EQ(visit(*store, triplet("192.0.2.77", "other@example.com"), Start + 6000, off).kind,
            Kind::DeferNew);
  // The whitelist entry expires like a triplet, max_age after its last use.
  EXPECT_EQ(
      visit(*store, triplet("192.0.2.77", "late@example.com"), Start + 6000 + 2 * Day + 1).kind,
      Kind::DeferNew);
}

TEST(GreylistTest, AClockThatWentBackDoesNotDeferForever) {
  GreylistStep step =
      decideGreylist(TripletState{Start + 1000, Start + 1000, 0}, std::nullopt, Start, settings());
  EXPECT_EQ(step.answer.kind, Kind::DeferEarly);
  EXPECT_EQ(step.answer.wait, 300);
  ASSERT_TRUE(step.triplet.has_value());
  EXPECT_EQ(step.triplet->first_seen, Start);
}

TEST(GreylistTest, AKnownGoodTripletIsWrittenAtMostOncePerTouchInterval) {
  GreylistSettings s = settings();
  TripletState passed{Start - 1000, Start, 1};
  GreylistStep soon = decideGreylist(passed, std::nullopt, Start + 59, s);
  EXPECT_EQ(soon.answer.kind, Kind::Pass);
  EXPECT_FALSE(soon.triplet.has_value());  // read only
  EXPECT_FALSE(soon.network.has_value());
  GreylistStep later = decideGreylist(passed, std::nullopt, Start + 60, s);
  EXPECT_EQ(later.answer.kind, Kind::Pass);
  ASSERT_TRUE(later.triplet.has_value());
  EXPECT_EQ(later.triplet->last_seen, Start + 60);
  EXPECT_EQ(later.triplet->passes, 2);
  // The first pass is always written: it counts for the network.
  GreylistStep first =
      decideGreylist(TripletState{Start, Start + 299, 0}, std::nullopt, Start + 300, s);
  EXPECT_EQ(first.answer.kind, Kind::Pass);
  ASSERT_TRUE(first.network.has_value());
  EXPECT_EQ(first.network->passes, 1);
  // A whitelisted network likewise.
  NetworkState white{5, Start};
  EXPECT_FALSE(decideGreylist(std::nullopt, white, Start + 30, s).network.has_value());
  EXPECT_EQ(decideGreylist(std::nullopt, white, Start + 30, s).answer.kind, Kind::Whitelisted);
  EXPECT_TRUE(decideGreylist(std::nullopt, white, Start + 60, s).network.has_value());
}

TEST(GreylistTest, AFileKeepsItsTripletsAcrossReopening) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / fmt::format("petrel-greylist-test-{}", ::getpid());
  std::filesystem::create_directories(dir);
  std::string path = (dir / "greylist.db").string();
  Triplet t = triplet("192.0.2.1");
  {
    auto store = openGreylistStore(path);
    ASSERT_TRUE(store.ok()) << store.error().message();
    EXPECT_EQ(visit(**store, t, Start).kind, Kind::DeferNew);
  }
  {
    // Read-only (`petrel route`): answers, records nothing.
    auto view = openGreylistStore(path, true);
    ASSERT_TRUE(view.ok()) << view.error().message();
    EXPECT_EQ(visit(**view, triplet("192.0.2.1", "x@example.net"), Start + 1).kind, Kind::DeferNew);
    EXPECT_EQ(visit(**view, t, Start + 400).kind, Kind::Pass);
  }
  {
    auto store = openGreylistStore(path);
    ASSERT_TRUE(store.ok()) << store.error().message();
    EXPECT_EQ(visit(**store, triplet("192.0.2.1", "x@example.net"), Start + 2).kind,
              Kind::DeferNew);  // the read-only visit left no row
    EXPECT_EQ(visit(**store, t, Start + 400).kind, Kind::Pass);
  }
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  std::filesystem::remove_all(dir);
}

TEST(GreylistPassCacheTest, KeepsTheMostRecentlyUsedTripletsAndSharesNetworkRows) {
  GreylistPassCache cache(2);
  Triplet a = triplet("192.0.2.1", "a@example.net");
  Triplet b = triplet("192.0.2.2", "b@example.net");  // the same /24 as a
  Triplet c = triplet("198.51.100.1", "c@example.net");
  cache.remember(a, {TripletState{Start, Start + 300, 1}, NetworkState{1, Start + 300}});
  cache.remember(b, {TripletState{Start, Start + 310, 1}, NetworkState{2, Start + 310}});
  // One network row for both: b's write is what a now sees.
  ASSERT_TRUE(cache.find(a).has_value());
  EXPECT_EQ(cache.find(a)->network->passes, 2);
  cache.remember(c, {TripletState{Start, Start + 320, 1}, std::nullopt});
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.find(b).has_value());  // least recently used (a was found since)
  EXPECT_TRUE(cache.find(a).has_value());
  EXPECT_FALSE(cache.find(c)->network.has_value());
  cache.forget(a);
  EXPECT_FALSE(cache.find(a).has_value());
  EXPECT_EQ(cache.size(), 1u);
}

TEST(GreylistTest, AKnownCorrespondentIsAnsweredFromMemoryUntilItMustBeWritten) {
  GreylistStorePtr store = memoryStore();
  GreylistSettings s = settings();
  Triplet t = triplet("192.0.2.1");
  EXPECT_FALSE(store->visitCached(t, s, Start).has_value());  // never seen
  EXPECT_EQ(visit(*store, t, Start).kind, Kind::DeferNew);
  EXPECT_FALSE(store->visitCached(t, s, Start + 1).has_value());  // deferred: not cached
  EXPECT_EQ(visit(*store, t, Start + 300).kind, Kind::Pass);      // written and cached
  auto cached = store->visitCached(t, s, Start + 330);
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(cached->kind, Kind::Pass);
  // touch_interval later the sight must be recorded: the store is asked again.
  EXPECT_FALSE(store->visitCached(t, s, Start + 360).has_value());
  EXPECT_EQ(visit(*store, t, Start + 360).kind, Kind::Pass);
  EXPECT_TRUE(store->visitCached(t, s, Start + 361).has_value());
  // Not seen for max_age: expired, first sight again, whatever memory holds.
  EXPECT_FALSE(store->visitCached(t, s, Start + 361 + 3 * Day).has_value());
  EXPECT_EQ(visit(*store, t, Start + 361 + 3 * Day).kind, Kind::DeferNew);
  EXPECT_FALSE(store->visitCached(t, s, Start + 362 + 3 * Day).has_value());
}

// ---- check_greylist ----------------------------------------------------------------------------

class FailingStore final : public GreylistStore {
 public:
  Result<GreylistAnswer> visit(const Triplet&, const GreylistSettings&, int64_t, bool) override {
    return Error::temporary("greylist database x: disk I/O error");
  }
  Result<size_t> expire(const GreylistSettings&, int64_t, size_t) override { return size_t{0}; }
  std::string describe() const override { return "failing"; }
};

class CheckGreylistTest : public ::testing::Test {
 protected:
  CheckGreylistTest() {
    greylist_->store = memoryStore();
    greylist_->clock = [this] { return now_; };
  }

  RestrictionList list(const std::vector<std::string>& checks) {
    std::vector<Cidr> blocks{Cidr::parse("127.0.0.1/32").value()};
    CheckEnvironment env{CidrList(blocks)};
    env.greylist = greylist_;
    auto r = RestrictionList::parse(Stage::Recipient, checks, env);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
    return r.ok() ? std::move(r).value() : RestrictionList();
  }

  // Evaluates with an offload that queues the work, as a loop would; runs it afterwards.
  Decision evaluate(const RestrictionList& l, std::string client_ip, std::string sasl_user = "",
                    std::string recipient = "bob@example.org") {
    PolicyContext ctx;
    ctx.client_ip = std::move(client_ip);
    ctx.sasl_user = std::move(sasl_user);
    ctx.sender = "alice@example.net";
    ctx.recipient = std::move(recipient);
    ctx.is_our_destination = [](std::string_view d) { return d == "example.org"; };
    std::vector<std::pair<std::function<void()>, std::function<void()>>> queued;
    ctx.offload = [&queued](std::function<void()> work, std::function<void()> done) {
      queued.emplace_back(std::move(work), std::move(done));
    };
    std::optional<Decision> out;
    l.evaluate(ctx, [&out](Decision d) { out = std::move(d); });
    offloads_ = queued.size();
    while (!queued.empty()) {
      EXPECT_FALSE(out.has_value()) << "answered before its offloaded work ran";
      auto [work, done] = std::move(queued.front());
      queued.erase(queued.begin());
      work();
      done();
    }
    EXPECT_TRUE(out.has_value());
    return out.value_or(Decision{});
  }

  int64_t now_ = Start;
  std::shared_ptr<Greylist> greylist_ = std::make_shared<Greylist>();
  size_t offloads_ = 0;
};

TEST_F(CheckGreylistTest, DefersThenPassesWithPostfixReplies) {
  RestrictionList l = list({"permit_mynetworks", "reject_unauth_destination", "check_greylist"});
  Decision d = evaluate(l, "192.0.2.1");
  EXPECT_EQ(offloads_, 1u);
  EXPECT_EQ(d.kind, Decision::Kind::Defer);
  EXPECT_EQ(d.code, 450);
  EXPECT_EQ(d.enhanced, "4.2.0");
  EXPECT_EQ(d.text,
            "<bob@example.org>: Recipient address rejected: Greylisted, try again in "
            "300 seconds");
  EXPECT_EQ(d.rule, "check_greylist");
  now_ += 299;
  d = evaluate(l, "192.0.2.1");
  EXPECT_EQ(d.code, 450);
  EXPECT_EQ(d.text,
            "<bob@example.org>: Recipient address rejected: Greylisted, try again in "
            "1 second");
  now_ += 1;
  d = evaluate(l, "192.0.2.1");
  // Passed: the check says nothing and the list goes on (to its implicit end here).
  EXPECT_EQ(d.kind, Decision::Kind::Dunno);
  EXPECT_EQ(greylist_->counters->defer_new.load(), 1u);
  EXPECT_EQ(greylist_->counters->defer_early.load(), 1u);
  EXPECT_EQ(greylist_->counters->pass.load(), 1u);
  // The next message of the triplet is answered from memory, on the loop.
  now_ += 10;
  d = evaluate(l, "192.0.2.1");
  EXPECT_EQ(d.kind, Decision::Kind::Dunno);
  EXPECT_EQ(offloads_, 0u);
  EXPECT_EQ(greylist_->counters->pass.load(), 2u);
  EXPECT_EQ(greylist_->counters->cached.load(), 1u);
  // A relay attempt never reaches the greylist.
  d = evaluate(l, "192.0.2.1", "", "victim@elsewhere.example");
  EXPECT_EQ(d.code, 554);
  EXPECT_EQ(offloads_, 0u);
}

TEST_F(CheckGreylistTest, MynetworksAndAuthenticatedClientsAreNeverGreylisted) {
  // First in the list, where an admin might put it.
  RestrictionList l = list({"check_greylist", "permit_mynetworks", "permit_sasl_authenticated",
                            "reject_unauth_destination"});
  Decision d = evaluate(l, "127.0.0.1", "", "x@elsewhere.example");
  EXPECT_EQ(d.kind, Decision::Kind::Permit);
  EXPECT_EQ(d.rule, "permit_mynetworks");
  d = evaluate(l, "192.0.2.1", "alice", "x@elsewhere.example");
  EXPECT_EQ(d.kind, Decision::Kind::Permit);
  EXPECT_EQ(d.rule, "permit_sasl_authenticated");
  EXPECT_EQ(offloads_, 0u);
  EXPECT_EQ(greylist_->counters->skipped.load(), 2u);
  d = evaluate(l, "192.0.2.1");
  EXPECT_EQ(d.code, 450);
}

TEST_F(CheckGreylistTest, AStoreFailureIsATemporaryFailure) {
  greylist_->store = std::make_shared<FailingStore>();
  RestrictionList l = list({"check_greylist"});
  Decision d = evaluate(l, "192.0.2.1");
  EXPECT_EQ(d.kind, Decision::Kind::Defer);
  EXPECT_EQ(d.code, 451);
  EXPECT_EQ(d.enhanced, "4.3.0");
  EXPECT_EQ(d.text, "<bob@example.org>: Temporary lookup failure");
  EXPECT_EQ(greylist_->counters->errors.load(), 1u);
}

TEST_F(CheckGreylistTest, WithoutRecordingNothingIsStored) {
  greylist_->record = false;
  RestrictionList l = list({"check_greylist"});
  EXPECT_EQ(evaluate(l, "192.0.2.1").code, 450);
  now_ += 600;
  EXPECT_EQ(evaluate(l, "192.0.2.1").code, 450);  // still first sight
}

TEST(CheckGreylistConfigTest, NeedsGreylistingEnabled) {
  auto r = RestrictionList::parse(Stage::Recipient, {"check_greylist"}, CheckEnvironment{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), Error::Kind::Config);
  EXPECT_EQ(r.error().message(),
            "check_greylist: greylisting is not enabled (set greylisting.enabled: true)");
  EXPECT_FALSE(RestrictionList::parse(Stage::Recipient, {"check_greylist x"}, {}).ok());
}

}  // namespace
}  // namespace petrel::policy
