// Maildrop records: format, parse, the durable file.
#include "petrel/queue/maildrop.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace petrel::queue {
namespace {

MaildropRecord sample() {
  MaildropRecord r;
  r.sender = "alice@example.org";
  r.recipients = {"bob@example.org", "carol@example.net"};
  r.notify = "SUCCESS,FAILURE";
  r.ret = "HDRS";
  r.envid = "e1";
  r.body_type = "8BITMIME";
  r.content = "Subject: x\r\n\r\nbody\r\n";
  return r;
}

TEST(MaildropTest, FormatAndParseBack) {
  auto bytes = formatMaildrop(sample());
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes,
            "PETREL-MAILDROP 1\nsender: alice@example.org\nrecipient: bob@example.org\n"
            "recipient: carol@example.net\nnotify: SUCCESS,FAILURE\nret: HDRS\nenvid: e1\n"
            "body: 8BITMIME\nsize: 20\n\nSubject: x\r\n\r\nbody\r\n");
  auto r = parseMaildrop(*bytes, 1000);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->sender, "alice@example.org");
  EXPECT_EQ(r->recipients, sample().recipients);
  EXPECT_EQ(r->notify, "SUCCESS,FAILURE");
  EXPECT_EQ(r->ret, "HDRS");
  EXPECT_EQ(r->envid, "e1");
  EXPECT_EQ(r->body_type, "8BITMIME");
  EXPECT_EQ(r->content, sample().content);
}

TEST(MaildropTest, NullSender) {
  MaildropRecord m = sample();
  m.sender.clear();
  auto bytes = formatMaildrop(m);
  ASSERT_TRUE(bytes);
  EXPECT_NE(bytes->find("sender: \n"), std::string::npos);
  auto r = parseMaildrop(*bytes, 1000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->sender, "");
}

TEST(MaildropTest, FieldsThatCannotBeWritten) {
  MaildropRecord m = sample();
  m.recipients = {"bob@example.org\nrecipient: evil@example.org"};
  EXPECT_FALSE(formatMaildrop(m));
  m = sample();
  m.recipients.clear();
  EXPECT_FALSE(formatMaildrop(m));
  m = sample();
  m.envid = "a b";
  EXPECT_FALSE(formatMaildrop(m));
  m = sample();
  m.ret = "ALL";
  EXPECT_FALSE(formatMaildrop(m));
}

TEST(MaildropTest, MalformedRecords) {
  std::string good = *formatMaildrop(sample());
  auto bad = [](std::string_view b) {
    auto r = parseMaildrop(b, 1000);
    EXPECT_FALSE(r);
    return r ? std::string() : r.error().message();
  };
  EXPECT_EQ(bad("garbage"), "not a maildrop record");
  EXPECT_EQ(bad(good.substr(0, good.size() - 1)), "content is 19 octets, the record says 20");
  EXPECT_EQ(bad(good + "x"), "content is 21 octets, the record says 20");
  EXPECT_EQ(bad(good.substr(0, 30)), "truncated record header");
  EXPECT_EQ(bad("PETREL-MAILDROP 1\nsender: a\nsize: 0\n\n"), "no recipients");
  EXPECT_EQ(bad("PETREL-MAILDROP 1\nrecipient: a\nsize: 0\n\n"), "no sender line");
  EXPECT_EQ(bad("PETREL-MAILDROP 1\nsender: a\nrecipient: b\n\n"), "no size line");
  EXPECT_EQ(bad("PETREL-MAILDROP 1\nsender: a\nrecipient: b\nsize: x\n\n"), "bad size");
  EXPECT_EQ(bad("PETREL-MAILDROP 1\nsender: a\nrecipient: b\nhost: c\nsize: 0\n\n"),
            "unexpected record line 'host'");
  EXPECT_EQ(bad("PETREL-MAILDROP 1\nsender: a\rb\nrecipient: b\nsize: 0\n\n"),
            "bad sender value");
  auto big = parseMaildrop(good, 19);
  ASSERT_FALSE(big);
  EXPECT_FALSE(big.error().temporary());
  EXPECT_NE(big.error().message().find("too big"), std::string::npos);
}

TEST(MaildropTest, WriteFileDurably) {
  char tmpl[] = "/tmp/maildrop-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  mode_t old = umask(077);
  auto name = writeMaildropFile(dir, "record bytes");
  umask(old);
  ASSERT_TRUE(name) << name.error().message();
  EXPECT_TRUE(isMaildropName(*name));
  std::ifstream in(dir + "/" + *name);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "record bytes");
  struct stat st {};
  ASSERT_EQ(stat((dir + "/" + *name).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);  // readable by the server whatever the umask
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    ++files;
    EXPECT_TRUE(isMaildropName(e.path().filename().string()));  // no temporary left
  }
  EXPECT_EQ(files, 1u);
  std::filesystem::remove_all(dir);
  EXPECT_FALSE(writeMaildropFile("/nonexistent/dir", "x"));
  EXPECT_TRUE(writeMaildropFile("/nonexistent/dir", "x").error().temporary());
}

TEST(MaildropTest, Names) {
  EXPECT_FALSE(isMaildropName(".tmp.123"));
  EXPECT_FALSE(isMaildropName("."));
  EXPECT_FALSE(isMaildropName(".."));
  EXPECT_TRUE(isMaildropName("1700000000000000.42.0badcafe"));
}

}  // namespace
}  // namespace petrel::queue
