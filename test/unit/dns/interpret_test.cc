// interpret / rejectReason: what a response means for the query (answers built as plain
// wire::Message values; wire_test covers getting them from octets).
#include "../../../source/dns/interpret.h"

#include <gtest/gtest.h>

namespace petrel::dns {
namespace {

using wire::Message;
using wire::Record;

Record rr(std::string owner, uint16_t type, uint32_t ttl, std::string data, uint16_t pref = 0) {
  Record r;
  r.owner = std::move(owner);
  r.type = type;
  r.klass = wire::ClassIN;
  r.ttl = ttl;
  r.data = std::move(data);
  r.preference = pref;
  return r;
}

Record soa(std::string zone, uint32_t ttl, uint32_t minimum) {
  Record r = rr(std::move(zone), wire::TypeSOA, ttl, "ns.example.org");
  r.soa_minimum = minimum;
  return r;
}

Message response(std::string qname, Type type, uint16_t rcode = wire::NoError) {
  Message m;
  m.id = 77;
  m.qr = true;
  m.rd = m.ra = true;
  m.rcode = rcode;
  m.questions.push_back({std::move(qname), uint16_t(type), wire::ClassIN});
  return m;
}

// ---- rejectReason --------------------------------------------------------------------------

TEST(DnsReject, AcceptsTheMatchingResponse) {
  EXPECT_EQ(rejectReason(response("example.org", Type::A), 77, "example.org", wire::TypeA),
            std::nullopt);
}

TEST(DnsReject, WrongId) {
  auto why = rejectReason(response("example.org", Type::A), 78, "example.org", wire::TypeA);
  ASSERT_TRUE(why);
  EXPECT_EQ(*why, "id 77 instead of 78");
}

TEST(DnsReject, QrBitClear) {
  Message m = response("example.org", Type::A);
  m.qr = false;
  EXPECT_TRUE(rejectReason(m, 77, "example.org", wire::TypeA));
}

TEST(DnsReject, OtherOpcode) {
  Message m = response("example.org", Type::A);
  m.opcode = 4;  // NOTIFY
  EXPECT_TRUE(rejectReason(m, 77, "example.org", wire::TypeA));
}

TEST(DnsReject, QuestionMustMatchNameTypeAndClass) {
  EXPECT_TRUE(rejectReason(response("evil.example", Type::A), 77, "example.org", wire::TypeA));
  EXPECT_TRUE(rejectReason(response("example.org", Type::MX), 77, "example.org", wire::TypeA));
  Message chaos = response("example.org", Type::A);
  chaos.questions[0].klass = 3;
  EXPECT_TRUE(rejectReason(chaos, 77, "example.org", wire::TypeA));
  Message two = response("example.org", Type::A);
  two.questions.push_back(two.questions[0]);
  EXPECT_TRUE(rejectReason(two, 77, "example.org", wire::TypeA));
}

TEST(DnsReject, MissingQuestionOnlyForAnswersWithoutData) {
  Message tc = response("example.org", Type::TXT);
  tc.questions.clear();
  tc.tc = true;
  EXPECT_EQ(rejectReason(tc, 77, "example.org", wire::TypeTXT), std::nullopt);
  Message formerr = response("example.org", Type::TXT, wire::FormErr);
  formerr.questions.clear();
  EXPECT_EQ(rejectReason(formerr, 77, "example.org", wire::TypeTXT), std::nullopt);
  Message data = response("example.org", Type::A);
  data.questions.clear();
  data.answer.push_back(rr("example.org", wire::TypeA, 60, "192.0.2.1"));
  EXPECT_TRUE(rejectReason(data, 77, "example.org", wire::TypeA));
  Message nx = response("example.org", Type::A, wire::NxDomain);
  nx.questions.clear();
  EXPECT_TRUE(rejectReason(nx, 77, "example.org", wire::TypeA));
}

// ---- interpret: data -----------------------------------------------------------------------

TEST(DnsInterpret, AddressesWithTheSmallestTtl) {
  Message m = response("example.org", Type::A);
  m.answer = {rr("example.org", wire::TypeA, 300, "192.0.2.1"),
              rr("example.org", wire::TypeA, 120, "192.0.2.2")};
  Outcome o = interpret(m, "example.org", Type::A);
  ASSERT_EQ(o.kind, Outcome::Kind::Final);
  EXPECT_EQ(o.answer.status, Answer::Status::Found);
  EXPECT_EQ(o.answer.addresses, (std::vector<std::string>{"192.0.2.1", "192.0.2.2"}));
  EXPECT_EQ(o.answer.ttl, 120u);
  EXPECT_EQ(o.answer.canonical_name, "example.org");
}

TEST(DnsInterpret, Aaaa) {
  Message m = response("example.org", Type::AAAA);
  m.answer = {rr("example.org", wire::TypeAAAA, 60, "2001:db8::1")};
  Outcome o = interpret(m, "example.org", Type::AAAA);
  EXPECT_EQ(o.answer.status, Answer::Status::Found);
  EXPECT_EQ(o.answer.addresses, std::vector<std::string>{"2001:db8::1"});
}

TEST(DnsInterpret, MxKeepsServerOrder) {
  Message m = response("example.org", Type::MX);
  m.answer = {rr("example.org", wire::TypeMX, 300, "mx2.example.org", 20),
              rr("example.org", wire::TypeMX, 300, "mx1.example.org", 10)};
  Outcome o = interpret(m, "example.org", Type::MX);
  ASSERT_EQ(o.answer.status, Answer::Status::Found);
  EXPECT_EQ(o.answer.mx, (std::vector<MxRecord>{{20, "mx2.example.org"}, {10, "mx1.example.org"}}));
}

TEST(DnsInterpret, TxtAndPtr) {
  Message t = response("example.org", Type::TXT);
  t.answer = {rr("example.org", wire::TypeTXT, 300, "v=spf1 -all"),
              rr("example.org", wire::TypeTXT, 300, "")};
  EXPECT_EQ(interpret(t, "example.org", Type::TXT).answer.txt,
            (std::vector<std::string>{"v=spf1 -all", ""}));
  Message p = response("1.2.0.192.in-addr.arpa", Type::PTR);
  p.answer = {rr("1.2.0.192.in-addr.arpa", wire::TypePTR, 300, "host.example.org")};
  EXPECT_EQ(interpret(p, "1.2.0.192.in-addr.arpa", Type::PTR).answer.ptr,
            std::vector<std::string>{"host.example.org"});
  Message ns = response("example.org", Type::NS);
  ns.answer = {rr("example.org", wire::TypeNS, 300, "ns1.example.org"),
               rr("example.org", wire::TypeNS, 300, "ns2.example.net")};
  EXPECT_EQ(interpret(ns, "example.org", Type::NS).answer.ns,
            (std::vector<std::string>{"ns1.example.org", "ns2.example.net"}));
}

TEST(DnsInterpret, CnameChainInOneResponse) {
  Message m = response("www.example.org", Type::A);
  m.answer = {rr("www.example.org", wire::TypeCNAME, 600, "web.example.net"),
              rr("web.example.net", wire::TypeCNAME, 90, "lb.example.com"),
              rr("lb.example.com", wire::TypeA, 300, "192.0.2.9")};
  Outcome o = interpret(m, "www.example.org", Type::A);
  ASSERT_EQ(o.kind, Outcome::Kind::Final);
  EXPECT_EQ(o.answer.status, Answer::Status::Found);
  EXPECT_EQ(o.answer.addresses, std::vector<std::string>{"192.0.2.9"});
  EXPECT_EQ(o.answer.canonical_name, "lb.example.com");
  EXPECT_EQ(o.answer.ttl, 90u);  // the weakest link of the chain
  EXPECT_EQ(o.hops, 2);
}

TEST(DnsInterpret, CnameWithoutTheTargetsDataIsChased) {
  Message m = response("www.example.org", Type::MX);
  m.answer = {rr("www.example.org", wire::TypeCNAME, 600, "elsewhere.example.net")};
  Outcome o = interpret(m, "www.example.org", Type::MX);
  ASSERT_EQ(o.kind, Outcome::Kind::Chase);
  EXPECT_EQ(o.chase_to, "elsewhere.example.net");
  EXPECT_EQ(o.chain_ttl, 600u);
  EXPECT_EQ(o.hops, 1);
}

TEST(DnsInterpret, CnameToANameWithNoDataIsNoData) {
  Message m = response("www.example.org", Type::AAAA);
  m.answer = {rr("www.example.org", wire::TypeCNAME, 600, "v4only.example.net")};
  m.authority = {soa("example.net", 900, 300)};
  Outcome o = interpret(m, "www.example.org", Type::AAAA);
  ASSERT_EQ(o.kind, Outcome::Kind::Final);
  EXPECT_EQ(o.answer.status, Answer::Status::NoData);
  EXPECT_EQ(o.answer.canonical_name, "v4only.example.net");
  EXPECT_EQ(o.answer.ttl, 300u);
}

TEST(DnsInterpret, CnameToANameThatDoesNotExist) {
  // RFC 6604: the rcode describes the end of the chain.
  Message m = response("www.example.org", Type::A, wire::NxDomain);
  m.answer = {rr("www.example.org", wire::TypeCNAME, 600, "gone.example.net")};
  m.authority = {soa("example.net", 900, 60)};
  Outcome o = interpret(m, "www.example.org", Type::A);
  EXPECT_EQ(o.answer.status, Answer::Status::NxDomain);
  EXPECT_EQ(o.answer.ttl, 60u);
  EXPECT_EQ(o.answer.canonical_name, "gone.example.net");
}

TEST(DnsInterpret, CnameLoop) {
  Message m = response("a.example.org", Type::A);
  m.answer = {rr("a.example.org", wire::TypeCNAME, 60, "b.example.org"),
              rr("b.example.org", wire::TypeCNAME, 60, "a.example.org")};
  Outcome o = interpret(m, "a.example.org", Type::A);
  ASSERT_EQ(o.kind, Outcome::Kind::Final);
  EXPECT_EQ(o.answer.status, Answer::Status::TempFail);
  EXPECT_EQ(o.answer.error, "CNAME loop at a.example.org");
}

TEST(DnsInterpret, CnameChainLongerThanTheLimit) {
  Message m = response("c0.example.org", Type::A);
  for (int i = 0; i < 9; ++i) {
    m.answer.push_back(rr("c" + std::to_string(i) + ".example.org", wire::TypeCNAME, 60,
                          "c" + std::to_string(i + 1) + ".example.org"));
  }
  m.answer.push_back(rr("c9.example.org", wire::TypeA, 60, "192.0.2.1"));
  Outcome o = interpret(m, "c0.example.org", Type::A);
  EXPECT_EQ(o.answer.status, Answer::Status::TempFail);
  EXPECT_NE(o.answer.error.find("longer than 8"), std::string::npos) << o.answer.error;
  // Eight are fine.
  m.answer.erase(m.answer.begin() + 8);  // drop c8 -> c9
  m.answer.back().owner = "c8.example.org";
  Outcome ok = interpret(m, "c0.example.org", Type::A);
  EXPECT_EQ(ok.answer.status, Answer::Status::Found);
  EXPECT_EQ(ok.hops, 8);
}

TEST(DnsInterpret, RecordsOffTheChainAreIgnored) {
  // A poisoning attempt: data for another name rides along with a real answer.
  Message m = response("example.org", Type::A);
  m.answer = {rr("bank.example", wire::TypeA, 86400, "203.0.113.66"),
              rr("example.org", wire::TypeMX, 300, "mx.example.org", 10)};
  Outcome o = interpret(m, "example.org", Type::A);
  ASSERT_EQ(o.kind, Outcome::Kind::Final);
  EXPECT_EQ(o.answer.status, Answer::Status::NoData);
  EXPECT_TRUE(o.answer.addresses.empty());
}

TEST(DnsInterpret, UndecodableRdataIsSkipped) {
  Message m = response("example.org", Type::A);
  m.answer = {rr("example.org", wire::TypeA, 300, "")};
  EXPECT_EQ(interpret(m, "example.org", Type::A).answer.status, Answer::Status::NoData);
}

// ---- interpret: negative answers (RFC 2308) ------------------------------------------------

TEST(DnsInterpret, NxDomainTtlIsTheSmallerOfSoaTtlAndMinimum) {
  Message m = response("nope.example.org", Type::MX, wire::NxDomain);
  m.authority = {soa("example.org", 3600, 600)};
  Outcome o = interpret(m, "nope.example.org", Type::MX);
  EXPECT_EQ(o.answer.status, Answer::Status::NxDomain);
  EXPECT_EQ(o.answer.ttl, 600u);
  m.authority = {soa("example.org", 30, 600)};
  EXPECT_EQ(interpret(m, "nope.example.org", Type::MX).answer.ttl, 30u);
}

TEST(DnsInterpret, NxDomainWithoutSoaIsNotCacheable) {
  Outcome o =
      interpret(response("nope.example.org", Type::A, wire::NxDomain), "nope.example.org", Type::A);
  EXPECT_EQ(o.answer.status, Answer::Status::NxDomain);
  EXPECT_EQ(o.answer.ttl, 0u);
}

TEST(DnsInterpret, SoaOfAnUnrelatedZoneIsIgnored) {
  Message m = response("nope.example.org", Type::A, wire::NxDomain);
  m.authority = {soa("attacker.example", 86400, 86400)};
  EXPECT_EQ(interpret(m, "nope.example.org", Type::A).answer.ttl, 0u);
  m.authority = {soa(".", 86400, 1800)};  // the root is everybody's ancestor
  EXPECT_EQ(interpret(m, "nope.example.org", Type::A).answer.ttl, 1800u);
}

TEST(DnsInterpret, NoData) {
  Message m = response("example.org", Type::MX);
  m.authority = {soa("example.org", 3600, 300)};
  Outcome o = interpret(m, "example.org", Type::MX);
  EXPECT_EQ(o.answer.status, Answer::Status::NoData);
  EXPECT_EQ(o.answer.ttl, 300u);
  EXPECT_TRUE(o.answer.mx.empty());
}

TEST(DnsInterpret, NoDataWithoutSoa) {
  Outcome o = interpret(response("example.org", Type::MX), "example.org", Type::MX);
  EXPECT_EQ(o.answer.status, Answer::Status::NoData);
  EXPECT_EQ(o.answer.ttl, 0u);
}

TEST(DnsInterpret, ReferralIsNotNoData) {
  Message m = response("example.org", Type::MX);
  m.ra = false;
  m.authority = {rr("org", wire::TypeNS, 172800, "a0.org-servers.example")};
  Outcome o = interpret(m, "example.org", Type::MX);
  EXPECT_EQ(o.kind, Outcome::Kind::Retry);
  EXPECT_NE(o.error.find("referral"), std::string::npos);
}

TEST(DnsInterpret, TopBitTtlCountsAsZero) {
  Message m = response("example.org", Type::A);
  m.answer = {rr("example.org", wire::TypeA, 0x80000000u, "192.0.2.1")};
  EXPECT_EQ(interpret(m, "example.org", Type::A).answer.ttl, 0u);  // RFC 2181 8
}

// ---- interpret: server failures ------------------------------------------------------------

TEST(DnsInterpret, ErrorRcodesMeanAskAnotherServer) {
  for (uint16_t rcode : std::initializer_list<uint16_t>{wire::ServFail, wire::Refused,
                                                        wire::FormErr, wire::NotImp, uint16_t(9)}) {
    Outcome o = interpret(response("example.org", Type::A, rcode), "example.org", Type::A);
    EXPECT_EQ(o.kind, Outcome::Kind::Retry) << rcode;
    EXPECT_EQ(o.error, wire::rcodeName(rcode));
  }
}

TEST(DnsInterpret, IsSameOrAncestor) {
  EXPECT_TRUE(isSameOrAncestor("example.org", "example.org"));
  EXPECT_TRUE(isSameOrAncestor("example.org", "a.b.example.org"));
  EXPECT_TRUE(isSameOrAncestor(".", "example.org"));
  EXPECT_FALSE(isSameOrAncestor("ample.org", "example.org"));
  EXPECT_FALSE(isSameOrAncestor("a.example.org", "example.org"));
}

}  // namespace
}  // namespace petrel::dns
