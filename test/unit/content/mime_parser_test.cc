// MimeParser: golden messages (test/testdata/mime/NN-name.eml -> .ref: one line per event,
// "depth part kind: text", and "  decoded: ..." when RFC 2047 decoding changed it), each also
// fed byte by byte and in odd chunks (the events must be the same), plus the limits and the
// encoded-word decoder.
//
// A .eml file is written with LF line ends; the test feeds it with CRLF as SMTP stores it.
// Regenerating: PETREL_UPDATE_GOLDEN=1 ./petrel-unit --gtest_filter='MimeGolden*', then review.
#include "petrel/content/mime_parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace petrel::content {
namespace {

const std::filesystem::path GoldenDir =
    std::filesystem::path(PETREL_SOURCE_ROOT) / "test" / "testdata" / "mime";

std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string crlf(const std::string& lf) {
  std::string out;
  for (char c : lf) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// The events of `message` fed in chunks of `chunk` octets (0: all at once), one per line.
std::string events(const std::string& message, size_t chunk, MimeLimits limits = {}) {
  std::string out;
  MimeParser parser(
      [&out](const MimeEvent& e) {
        out += std::to_string(e.depth) + " " + std::to_string(e.part) + " " +
               std::string(mimeEventKindName(e.kind)) + ": " + std::string(e.text) + "\n";
        if (e.decoded != e.text) out += "  decoded: " + std::string(e.decoded) + "\n";
      },
      limits);
  if (chunk == 0) {
    parser.feed(message);
  } else {
    for (size_t i = 0; i < message.size(); i += chunk) {
      parser.feed(std::string_view(message).substr(i, chunk));
    }
  }
  parser.end();
  if (parser.limitExceeded()) out += "(limit exceeded)\n";
  if (parser.bodyTruncated()) out += "(body truncated)\n";
  return out;
}

std::vector<std::string> goldenNames() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(GoldenDir)) {
    if (e.path().extension() == ".eml") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class MimeGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(MimeGolden, MatchesReference) {
  const std::string message = crlf(readFile(GoldenDir / (GetParam() + ".eml")));
  const std::string got = events(message, 0);
  const auto ref_path = GoldenDir / (GetParam() + ".ref");
  if (const char* u = std::getenv("PETREL_UPDATE_GOLDEN"); u != nullptr && std::string(u) == "1") {
    std::ofstream(ref_path, std::ios::binary) << got;
  }
  EXPECT_EQ(got, readFile(ref_path)) << "golden " << ref_path;
  EXPECT_EQ(events(message, 1), got) << "byte by byte";
  EXPECT_EQ(events(message, 7), got) << "in chunks of 7";
}

INSTANTIATE_TEST_SUITE_P(Messages, MimeGolden, ::testing::ValuesIn(goldenNames()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

TEST(MimeParserTest, NestingDeeperThanTheLimitIsBody) {
  std::string m;
  for (int i = 0; i < 5; ++i) m += "Content-Type: message/rfc822\r\n\r\n";
  m += "Subject: deep\r\n\r\ntext\r\n";
  MimeLimits limits;
  limits.max_depth = 3;
  std::string got = events(m, 0, limits);
  EXPECT_NE(got.find("(limit exceeded)"), std::string::npos) << got;
  EXPECT_NE(got.find("3 3 body: Content-Type: message/rfc822"), std::string::npos) << got;
  EXPECT_EQ(got.find("nested: Subject: deep"), std::string::npos) << got;
}

TEST(MimeParserTest, PartCountIsBounded) {
  std::string m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (int i = 0; i < 10; ++i) m += "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n";
  m += "--b--\r\n";
  MimeLimits limits;
  limits.max_parts = 4;
  std::string got = events(m, 0, limits);
  EXPECT_NE(got.find("(limit exceeded)"), std::string::npos) << got;
  EXPECT_EQ(got.find(" 5 mime:"), std::string::npos) << got;
}

TEST(MimeParserTest, LongBodyLinesComeInPieces) {
  std::string m = "Subject: x\r\n\r\n" + std::string(5000, 'a') + "\r\n";
  MimeLimits limits;
  limits.max_line_bytes = 2048;
  std::vector<size_t> sizes;
  MimeParser p(
      [&sizes](const MimeEvent& e) {
        if (e.kind == MimeEvent::Kind::BodyLine) sizes.push_back(e.text.size());
      },
      limits);
  for (char c : m) p.feed(std::string_view(&c, 1));
  p.end();
  EXPECT_EQ(sizes, (std::vector<size_t>{2048, 2048, 904}));
}

TEST(MimeParserTest, BodySegmentLimitPerPart) {
  std::string m =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n"
      "line one\r\nline two\r\nline three\r\n--b\r\n\r\nsecond part\r\n--b--\r\n";
  MimeLimits limits;
  limits.body_segment_bytes = 12;
  std::string got = events(m, 0, limits);
  EXPECT_NE(got.find("body: line one"), std::string::npos) << got;
  EXPECT_NE(got.find("body: line two"), std::string::npos) << got;
  EXPECT_EQ(got.find("body: line three"), std::string::npos) << got;
  EXPECT_NE(got.find("body: second part"), std::string::npos) << got;
  EXPECT_NE(got.find("(body truncated)"), std::string::npos) << got;
}

TEST(MimeParserTest, OverlongFieldIsCut) {
  std::string m = "Subject: " + std::string(300, 'x') + "\r\n\r\nbody\r\n";
  MimeLimits limits;
  limits.max_field_bytes = 100;
  size_t field = 0;
  MimeParser p(
      [&field](const MimeEvent& e) {
        if (e.kind == MimeEvent::Kind::MessageHeader) field = e.text.size();
      },
      limits);
  p.feed(m);
  p.end();
  EXPECT_EQ(field, 100u);
}

TEST(MimeParserTest, EncodedWords) {
  EXPECT_EQ(decodeEncodedWords("=?UTF-8?B?TWFrZSBNb25leQ==?= =?utf-8?Q?_Fast!?="),
            "Make Money Fast!");
  EXPECT_EQ(decodeEncodedWords("a =?iso-8859-1?q?caf=E9?= b"), "a caf\xe9 b");
  EXPECT_EQ(decodeEncodedWords("=?x?Z?abc?= =?broken"), "=?x?Z?abc?= =?broken");
  EXPECT_EQ(decodeEncodedWords("=?utf-8?q?a=4?="), "=?utf-8?q?a=4?=");
  EXPECT_EQ(decodeEncodedWords("no words"), "no words");
}

TEST(MimeParserTest, MediaTypeAndParameters) {
  EXPECT_EQ(mediaType(" Multipart/Mixed; boundary=\"a b\""), "multipart/mixed");
  EXPECT_EQ(mediaParameter(" multipart/mixed;\r\n\tBoundary=\"a \\\"b\"", "boundary"), "a \"b");
  EXPECT_EQ(mediaParameter("text/plain; charset=us-ascii; name=x.exe", "name"), "x.exe");
  EXPECT_EQ(mediaParameter("text/plain", "name"), "");
}

}  // namespace
}  // namespace petrel::content
