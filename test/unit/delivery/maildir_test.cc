// Tests for deliverMaildirBatch (source/delivery/maildir.cc): where files land, their exact
// bytes, unique names, streaming with a CRLF split across chunks, and I/O failures.
#include "petrel/delivery/maildir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

namespace petrel::delivery {
namespace {

namespace fs = std::filesystem;

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void writeFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::vector<std::string> filesIn(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename());
  }
  return names;
}

class MaildirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/petrel-maildir-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }

  MaildirItem item(const std::string& maildir, std::string_view body) {
    MaildirItem it;
    it.maildir = maildir;
    it.header_prefix = "Return-Path: <a@b.test>\nDelivered-To: alice@example.test\n";
    it.body = body;
    return it;
  }

  std::string root_;
};

TEST_F(MaildirTest, CreatesTheMaildirAndDeliversIntoNew) {
  std::string maildir = root_ + "/mail/example.test/alice/";
  std::vector<MaildirItem> items{item(maildir, "Subject: hi\r\n\r\nHello\r\n")};
  deliverMaildirBatch(items, true, "mail.example.test");

  ASSERT_TRUE(items[0].result.ok()) << items[0].result.error().message();
  for (const char* sub : {"tmp", "new", "cur"}) {
    struct stat st {};
    ASSERT_EQ(::stat((maildir + sub).c_str(), &st), 0) << sub;
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0700u) << sub;
  }
  EXPECT_TRUE(filesIn(maildir + "tmp").empty());
  EXPECT_TRUE(filesIn(maildir + "cur").empty());
  ASSERT_EQ(filesIn(maildir + "new").size(), 1u);
  EXPECT_EQ(fs::path(items[0].filename).parent_path(), fs::path(maildir + "new"));
  EXPECT_TRUE(fs::exists(items[0].filename));
}

TEST_F(MaildirTest, WritesPrefixThenBodyWithCrlfTurnedIntoLf) {
  std::string maildir = root_ + "/alice/";
  // A lone CR and a CR before CRLF are content and stay.
  std::string body = "Subject: t\r\n\r\nline 1\r\nbare\rcr\r\r\nlast";
  std::vector<MaildirItem> items{item(maildir, body)};
  deliverMaildirBatch(items, false, "mx");
  ASSERT_TRUE(items[0].result.ok());
  std::string expected =
      "Return-Path: <a@b.test>\nDelivered-To: alice@example.test\n"
      "Subject: t\n\nline 1\nbare\rcr\r\nlast";
  EXPECT_EQ(readFile(items[0].filename), expected);
}

TEST_F(MaildirTest, NameFollowsTheMaildirSpecAndCarriesTheSize) {
  std::vector<MaildirItem> items{item(root_ + "/m/", "x\r\n")};
  items[0].header_prefix = "";
  deliverMaildirBatch(items, false, "host/with:odd");
  ASSERT_TRUE(items[0].result.ok());
  std::string name = fs::path(items[0].filename).filename();
  // <sec>.M<usec>P<pid>Q<counter>.<host>,S=<size>
  std::string pid = "P" + std::to_string(::getpid()) + "Q";
  EXPECT_NE(name.find(".M"), std::string::npos) << name;
  EXPECT_NE(name.find(pid), std::string::npos) << name;
  EXPECT_NE(name.find(".host\\057with\\072odd,S=2"), std::string::npos) << name;
  EXPECT_EQ(name.find(':'), std::string::npos) << name;
  EXPECT_EQ(fs::file_size(items[0].filename), 2u);
}

TEST_F(MaildirTest, EveryDeliveryGetsAUniqueName) {
  std::string maildir = root_ + "/bob/";
  std::vector<MaildirItem> items;
  for (int i = 0; i < 50; ++i) {
    items.push_back(item(maildir, "same\r\n"));
  }
  std::set<std::string> names;
  for (int batch = 0; batch < 2; ++batch) {
    deliverMaildirBatch(items, true, "mx");
    for (const auto& it : items) {
      ASSERT_TRUE(it.result.ok());
      names.insert(it.filename);
    }
  }
  EXPECT_EQ(names.size(), 100u);
  EXPECT_EQ(filesIn(maildir + "new").size(), 100u);
  EXPECT_TRUE(filesIn(maildir + "tmp").empty());
}

TEST_F(MaildirTest, SeveralMaildirsInOneBatch) {
  std::vector<MaildirItem> items{item(root_ + "/a/", "1\r\n"), item(root_ + "/b/", "2\r\n"),
                                 item(root_ + "/a/", "3\r\n")};
  deliverMaildirBatch(items, true, "mx");
  for (const auto& it : items) {
    ASSERT_TRUE(it.result.ok());
  }
  EXPECT_EQ(filesIn(root_ + "/a/new").size(), 2u);
  EXPECT_EQ(filesIn(root_ + "/b/new").size(), 1u);
  EXPECT_TRUE(readFile(items[2].filename).ends_with("3\n"));
}

