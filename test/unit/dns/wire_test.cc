// wire: queries built with ldns, and responses (made with ldns through makeResponseForTest, and
// one written out by hand) parsed back into plain values. Also ldns's DNSSEC key code (OpenSSL 3
// underneath) in the same process as TLS handshakes: in the BoringSSL build that is what the
// sealed ldns object is for (docs/dns.md, "Building with BoringSSL").
#include "../../../source/dns/wire.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "petrel/tls/tls.h"

namespace petrel::dns::wire {
namespace {

uint16_t u16(const std::vector<uint8_t>& b, size_t at) { return uint16_t(b[at] << 8 | b[at + 1]); }

Message parsed(const std::vector<uint8_t>& bytes) {
  auto m = parseMessage(bytes.data(), bytes.size());
  EXPECT_TRUE(m.ok()) << (m ? "" : m.error().message());
  return m ? *m : Message{};
}

Message query(std::string_view name, uint16_t type, uint16_t id = 0x4242) {
  auto q = buildQuery(name, type, id, 0);
  EXPECT_TRUE(q.ok());
  return q ? parsed(*q) : Message{};
}

std::vector<uint8_t> respond(const Message& q, ResponseSpec spec) {
  auto r = makeResponseForTest(q, spec);
  EXPECT_TRUE(r.ok()) << (r ? "" : r.error().message());
  return r ? *r : std::vector<uint8_t>{};
}

TEST(DnsWire, QueryHeaderAndQuestion) {
  auto q = buildQuery("Mail.Example.ORG.", TypeMX, 0xbeef, 0);
  ASSERT_TRUE(q.ok());
  const std::vector<uint8_t>& b = *q;
  ASSERT_GE(b.size(), 12u);
  EXPECT_EQ(u16(b, 0), 0xbeef);                      // id
  EXPECT_EQ(u16(b, 2), 0x0100);                      // QR=0, opcode QUERY, RD=1, nothing else
  EXPECT_EQ(u16(b, 4), 1);                           // QDCOUNT
  EXPECT_EQ(u16(b, 6) + u16(b, 8) + u16(b, 10), 0);  // no other records without EDNS
  // 4mail7example3org0, then type and class; the case is sent as given.
  const std::string wire_name(
      "\x04Mail\x07"
      "Example\x03ORG\x00",
      18);
  EXPECT_EQ(std::string(b.begin() + 12, b.begin() + 12 + 18), wire_name);
  EXPECT_EQ(u16(b, 30), TypeMX);
  EXPECT_EQ(u16(b, 32), ClassIN);
  EXPECT_EQ(b.size(), 34u);

  Message m = parsed(b);
  EXPECT_FALSE(m.qr);
  EXPECT_TRUE(m.rd);
  ASSERT_EQ(m.questions.size(), 1u);
  EXPECT_EQ(m.questions[0].name, "mail.example.org");  // normalized when parsed
  EXPECT_EQ(m.questions[0].type, TypeMX);
}

TEST(DnsWire, RelativeAndAbsoluteNamesEncodeAlike) {
  auto a = buildQuery("example.org", TypeA, 1, 0);
  auto b = buildQuery("example.org.", TypeA, 1, 0);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

TEST(DnsWire, EdnsAddsOneOptRecordWithThePayloadSize) {
  auto q = buildQuery("example.org", TypeTXT, 7, 1232);
  ASSERT_TRUE(q.ok());
  const std::vector<uint8_t>& b = *q;
  EXPECT_EQ(u16(b, 10), 1);  // ARCOUNT
  // After the question (12 + 13 + 4 octets): root name, TYPE OPT, CLASS = payload size.
  size_t opt = 12 + 13 + 4;
  ASSERT_GE(b.size(), opt + 5);
  EXPECT_EQ(b[opt], 0);
  EXPECT_EQ(u16(b, opt + 1), TypeOPT);
  EXPECT_EQ(u16(b, opt + 3), 1232);
}

// Plain names are encoded by hand, names with escapes by ldns: both must give the same octets.
TEST(DnsWire, HandEncodedQueriesMatchLdns) {
  for (std::string name : {"example.org", "Mail.Example.ORG.", "1.0.0.127.in-addr.arpa", "a",
                           "_dmarc.x-y.example", "."}) {
    for (uint16_t edns : {uint16_t(0), uint16_t(1232)}) {
      auto plain = buildQuery(name, TypeTXT, 0x0102, edns);
      ASSERT_TRUE(plain.ok()) << name;
      if (name == ".") continue;
      // The same name with its first octet written as \DDD takes the ldns path.
      std::string escaped = fmt::format("\\{:03d}{}", int(uint8_t(name[0])), name.substr(1));
      auto via_ldns = buildQuery(escaped, TypeTXT, 0x0102, edns);
      ASSERT_TRUE(via_ldns.ok()) << escaped;
      EXPECT_EQ(*plain, *via_ldns) << name << " edns " << edns;
    }
  }
  auto root = buildQuery(".", TypeNS, 1, 0);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->size(), 12u + 1 + 4);
}

TEST(DnsWire, NamesLdnsRefuses) {
  std::string long_label(64, 'a');
  auto q = buildQuery(long_label + ".example", TypeA, 1, 0);
  ASSERT_FALSE(q.ok());
  EXPECT_FALSE(q.error().temporary());
  EXPECT_FALSE(buildQuery("a..b", TypeA, 1, 0).ok());
  std::string long_name;
  for (int i = 0; i < 50; ++i) long_name += "abcdef.";
  EXPECT_FALSE(buildQuery(long_name, TypeA, 1, 0).ok());
}

TEST(DnsWire, HandWrittenResponseWithCompression) {
  // id 0x1234, QR RD RA, NOERROR; example.org A -> 192.0.2.1 TTL 300, the answer's owner
  // a compression pointer to offset 12.
  const std::vector<uint8_t> b = {
      0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,        // header
      0x07, 'e',  'x',  'a',  'm',  'p',  'l',  'e',  0x03, 'o',  'r',  'g',  0x00,  // qname
      0x00, 0x01, 0x00, 0x01,                                                        // A IN
      0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c,  // ptr, A IN 300
      0x00, 0x04, 192,  0,    2,    1};
  Message m = parsed(b);
  EXPECT_EQ(m.id, 0x1234);
  EXPECT_TRUE(m.qr);
  EXPECT_TRUE(m.ra);
  EXPECT_FALSE(m.tc);
  EXPECT_EQ(m.rcode, NoError);
  ASSERT_EQ(m.answer.size(), 1u);
  EXPECT_EQ(m.answer[0].owner, "example.org");
  EXPECT_EQ(m.answer[0].type, TypeA);
  EXPECT_EQ(m.answer[0].ttl, 300u);
  EXPECT_EQ(m.answer[0].data, "192.0.2.1");
}

TEST(DnsWire, MalformedOctetsAreAnError) {
  const std::vector<uint8_t> short_header = {0x12, 0x34, 0x81};
  EXPECT_FALSE(parseMessage(short_header.data(), short_header.size()).ok());
  // ANCOUNT says 1, nothing follows the question.
  std::vector<uint8_t> b = {0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
                            0x00, 0x00, 0x01, 'a',  0x00, 0x00, 0x01, 0x00, 0x01};
  auto m = parseMessage(b.data(), b.size());
  EXPECT_FALSE(m.ok());
  // A compression pointer that points at itself.
  std::vector<uint8_t> loop = {0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x00, 0x00,
                               0x00, 0x00, 0x00, 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01};
  EXPECT_FALSE(parseMessage(loop.data(), loop.size()).ok());
}

TEST(DnsWire, ARecords) {
  Message q = query("example.org", TypeA);
  Message r = parsed(respond(
      q, {.answer = {"example.org. 300 IN A 192.0.2.1", "EXAMPLE.org. 200 IN A 192.0.2.2"}}));
  EXPECT_EQ(r.id, 0x4242);
  EXPECT_TRUE(r.qr);
  ASSERT_EQ(r.questions.size(), 1u);
  ASSERT_EQ(r.answer.size(), 2u);
  EXPECT_EQ(r.answer[0].data, "192.0.2.1");
  EXPECT_EQ(r.answer[1].owner, "example.org");
  EXPECT_EQ(r.answer[1].ttl, 200u);
}

TEST(DnsWire, AaaaRecord) {
  Message q = query("example.org", TypeAAAA);
  Message r = parsed(respond(q, {.answer = {"example.org. 60 IN AAAA 2001:DB8:0:0:0:0:0:1"}}));
  ASSERT_EQ(r.answer.size(), 1u);
  EXPECT_EQ(r.answer[0].type, TypeAAAA);
  EXPECT_EQ(r.answer[0].data, "2001:db8::1");
}

TEST(DnsWire, MxRecords) {
  Message q = query("example.org", TypeMX);
  Message r = parsed(respond(
      q, {.answer = {"example.org. 300 IN MX 10 MX1.example.org.", "example.org. 300 IN MX 0 ."}}));
  ASSERT_EQ(r.answer.size(), 2u);
  EXPECT_EQ(r.answer[0].preference, 10);
  EXPECT_EQ(r.answer[0].data, "mx1.example.org");
  EXPECT_EQ(r.answer[1].preference, 0);
  EXPECT_EQ(r.answer[1].data, ".");  // the null MX's root
}

TEST(DnsWire, TxtStringsAreConcatenated) {
  Message q = query("example.org", TypeTXT);
  Message r = parsed(respond(q, {.answer = {R"(example.org. 300 IN TXT "v=spf1 " "-all")",
                                            R"(example.org. 300 IN TXT "")"}}));
  ASSERT_EQ(r.answer.size(), 2u);
  EXPECT_EQ(r.answer[0].data, "v=spf1 -all");  // RFC 7208 3.3: no separator
  EXPECT_EQ(r.answer[1].data, "");
}

TEST(DnsWire, PtrAndCnameTargets) {
  Message q = query("1.2.0.192.in-addr.arpa", TypePTR);
  Message r = parsed(
      respond(q, {.answer = {"1.2.0.192.in-addr.arpa. 300 IN CNAME 1.0/26.2.0.192.in-addr.arpa.",
                             "1.0/26.2.0.192.in-addr.arpa. 300 IN PTR Host.Example.org."}}));
  ASSERT_EQ(r.answer.size(), 2u);
  EXPECT_EQ(r.answer[0].type, TypeCNAME);
  EXPECT_EQ(r.answer[0].data, "1.0/26.2.0.192.in-addr.arpa");
  EXPECT_EQ(r.answer[1].owner, "1.0/26.2.0.192.in-addr.arpa");
  EXPECT_EQ(r.answer[1].data, "host.example.org");
}

TEST(DnsWire, NxDomainWithSoa) {
  Message q = query("nope.example.org", TypeA);
  Message r = parsed(respond(
      q, {.rcode = NxDomain,
          .authority = {"example.org. 3600 IN SOA ns.example.org. host.example.org. 1 7200 900 "
                        "1209600 600"}}));
  EXPECT_EQ(r.rcode, NxDomain);
  EXPECT_TRUE(r.answer.empty());
  ASSERT_EQ(r.authority.size(), 1u);
  EXPECT_EQ(r.authority[0].type, TypeSOA);
  EXPECT_EQ(r.authority[0].ttl, 3600u);
  EXPECT_EQ(r.authority[0].soa_minimum, 600u);
  EXPECT_EQ(rcodeName(r.rcode), "NXDOMAIN");
  EXPECT_EQ(rcodeName(9), "RCODE9");
}

TEST(DnsWire, TruncatedResponseWithoutQuestion) {
  Message q = query("big.example.org", TypeTXT);
  Message r = parsed(respond(q, {.tc = true, .keep_question = false}));
  EXPECT_TRUE(r.tc);
  EXPECT_TRUE(r.questions.empty());
  EXPECT_EQ(r.id, q.id);
}

TEST(DnsWire, UnknownTypesKeepNoData) {
  Message q = query("example.org", TypeA);
  Message r = parsed(respond(q, {.answer = {"example.org. 300 IN HINFO \"PDP-11\" \"UNIX\""}}));
  ASSERT_EQ(r.answer.size(), 1u);
  EXPECT_EQ(r.answer[0].type, 13);
  EXPECT_EQ(r.answer[0].data, "");
}

TEST(DnsWire, NormalizedName) {
  EXPECT_EQ(normalizedName("Example.ORG."), "example.org");
  EXPECT_EQ(normalizedName("."), ".");
  EXPECT_EQ(normalizedName(""), ".");
  EXPECT_EQ(normalizedName("a\\."), "a\\.");  // an escaped dot belongs to the label
}

// --- DNSSEC keys (ldns_key2rr) next to TLS ---------------------------------------------------

constexpr uint8_t RsaSha256 = 8, EcdsaP256Sha256 = 13, Ed25519 = 15;

std::string dnskeyFor(uint8_t algorithm) {
  auto r = dnssecKeyRoundTripForTest("Signed.Example.TEST.", algorithm);
  EXPECT_TRUE(r.ok()) << "algorithm " << int(algorithm) << ": "
                      << (r ? "" : r.error().message());
  return r ? *r : std::string{};
}

void expectDnskey(uint8_t algorithm) {
  std::string rr = dnskeyFor(algorithm);
  std::string start = "signed.example.test.\t3600\tIN\tDNSKEY\t256 3 " + std::to_string(algorithm);
  EXPECT_EQ(rr.rfind(start + " ", 0), 0u) << rr;
  EXPECT_EQ(rr.find(';'), std::string::npos) << rr;
}

TEST(DnsWireDnssec, KeyToDnskeySignAndVerify) {
  expectDnskey(RsaSha256);
  expectDnskey(EcdsaP256Sha256);
  expectDnskey(Ed25519);
}

TEST(DnsWireDnssec, EveryKeyIsNew) {
  EXPECT_NE(dnskeyFor(EcdsaP256Sha256), dnskeyFor(EcdsaP256Sha256));
}

TEST(DnsWireDnssec, UnsupportedAlgorithm) {
  EXPECT_FALSE(dnssecKeyRoundTripForTest("example.test", 200).ok());
}

std::string tlsTestdata(std::string_view file) {
  return std::string(PETREL_SOURCE_ROOT) + "/test/testdata/tls/" + std::string(file);
}

// A TLS client and server engine (whichever library the build uses) joined in memory.
struct TlsPair {
  std::unique_ptr<tls::Engine> client;
  std::unique_ptr<tls::Engine> server;

