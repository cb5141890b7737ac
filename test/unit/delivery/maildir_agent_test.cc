// Tests for MaildirAgent (source/delivery/maildir_agent.cc): one file per recipient with its
// own Delivered-To, the rewritten header in place of the stored one, reports per recipient.
#include "petrel/delivery/maildir_agent.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace petrel::delivery {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> contentsOf(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

class MaildirAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/petrel-maildir-agent-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string root_;
};

TEST_F(MaildirAgentTest, OneFilePerRecipientAndAReportEach) {
  queue::StoredMessage m;
  m.id = "A1";
  m.body = "Subject: hi\r\n\r\nbody\r\n";
  for (const char* address : {"a@example.test", "b@example.test"}) {
    queue::StoredRecipient r;
    r.address = address;
    m.recipients.push_back(r);
  }
  RewrittenHeader header;
  header.changed = 1;
  header.header = "Subject: rewritten\r\n";
  header.original_size = std::string("Subject: hi\r\n").size();
  AgentMessage am;
  am.stored = &m;
  am.sender = "sender@example.org";
  am.header = &header;
  Delivery d;
  d.target.maildir = root_ + "/box/";
  d.recipients = {0, 1};
  d.message = &am;
  Delivery broken;
  broken.target.maildir = "/proc/petrel-no-such-dir/";  // cannot be created
  broken.recipients = {1};
  broken.message = &am;

  MaildirAgent agent(false, "host.test");
  bool done = false;
  agent.deliver({&d, &broken}, [&] { done = true; });
  EXPECT_TRUE(done);
  ASSERT_TRUE(d.reported());
  EXPECT_EQ(d.reports[0].status, RecipientReport::Status::Delivered);
  EXPECT_EQ(d.reports[0].dsn, "2.0.0");
  EXPECT_EQ(d.reports[1].text, "delivered to maildir");
  ASSERT_TRUE(broken.reported());
  EXPECT_EQ(broken.reports[0].status, RecipientReport::Status::Deferred);
  EXPECT_EQ(broken.reports[0].dsn, "4.3.0");

  std::vector<std::string> files = contentsOf(root_ + "/box/new");
  ASSERT_EQ(files.size(), 2u);
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files[0],
            "Return-Path: <sender@example.org>\nDelivered-To: a@example.test\n"
            "Subject: rewritten\n\nbody\n");
  EXPECT_EQ(files[1],
            "Return-Path: <sender@example.org>\nDelivered-To: b@example.test\n"
            "Subject: rewritten\n\nbody\n");
}

}  // namespace
}  // namespace petrel::delivery