TEST_F(MaildirTest, StreamsABodyFileWithACrlfSplitAcrossChunks) {
  // Put the CR as the last byte of the first chunk and its LF first in the second.
  std::string body(MaildirChunkSize - 1, 'a');
  body += "\r\nsecond chunk\r\n";
  body += std::string(MaildirChunkSize, 'b');
  body += "\r";  // a CR at the very end of the file is content
  std::string body_path = root_ + "/spool-body";
  writeFile(body_path, body);

  std::vector<MaildirItem> items{item(root_ + "/alice/", "")};
  items[0].body_path = body_path;
  items[0].body = "ignored when body_path is set";
  deliverMaildirBatch(items, true, "mx");
  ASSERT_TRUE(items[0].result.ok()) << items[0].result.error().message();

  std::string expected = items[0].header_prefix + std::string(MaildirChunkSize - 1, 'a') +
                         "\nsecond chunk\n" + std::string(MaildirChunkSize, 'b') + "\r";
  std::string written = readFile(items[0].filename);
  EXPECT_EQ(written.size(), expected.size());
  EXPECT_TRUE(written == expected);
  EXPECT_NE(items[0].filename.find(",S=" + std::to_string(expected.size())), std::string::npos);
  EXPECT_TRUE(filesIn(root_ + "/alice/tmp").empty());
}

TEST_F(MaildirTest, BodyOffsetSkipsAReplacedHeaderInMemoryAndInAFile) {
  const std::string message = "From: a@old.test\r\nSubject: s\r\n\r\nbody\r\n";
  const size_t header_size = message.find("\r\n\r\n") + 2;
  std::string body_path = root_ + "/spool-body";
  writeFile(body_path, message);
  std::vector<MaildirItem> items{item(root_ + "/alice/", message), item(root_ + "/bob/", "")};
  items[1].body_path = body_path;
  for (auto& it : items) {
    it.header_prefix += "From: a@new.test\nSubject: s\n";
    it.body_offset = header_size;
  }
  deliverMaildirBatch(items, true, "mx");
  for (const auto& it : items) {
    ASSERT_TRUE(it.result.ok()) << it.result.error().message();
    EXPECT_TRUE(readFile(it.filename).ends_with("\nFrom: a@new.test\nSubject: s\n\nbody\n"))
        << readFile(it.filename);
    EXPECT_EQ(readFile(it.filename).find("old.test"), std::string::npos);
  }
}

TEST_F(MaildirTest, MissingBodyFileIsATemporaryErrorAndLeavesNoTmpFile) {
  std::vector<MaildirItem> items{item(root_ + "/alice/", "")};
  items[0].body_path = root_ + "/no-such-body";
  deliverMaildirBatch(items, true, "mx");
  ASSERT_FALSE(items[0].result.ok());
  EXPECT_TRUE(items[0].result.error().temporary());
  EXPECT_NE(items[0].result.error().message().find("No such file or directory"), std::string::npos);
  EXPECT_TRUE(items[0].filename.empty());
  EXPECT_TRUE(filesIn(root_ + "/alice/tmp").empty());
  EXPECT_TRUE(filesIn(root_ + "/alice/new").empty());
}

TEST_F(MaildirTest, MaildirBelowARegularFileFailsTemporarilyAndOthersStillDeliver) {
  writeFile(root_ + "/file", "not a directory");
  std::vector<MaildirItem> items{item(root_ + "/file/alice/", "x\r\n"),
                                 item(root_ + "/ok/", "y\r\n")};
  deliverMaildirBatch(items, true, "mx");
  ASSERT_FALSE(items[0].result.ok());
  EXPECT_TRUE(items[0].result.error().temporary());
  EXPECT_NE(items[0].result.error().message().find("Not a directory"), std::string::npos)
      << items[0].result.error().message();
  EXPECT_TRUE(items[0].filename.empty());
  EXPECT_TRUE(items[1].result.ok());
}

TEST_F(MaildirTest, ANewThatIsAFileFailsTemporarily) {
  ASSERT_TRUE(fs::create_directories(root_ + "/alice/tmp"));
  writeFile(root_ + "/alice/new", "oops");
  std::vector<MaildirItem> items{item(root_ + "/alice/", "x\r\n")};
  deliverMaildirBatch(items, true, "mx");
  ASSERT_FALSE(items[0].result.ok());
  EXPECT_TRUE(items[0].result.error().temporary());
  EXPECT_TRUE(filesIn(root_ + "/alice/tmp").empty());
}

TEST_F(MaildirTest, RelativeMaildirIsRefused) {
  std::vector<MaildirItem> items{item("relative/alice/", "x\r\n"), item(root_ + "/no-slash", "")};
  deliverMaildirBatch(items, false, "mx");
  for (const auto& it : items) {
    ASSERT_FALSE(it.result.ok());
    EXPECT_TRUE(it.result.error().temporary());
  }
}

TEST_F(MaildirTest, ResultsAreResetOnReuse) {
  std::vector<MaildirItem> items{item(root_ + "/file/x/", "x\r\n")};
  writeFile(root_ + "/file", "");
  deliverMaildirBatch(items, false, "mx");
  ASSERT_FALSE(items[0].result.ok());
  items[0].maildir = root_ + "/fixed/";
  deliverMaildirBatch(items, false, "mx");
  EXPECT_TRUE(items[0].result.ok());
  EXPECT_FALSE(items[0].filename.empty());
}

}  // namespace
}  // namespace petrel::delivery
