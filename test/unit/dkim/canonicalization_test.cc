// Canonicalization (RFC 6376 3.4) and the streaming body hash: RFC 6376 3.4.5's example, the
// empty-body rules, and chunk boundaries anywhere (byte by byte = at once).
#include "petrel/dkim/canonicalization.h"

#include <gtest/gtest.h>

#include "petrel/core/base64.h"
#include "petrel/dkim/tag_list.h"

namespace petrel::dkim {
namespace {

// The canonical body as text: hash it and compare with the hash of the expected text.
std::string bodyHash(Canon c, std::string_view body, size_t chunk = 0,
                     std::optional<uint64_t> limit = std::nullopt) {
  BodyHasher h(c, limit);
  if (chunk == 0) {
    h.feed(body);
  } else {
    for (size_t i = 0; i < body.size(); i += chunk) h.feed(body.substr(i, chunk));
  }
  return h.finish();
}

TEST(DkimCanonicalizationTest, Rfc6376Section345Example) {
  // Header "A: X" and "B : Y\t\r\n\tZ  " and body " C \r\nD \t E\r\n\r\n\r\n".
  EXPECT_EQ(canonicalizeHeader(Canon::Relaxed, "A", "A: X\r\n"), "a:X\r\n");
  EXPECT_EQ(canonicalizeHeader(Canon::Relaxed, "B ", "B : Y\t\r\n\tZ  \r\n"), "b:Y Z\r\n");
  EXPECT_EQ(canonicalizeHeader(Canon::Simple, "B ", "B : Y\t\r\n\tZ  \r\n"), "B : Y\t\r\n\tZ  \r\n");
  std::string body = " C \r\nD \t E\r\n\r\n\r\n";
  EXPECT_EQ(bodyHash(Canon::Relaxed, body), tls::sha256(" C\r\nD E\r\n"));
  EXPECT_EQ(bodyHash(Canon::Simple, body), tls::sha256(" C \r\nD \t E\r\n"));
}

TEST(DkimCanonicalizationTest, EmptyBodies) {
  // 3.4.3: simple makes an empty body one CRLF; 3.4.4 (erratum 1384): relaxed leaves it empty.
  EXPECT_EQ(bodyHash(Canon::Simple, ""), tls::sha256("\r\n"));
  EXPECT_EQ(bodyHash(Canon::Simple, "\r\n\r\n"), tls::sha256("\r\n"));
  EXPECT_EQ(bodyHash(Canon::Relaxed, ""), tls::sha256(""));
  EXPECT_EQ(bodyHash(Canon::Relaxed, " \r\n\t\r\n"), tls::sha256(""));
  // The well-known values: bh of an empty body.
  EXPECT_EQ(base64Encode(bodyHash(Canon::Simple, "")), "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
  EXPECT_EQ(base64Encode(bodyHash(Canon::Relaxed, "")), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

TEST(DkimCanonicalizationTest, MissingFinalCrlfAndBareCr) {
  EXPECT_EQ(bodyHash(Canon::Simple, "a\r\nb"), tls::sha256("a\r\nb\r\n"));
  EXPECT_EQ(bodyHash(Canon::Relaxed, "a  \r\nb \t"), tls::sha256("a\r\nb\r\n"));
  EXPECT_EQ(bodyHash(Canon::Simple, "a\rb\r\n\r"), tls::sha256("a\rb\r\n\r\r\n"));
  EXPECT_EQ(bodyHash(Canon::Relaxed, "\r\n\r\n  x\r\n\r\n"), tls::sha256("\r\n\r\n x\r\n"));
}

// Text lines with single and double spaces, tabs and trailing whitespace, longer than the
// hasher's 16 KiB block: runs of plain octets (single spaces included) pass in one piece.
std::string words() {
  std::string body;
  for (int i = 0; i < 600; ++i) body += "word word  word\tword \r\n x y\r\n";
  return body;
}

TEST(DkimCanonicalizationTest, RunsOfTextAndSpaces) {
  EXPECT_EQ(bodyHash(Canon::Relaxed, "a b  c\td \r\n e f"), tls::sha256("a b c d\r\n e f\r\n"));
  EXPECT_EQ(bodyHash(Canon::Relaxed, "ab c\r\nd  \t e \r\n \r\n"), tls::sha256("ab c\r\nd e\r\n"));
  std::string canonical;
  for (int i = 0; i < 600; ++i) canonical += "word word word word\r\n x y\r\n";
  EXPECT_EQ(bodyHash(Canon::Relaxed, words()), tls::sha256(canonical));
  EXPECT_EQ(bodyHash(Canon::Simple, words()), tls::sha256(words()));
}

TEST(DkimCanonicalizationTest, ChunkBoundariesDoNotMatter) {
  const std::string bodies[] = {
      " C \r\nD \t E\r\n\r\n\r\n", "line1\r\n\r\n\r\nline2  \t\r\n \r\n\r\n", "a\rb\r\r\n\r",
      "no final crlf  ", "\r\n\r\n", "x\r\n\r\n \r\n\t\r\ny", std::string(40000, 'z') + "\r\n\r\n",
      words()};
  for (Canon c : {Canon::Simple, Canon::Relaxed}) {
    for (const auto& body : bodies) {
      std::string whole = bodyHash(c, body);
      for (size_t chunk : {1, 2, 3, 7, 4096}) {
        EXPECT_EQ(bodyHash(c, body, chunk), whole) << canonName(c) << " chunk " << chunk;
      }
      for (uint64_t limit : {0, 1, 5, 100, 20000}) {
        EXPECT_EQ(bodyHash(c, body, 1, limit), bodyHash(c, body, 0, limit));
      }
    }
  }
}

// The scan takes 16 octets at a time where it can; octet by octet (chunks of 1) it never can.
// Random bodies over the octets that matter, with every kind of white space next to block
// boundaries, must hash the same both ways.
TEST(DkimCanonicalizationTest, BlockScanAgreesWithTheOctetScan) {
  const char alphabet[] = {'a', 'b', ' ', ' ', '\t', '\r', '\n', 'x'};
  uint32_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 1103515245 + 12345;
    return (seed >> 16) & 0x7fff;
  };
  for (int round = 0; round < 400; ++round) {
    std::string body;
    size_t length = 1 + next() % 300;
    // Mostly plain text, so that whole blocks occur, with white space sprinkled in.
    for (size_t i = 0; i < length; ++i) {
      body += next() % 4 == 0 ? alphabet[next() % sizeof(alphabet)] : char('c' + next() % 20);
    }
    for (Canon c : {Canon::Simple, Canon::Relaxed}) {
      ASSERT_EQ(bodyHash(c, body), bodyHash(c, body, 1)) << canonName(c) << " body: " << body;
    }
  }
}

TEST(DkimCanonicalizationTest, LengthLimit) {
  BodyHasher h(Canon::Simple, 5);
  h.feed("Hello world\r\n");
  EXPECT_EQ(h.finish(), tls::sha256("Hello"));
  EXPECT_EQ(h.canonicalLength(), 13u);
  EXPECT_EQ(h.finish(), tls::sha256("Hello"));  // finish() twice gives the same digest
}

TEST(DkimTagListTest, ParsesAndRefuses) {
  auto t = parseTagList(" v=1; a = rsa-sha256 ;\r\n\tb=ab\r\n cd;");
  ASSERT_TRUE(t) << t.error().message();
  ASSERT_EQ(t->tags.size(), 3u);
  EXPECT_EQ(t->find("a")->value, "rsa-sha256");
  EXPECT_EQ(withoutWhitespace(t->find("b")->value), "abcd");
  EXPECT_TRUE(parseTagList(""));
  EXPECT_FALSE(parseTagList("v=1; v=2"));  // duplicate
  EXPECT_FALSE(parseTagList("v=1;; a=2"));
  EXPECT_FALSE(parseTagList("1v=1"));
  EXPECT_FALSE(parseTagList("novalue"));
  EXPECT_FALSE(parseTagList("a=b\r\nc"));  // CRLF not followed by WSP
  EXPECT_FALSE(parseTagList(std::string("a=\x01", 3)));
  auto l = splitColonList("from : to:\r\n subject");
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[2], "subject");
}

}  // namespace
}  // namespace petrel::dkim
