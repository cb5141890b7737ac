// FakeResolver (test/fakes/fake_resolver.h): the zone grammar, the answers it
// gives (the shape of the real resolver's: statuses, records, canonical names,
// TTLs, errors), the queries it records, and the async rule: no callback inside
// query(), none after the handle is destroyed.
#include "fakes/fake_resolver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <uv.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "petrel/event/dispatcher.h"

namespace petrel::dns {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr const char *Zone = R"(
# mail for example.org
example.org        MX 10 mx.example.org
example.org        MX 20 backup.example.org
mx.example.org     A  192.0.2.1
mx.example.org     A  192.0.2.2
mx.example.org     AAAA 2001:0DB8::1
example.org 3600   TXT "v=spf1 " "ip4:192.0.2.0/24 -all"   ; one record, two strings
example.org        TXT "hash # and ; inside"
1.2.0.192.in-addr.arpa PTR mx.example.org.
www.example.org 60 CNAME mx.example.org
loop1.example.org  CNAME loop2.example.org
loop2.example.org  CNAME loop1.example.org
deep.sub.example.net A 192.0.2.9
bad.example        SERVFAIL
slow.example       TIMEOUT
gone.example 900   NXDOMAIN
null.example       MX 0 .
)";

// Asks once and delivers; the one answer.
Answer ask(FakeResolver &dns, const std::string &name, Type type) {
  std::optional<Answer> got;
  auto handle = dns.query(name, type, [&](Answer a) { got = std::move(a); });
  EXPECT_FALSE(got) << "answered inside query()";
  EXPECT_EQ(dns.runPending(), 1u);
  EXPECT_TRUE(got) << "no answer from runPending()";
  return got.value_or(Answer{});
}

TEST(FakeResolver, AnswersRecordsOfEachType) {
  FakeResolver dns(Zone);
  Answer mx = ask(dns, "Example.ORG.", Type::MX);
  EXPECT_EQ(mx.status, Answer::Status::Found);
  EXPECT_THAT(mx.mx,
              ElementsAre(MxRecord{10, "mx.example.org"}, MxRecord{20, "backup.example.org"}));
  EXPECT_EQ(mx.ttl, 300u);
  EXPECT_EQ(mx.canonical_name, "example.org");
  EXPECT_TRUE(mx.addresses.empty() && mx.txt.empty() && mx.ptr.empty());

  EXPECT_THAT(ask(dns, "mx.example.org", Type::A).addresses, ElementsAre("192.0.2.1", "192.0.2.2"));
  EXPECT_THAT(ask(dns, "mx.example.org", Type::AAAA).addresses, ElementsAre("2001:db8::1"));
  Answer txt = ask(dns, "example.org", Type::TXT);
  EXPECT_THAT(txt.txt, ElementsAre("v=spf1 ip4:192.0.2.0/24 -all", "hash # and ; inside"));
  EXPECT_EQ(txt.ttl, 300u);  // the smallest of the records
  EXPECT_THAT(ask(dns, "1.2.0.192.in-addr.arpa", Type::PTR).ptr, ElementsAre("mx.example.org"));
  EXPECT_THAT(ask(dns, "null.example", Type::MX).mx, ElementsAre(MxRecord{0, "."}));
}

TEST(FakeResolver, AnswersNs) {
  FakeResolver dns("example.org NS ns1.example.org\nexample.org NS ns2.example.net\n");
  EXPECT_THAT(ask(dns, "example.org", Type::NS).ns, ElementsAre("ns1.example.org", "ns2.example.net"));
  EXPECT_EQ(ask(dns, "example.org", Type::A).status, Answer::Status::NoData);
}

