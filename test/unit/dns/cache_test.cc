// Cache: TTLs, negative TTLs, caps and the memory bound, with time given as numbers (ms).
#include "../../../source/dns/cache.h"

#include <gtest/gtest.h>

namespace petrel::dns {
namespace {

Answer found(uint32_t ttl, std::string address = "192.0.2.1") {
  Answer a;
  a.status = Answer::Status::Found;
  a.addresses = {std::move(address)};
  a.ttl = ttl;
  a.canonical_name = "example.org";
  return a;
}

Answer negative(Answer::Status status, uint32_t ttl) {
  Answer a;
  a.status = status;
  a.ttl = ttl;
  return a;
}

TEST(DnsCache, KeepsAnAnswerForItsTtl) {
  Cache c({});
  c.put("example.org", Type::A, found(300), 1'000);
  auto a = c.get("example.org", Type::A, 1'000);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->ttl, 300u);
  EXPECT_EQ(a->addresses, std::vector<std::string>{"192.0.2.1"});
  a = c.get("example.org", Type::A, 1'000 + 100'500);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->ttl, 200u);  // 199.5 s left, rounded up
  a = c.get("example.org", Type::A, 1'000 + 299'999);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->ttl, 1u);
  EXPECT_FALSE(c.get("example.org", Type::A, 1'000 + 300'000));
  EXPECT_EQ(c.size(), 0u);  // dropped when found expired
}

TEST(DnsCache, KeyIsNameAndType) {
  Cache c({});
  c.put("example.org", Type::A, found(60), 0);
  EXPECT_FALSE(c.get("example.org", Type::AAAA, 0));
  EXPECT_FALSE(c.get("www.example.org", Type::A, 0));
  EXPECT_TRUE(c.get("example.org", Type::A, 0));
}

TEST(DnsCache, NegativeAnswersUseTheirOwnTtlAndCap) {
  Cache c({.max_bytes = 1 << 20, .max_ttl = 86400, .max_negative_ttl = 900});
  c.put("nope.example.org", Type::MX, negative(Answer::Status::NxDomain, 600), 0);
  c.put("example.org", Type::MX, negative(Answer::Status::NoData, 86400), 0);
  auto nx = c.get("nope.example.org", Type::MX, 599'000);
  ASSERT_TRUE(nx);
  EXPECT_EQ(nx->status, Answer::Status::NxDomain);
  EXPECT_FALSE(c.get("nope.example.org", Type::MX, 600'000));
  auto nodata = c.get("example.org", Type::MX, 0);
  ASSERT_TRUE(nodata);
  EXPECT_EQ(nodata->ttl, 900u);  // capped
  EXPECT_FALSE(c.get("example.org", Type::MX, 900'000));
}

TEST(DnsCache, PositiveTtlIsCapped) {
  Cache c({.max_bytes = 1 << 20, .max_ttl = 3600, .max_negative_ttl = 900});
  c.put("example.org", Type::A, found(604800), 0);
  EXPECT_EQ(c.get("example.org", Type::A, 0)->ttl, 3600u);
  EXPECT_FALSE(c.get("example.org", Type::A, 3'600'000));
}

TEST(DnsCache, TempFailAndZeroTtlAreNotStored) {
  Cache c({});
  c.put("a.example", Type::A, negative(Answer::Status::TempFail, 300), 0);
  c.put("b.example", Type::A, found(0), 0);
  c.put("c.example", Type::A, negative(Answer::Status::NxDomain, 0), 0);
  EXPECT_EQ(c.size(), 0u);
}

TEST(DnsCache, PutReplaces) {
  Cache c({});
  c.put("example.org", Type::A, found(60, "192.0.2.1"), 0);
  c.put("example.org", Type::A, found(60, "192.0.2.2"), 1'000);
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(c.get("example.org", Type::A, 1'000)->addresses, std::vector<std::string>{"192.0.2.2"});
}

TEST(DnsCache, MemoryBoundEvictsTheLeastRecentlyUsed) {
  auto name = [](int i) { return "n" + std::to_string(100 + i) + ".example"; };  // same length
  Cache probe({});
  probe.put(name(0), Type::A, found(60), 0);
  const size_t one = probe.bytes();
  ASSERT_GT(one, 0u);

  Cache c({.max_bytes = one * 10, .max_ttl = 86400, .max_negative_ttl = 10800});
  for (int i = 0; i < 10; ++i) c.put(name(i), Type::A, found(60), 0);
  EXPECT_EQ(c.size(), 10u);
  EXPECT_EQ(c.bytes(), one * 10);
  ASSERT_TRUE(c.get(name(0), Type::A, 0));  // 0 is now the most recently used
  c.put(name(10), Type::A, found(60), 0);   // evicts 1, the least recently used
  EXPECT_EQ(c.size(), 10u);
  EXPECT_TRUE(c.get(name(0), Type::A, 0));
  EXPECT_FALSE(c.get(name(1), Type::A, 0));
  EXPECT_TRUE(c.get(name(2), Type::A, 0));
  EXPECT_TRUE(c.get(name(10), Type::A, 0));
  for (int i = 11; i < 100; ++i) c.put(name(i), Type::A, found(60), 0);
  EXPECT_EQ(c.size(), 10u);
  EXPECT_LE(c.bytes(), one * 10);
  EXPECT_TRUE(c.get(name(99), Type::A, 0));
}

TEST(DnsCache, HugeAnswersAreNotStored) {
  Cache c({.max_bytes = 4096, .max_ttl = 86400, .max_negative_ttl = 10800});
  Answer big = found(60);
  big.txt.assign(20, std::string(100, 'x'));
  c.put("big.example", Type::TXT, big, 0);
  EXPECT_EQ(c.size(), 0u);
}

TEST(DnsCache, ZeroBytesDisablesIt) {
  Cache c({.max_bytes = 0, .max_ttl = 86400, .max_negative_ttl = 10800});
  c.put("example.org", Type::A, found(60), 0);
  EXPECT_FALSE(c.get("example.org", Type::A, 0));
}

}  // namespace
}  // namespace petrel::dns