  TlsPair() {
    tls::ServerSettings settings;
    settings.certificates = {
        {tlsTestdata("mail.example.test.crt"), tlsTestdata("mail.example.test.key")}};
    auto ctx = tls::ServerContext::create(settings);
    EXPECT_TRUE(ctx) << ctx.error().message();
    if (!ctx) return;
    tls::ClientSettings cs;
    cs.sni = "mail.example.test";
    cs.verify = true;
    cs.ca_file = tlsTestdata("ca.crt");
    auto c = tls::Engine::client(cs);
    auto s = tls::Engine::server(*ctx);
    EXPECT_TRUE(c) << c.error().message();
    EXPECT_TRUE(s) << s.error().message();
    if (c && s) {
      client = std::move(*c);
      server = std::move(*s);
    }
  }

  // One round of ciphertext each way; false when neither side had anything to send.
  bool step() {
    std::string to_server = client->takeOutput();
    std::string to_client = server->takeOutput();
    if (!to_server.empty()) {
      EXPECT_TRUE(server->feed(to_server).ok());
    }
    if (!to_client.empty()) {
      EXPECT_TRUE(client->feed(to_client).ok());
    }
    return !to_server.empty() || !to_client.empty();
  }

  void pump() {
    for (int round = 0; round < 50 && step(); ++round) {
    }
  }