TEST(FakeResolver, FollowsCnames) {
  FakeResolver dns(Zone);
  Answer a = ask(dns, "www.example.org", Type::A);
  EXPECT_EQ(a.status, Answer::Status::Found);
  EXPECT_EQ(a.canonical_name, "mx.example.org");
  EXPECT_EQ(a.ttl, 60u);  // the alias's TTL is smaller than the records'
  EXPECT_THAT(a.addresses, ElementsAre("192.0.2.1", "192.0.2.2"));

  Answer none = ask(dns, "www.example.org", Type::TXT);
  EXPECT_EQ(none.status, Answer::Status::NoData);
  EXPECT_EQ(none.canonical_name, "mx.example.org");

  Answer loop = ask(dns, "loop1.example.org", Type::A);
  EXPECT_EQ(loop.status, Answer::Status::TempFail);
  EXPECT_THAT(loop.error, HasSubstr("CNAME loop at loop1.example.org"));
  EXPECT_THAT(dns.queries(),
              ElementsAre("www.example.org A", "www.example.org TXT", "loop1.example.org A"));
}

TEST(FakeResolver, NxDomainIsNotNoData) {
  FakeResolver dns(Zone);
  Answer nodata = ask(dns, "mx.example.org", Type::MX);
  EXPECT_EQ(nodata.status, Answer::Status::NoData);
  EXPECT_EQ(nodata.ttl, 0u);
  // A name with only names below it exists too (RFC 8020).
  EXPECT_EQ(ask(dns, "sub.example.net", Type::A).status, Answer::Status::NoData);

  Answer unknown = ask(dns, "nobody.example.org", Type::A);
  EXPECT_EQ(unknown.status, Answer::Status::NxDomain);
  EXPECT_EQ(unknown.canonical_name, "nobody.example.org");
  EXPECT_EQ(unknown.ttl, 0u);

  Answer gone = ask(dns, "gone.example", Type::MX);
  EXPECT_EQ(gone.status, Answer::Status::NxDomain);
  EXPECT_EQ(gone.ttl, 900u);
  EXPECT_TRUE(gone.error.empty());

  // As the real resolver: a name that cannot exist is NxDomain with the reason,
  // no data asked.
  Answer bad = ask(dns, "bad..name", Type::A);
  EXPECT_EQ(bad.status, Answer::Status::NxDomain);
  EXPECT_THAT(bad.error, HasSubstr("empty label"));
}

TEST(FakeResolver, ServfailAndTimeoutAreTemporary) {
  FakeResolver dns(Zone);
  Answer servfail = ask(dns, "bad.example", Type::MX);
  EXPECT_EQ(servfail.status, Answer::Status::TempFail);
  EXPECT_EQ(servfail.ttl, 0u);
  EXPECT_EQ(servfail.error, "bad.example MX: SERVFAIL from fake");
  EXPECT_FALSE(servfail.found());
  Answer timeout = ask(dns, "slow.example", Type::A);
  EXPECT_EQ(timeout.status, Answer::Status::TempFail);
  EXPECT_THAT(timeout.error, HasSubstr("timeout"));
}

TEST(FakeResolver, NeverAnswersInsideQueryAndInOrder) {
  FakeResolver dns(Zone);
  std::vector<std::string> order;
  auto h1 = dns.query("example.org", Type::MX, [&](Answer) { order.push_back("mx"); });
  auto h2 = dns.query("mx.example.org", Type::A, [&](Answer) { order.push_back("a"); });
  EXPECT_TRUE(order.empty());
  EXPECT_EQ(dns.pending(), 2u);
  EXPECT_EQ(dns.runPending(), 2u);
  EXPECT_THAT(order, ElementsAre("mx", "a"));
  EXPECT_EQ(dns.pending(), 0u);
  EXPECT_EQ(dns.runPending(), 0u);  // each callback runs once
  EXPECT_EQ(order.size(), 2u);
}

TEST(FakeResolver, QueriesAskedFromCallbacksAreDeliveredByTheSameRun) {
  FakeResolver dns(Zone);
  QueryHandlePtr mx, a;
  std::vector<std::string> addresses;
  mx = dns.query("example.org", Type::MX, [&](Answer m) {
    a = dns.query(m.mx.front().exchange, Type::A, [&](Answer r) { addresses = r.addresses; });
    EXPECT_TRUE(addresses.empty()) << "answered inside query() from a callback";
  });
  EXPECT_EQ(dns.runPending(), 2u);
  EXPECT_THAT(addresses, ElementsAre("192.0.2.1", "192.0.2.2"));
  EXPECT_THAT(dns.queries(), ElementsAre("example.org MX", "mx.example.org A"));
  EXPECT_EQ(dns.stats().queries, 2u);
}

