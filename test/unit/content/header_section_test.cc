// Tests for content::HeaderSection: fields and folding, the end of the section (empty line, a
// body line, the end of the message, the size limit), byte-by-byte feeding.
#include "petrel/content/header_section.h"

#include <gtest/gtest.h>

#include <string>

namespace petrel::content {
namespace {

std::string names(const HeaderSection& h) {
  std::string out;
  for (const auto& f : h.fields()) out += (out.empty() ? "" : ",") + f.name;
  return out;
}

TEST(HeaderSectionTest, SplitsFieldsKeepsFoldingAndStopsAtTheEmptyLine) {
  HeaderSection h(1024);
  std::string msg = "From: a@example.test\r\nSubject: one\r\n two\r\n\tthree\r\n\r\nbody\r\n";
  size_t taken = h.feed(msg);
  ASSERT_TRUE(h.complete());
  EXPECT_EQ(msg.substr(taken), "body\r\n");
  EXPECT_EQ(names(h), "From,Subject");
  EXPECT_EQ(h.fields()[1].raw, "Subject: one\r\n two\r\n\tthree\r\n");
  EXPECT_EQ(h.fields()[1].value(), " one\r\n two\r\n\tthree");
  EXPECT_EQ(h.rest(), "\r\n");
}

TEST(HeaderSectionTest, SameResultFedByteByByte) {
  HeaderSection h(1024);
  std::string msg = "A: 1\r\nB: 2\r\n x\r\n\r\nbody\r\n";
  size_t taken = 0;
  for (size_t i = 0; i < msg.size() && !h.complete(); ++i) taken += h.feed(msg.substr(i, 1));
  EXPECT_EQ(taken, msg.size() - 6);
  EXPECT_EQ(names(h), "A,B");
  EXPECT_EQ(h.fields()[1].raw, "B: 2\r\n x\r\n");
}

TEST(HeaderSectionTest, ALineThatIsNoFieldStartsTheBody) {
  HeaderSection h(1024);
  std::string msg = "Subject: x\r\nhello world\r\nmore\r\n";
  size_t taken = h.feed(msg);
  ASSERT_TRUE(h.complete());
  EXPECT_EQ(names(h), "Subject");
  EXPECT_EQ(h.rest(), "hello world\r\n");  // held, belongs to the body
  EXPECT_EQ(msg.substr(taken), "more\r\n");
}

TEST(HeaderSectionTest, AMessageWithoutHeaderIsAllBody) {
  HeaderSection h(1024);
  EXPECT_EQ(h.feed("hello\r\n"), 7u);
  EXPECT_TRUE(h.complete());
  EXPECT_TRUE(h.fields().empty());
  EXPECT_EQ(h.rest(), "hello\r\n");
}

TEST(HeaderSectionTest, EndsWithTheMessage) {
  HeaderSection h(1024);
  h.feed("Subject: only a header\r\nX: y");
  EXPECT_FALSE(h.complete());
  h.end();
  EXPECT_TRUE(h.complete());
  EXPECT_EQ(names(h), "Subject");
  EXPECT_EQ(h.rest(), "X: y");  // an unfinished line is kept, not parsed
}

TEST(HeaderSectionTest, AnOverlongSectionIsCutAndNothingIsLost) {
  HeaderSection h(40);
  std::string msg = "A: 0123456789\r\nB: 0123456789\r\nC: 0123456789\r\n\r\nbody";
  size_t taken = h.feed(msg);
  ASSERT_TRUE(h.complete());
  EXPECT_TRUE(h.truncated());
  EXPECT_EQ(names(h), "A,B");
  std::string kept;
  for (const auto& f : h.fields()) kept += f.raw;
  EXPECT_EQ(kept + h.rest() + msg.substr(taken), msg);
}

}  // namespace
}  // namespace petrel::content