  void expectWorking() {
    ASSERT_TRUE(client && server);
    pump();
    EXPECT_TRUE(client->handshakeDone());
    EXPECT_TRUE(server->handshakeDone());
    EXPECT_TRUE(client->peerVerified()) << client->verifyError();
    ASSERT_TRUE(client->write("EHLO dnssec.example.test\r\n").ok());
    pump();
    EXPECT_EQ(server->takePlaintext(), "EHLO dnssec.example.test\r\n");
    ASSERT_TRUE(server->write("250 ok\r\n").ok());
    pump();
    EXPECT_EQ(client->takePlaintext(), "250 ok\r\n");
  }
};

// ldns's key code and the TLS library in one process: before, between and in the middle of
// handshakes. With -Dtls=boringssl, ldns must reach OpenSSL 3's libcrypto (sealed with it) and
// the TLS engines BoringSSL, or this crashes in ldns_key2rr.
TEST(DnsWireDnssec, InTheSameProcessAsTlsHandshakes) {
  SCOPED_TRACE("TLS library: " + tls::libraryName());
  TlsPair before;
  before.expectWorking();

  expectDnskey(EcdsaP256Sha256);
  expectDnskey(RsaSha256);

  TlsPair during;
  ASSERT_TRUE(during.client && during.server);
  EXPECT_TRUE(during.step());  // ClientHello out, the server's first flight back
  expectDnskey(Ed25519);
  expectDnskey(EcdsaP256Sha256);
  during.expectWorking();

  TlsPair after;
  after.expectWorking();
  expectDnskey(RsaSha256);
}

}  // namespace
}  // namespace petrel::dns::wire