TEST(FakeResolver, CancelledQueryNeverCallsBackAndDropsItsCallback) {
  FakeResolver dns(Zone);
  auto token = std::make_shared<int>(0);
  bool called = false;
  auto handle = dns.query("example.org", Type::MX, [&, token](Answer) { called = true; });
  EXPECT_EQ(token.use_count(), 2);
  handle.reset();
  EXPECT_EQ(token.use_count(), 1) << "the callback was kept after cancel";
  EXPECT_EQ(dns.pending(), 0u);
  EXPECT_EQ(dns.runPending(), 0u);
  EXPECT_FALSE(called);
}

TEST(FakeResolver, HandleMayBeDestroyedInsideItsCallbackAndOutliveTheFake) {
  auto dns = std::make_unique<FakeResolver>(Zone);
  QueryHandlePtr handle;
  int calls = 0;
  handle = dns->query("example.org", Type::MX, [&](Answer) {
    ++calls;
    handle.reset();
  });
  EXPECT_EQ(dns->runPending(), 1u);
  EXPECT_EQ(calls, 1);
  auto late = dns->query("example.org", Type::MX, [&](Answer) { ++calls; });
  dns.reset();
  late.reset();
  EXPECT_EQ(calls, 1);
}

TEST(FakeResolver, MayBeDestroyedInsideACallback) {
  auto dns = std::make_unique<FakeResolver>(Zone);
  int calls = 0;
  auto first = dns->query("example.org", Type::MX, [&](Answer) {
    ++calls;
    dns.reset();
  });
  auto second = dns->query("example.org", Type::MX, [&](Answer) { ++calls; });
  EXPECT_EQ(dns->runPending(), 1u);
  EXPECT_EQ(calls, 1);
}

TEST(FakeResolver, DeliversOnADispatcherLoop) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    event::Dispatcher dispatcher(&loop);
    FakeResolver dns(Zone);
    dns.deliverOn(dispatcher);
    std::optional<Answer> got;
    bool cancelled_called = false;
    auto handle = dns.query("mx.example.org", Type::A, [&](Answer a) { got = std::move(a); });
    auto cancelled = dns.query("example.org", Type::MX, [&](Answer) { cancelled_called = true; });
    cancelled.reset();
    EXPECT_FALSE(got);
    EXPECT_EQ(dns.pending(), 0u);  // nothing waits for runPending()
    uv_run(&loop, UV_RUN_NOWAIT);
    ASSERT_TRUE(got);
    EXPECT_THAT(got->addresses, ElementsAre("192.0.2.1", "192.0.2.2"));
    EXPECT_FALSE(cancelled_called);
    dispatcher.close();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

TEST(FakeResolver, ZoneErrorsNameTheLine) {
  FakeResolver dns;
  auto bad_mx = dns.load("example.org A 192.0.2.1\nexample.org MX mx.example.org\n");
  ASSERT_FALSE(bad_mx);
  EXPECT_EQ(bad_mx.error().message(), "line 2: MX needs a preference and an exchange");
  EXPECT_EQ(ask(dns, "example.org", Type::A).status, Answer::Status::NxDomain)
      << "part of a zone with an error was loaded";
  EXPECT_THAT(dns.load("x.example A 2001:db8::1").error().message(),
              HasSubstr("not an IPv4 address"));
  EXPECT_THAT(dns.load("x.example SRV 0 0 25 mx").error().message(), HasSubstr("unknown type"));
  EXPECT_THAT(dns.load("x.example TXT \"open").error().message(), HasSubstr("unterminated"));
  EXPECT_THAT(dns.load("x.example").error().message(), HasSubstr("no record type"));
  EXPECT_THAT(dns.load("x..example A 192.0.2.1").error().message(), HasSubstr("empty label"));
  EXPECT_TRUE(dns.load("x.example A 192.0.2.7  # later additions are fine"));
  EXPECT_THAT(ask(dns, "x.example", Type::A).addresses, ElementsAre("192.0.2.7"));
}

}  // namespace
}  // namespace petrel::dns
