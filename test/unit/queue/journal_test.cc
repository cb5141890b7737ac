// Journal: schema round trip, group commit, savepoint isolation, durability across reopen.
#include "petrel/queue/journal.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "petrel/queue/bounce.h"

namespace petrel::queue {
namespace {

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/petrel-journal-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/queue.db";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  static StoredMessage message(const std::string& id, int recipients) {
    StoredMessage m;
    m.id = id;
    m.arrival_us = 1700000000000000;
    m.sender = "sender@example.org";
    m.size = 11;
    m.client = "unknown[127.0.0.1]";
    m.helo = "client.example.org";
    m.protocol = "ESMTP";
    m.dsn_envid = "env-1";
    m.dsn_ret = "HDRS";
    m.body = std::string("Subject: x\r\n\r\nbody\0bytes\r\n", 27);
    for (int i = 0; i < recipients; ++i) {
      StoredRecipient r;
      r.idx = i;
      r.address = "rcpt" + std::to_string(i) + "@example.test";
      r.orig_address = "alias@example.test";
      r.dsn_notify = "FAILURE,DELAY";
      r.dsn_orcpt = "rfc822;alias@example.test";
      m.recipients.push_back(r);
    }
    return m;
  }

  // Runs `work` through the journal and waits for its commit.
  static Status commit(Journal& j, Journal::Work work) {
    std::promise<Status> p;
    j.submit(std::move(work), [&p](const Status& st) { p.set_value(st); });
    return p.get_future().get();
  }

  std::string dir_;
  std::string path_;
};

TEST_F(JournalTest, InsertedMessageLoadsBackExactly) {
  auto j = Journal::open(path_);
  ASSERT_TRUE(j) << j.error().message();
  StoredMessage m = message("00000000000A", 2);
  ASSERT_TRUE(commit(**j, [&m](Db& db) { return Journal::insertMessage(db, m); }));

  auto db = Db::open(path_, true);
  ASSERT_TRUE(db);
  auto loaded = Journal::load(**db, m.id, true);
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  const StoredMessage& got = loaded->front();
  EXPECT_EQ(got.sender, m.sender);
  EXPECT_EQ(got.body, m.body);  // binary-safe, NUL included
  EXPECT_EQ(got.dsn_envid, "env-1");
  EXPECT_EQ(got.dsn_ret, "HDRS");
  ASSERT_EQ(got.recipients.size(), 2u);
  EXPECT_EQ(got.recipients[1].address, "rcpt1@example.test");
  EXPECT_EQ(got.recipients[1].dsn_notify, "FAILURE,DELAY");
  EXPECT_EQ(got.recipients[1].dsn_orcpt, "rfc822;alias@example.test");

  auto listed = Journal::load(**db, "", false);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE(listed->front().body.empty());  // listings never carry bodies
}

// A spooled message's end-of-data fields (header_prefix) come back with its row, in the
// listing (delivery reads it) and alone.
TEST_F(JournalTest, HeaderPrefixOfASpooledMessageLoadsBack) {
  auto j = Journal::open(path_);
  ASSERT_TRUE(j) << j.error().message();
  StoredMessage m = message("00000000000B", 1);
  m.body.clear();
  m.spool_path = "/var/spool/petrel/slot-1";
  m.header_prefix = "Authentication-Results: mx; dkim=pass\r\n";
  ASSERT_TRUE(commit(**j, [&m](Db& db) { return Journal::insertMessage(db, m); }));
  auto db = Db::open(path_, true);
  ASSERT_TRUE(db);
  auto one = Journal::load(**db, m.id, true);
  ASSERT_TRUE(one && one->size() == 1u);
  EXPECT_EQ(one->front().header_prefix, m.header_prefix);
  auto listed = Journal::load(**db, "", false);
  ASSERT_TRUE(listed && listed->size() == 1u);
  EXPECT_EQ(listed->front().header_prefix, m.header_prefix);
}

// The client's port (XFORWARD PORT to an after-queue filter) comes back; 0 stays unknown.
TEST_F(JournalTest, ClientPortLoadsBack) {
  auto j = Journal::open(path_);
  ASSERT_TRUE(j) << j.error().message();
  StoredMessage with = message("00000000000C", 1);
  with.client_port = 54321;
  StoredMessage without = message("00000000000D", 1);
  ASSERT_TRUE(commit(**j, [&](Db& db) -> Status {
    if (auto st = Journal::insertMessage(db, with); !st) return st;
    return Journal::insertMessage(db, without);
  }));
  auto db = Db::open(path_, true);
  ASSERT_TRUE(db);
  auto listed = Journal::load(**db, "", false);
  ASSERT_TRUE(listed && listed->size() == 2u);
  EXPECT_EQ((*listed)[0].client_port, 54321);
  EXPECT_EQ((*listed)[1].client_port, 0);
}

// A queue written before the column existed is migrated when opened, its rows kept.
TEST_F(JournalTest, QueueWithoutClientPortIsMigrated) {
  {
    auto db = Db::open(path_, false);
    ASSERT_TRUE(db);
    ASSERT_TRUE((*db)->exec(
        "CREATE TABLE messages (id TEXT PRIMARY KEY, arrival_us INTEGER NOT NULL, sender TEXT "
        "NOT NULL, size INTEGER NOT NULL, client TEXT NOT NULL, helo TEXT NOT NULL, protocol "
        "TEXT NOT NULL, dsn_envid TEXT NOT NULL, dsn_ret TEXT NOT NULL, smtputf8 INTEGER NOT "
        "NULL, held INTEGER NOT NULL DEFAULT 0, body BLOB, spool_path TEXT, header_prefix "
        "TEXT, content_filter TEXT);"
        "INSERT INTO messages VALUES ('00000000000E', 1, 's@example.org', 3, "
        "'unknown[127.0.0.1]', 'h', 'ESMTP', '', '', 0, 0, 'x', NULL, NULL, NULL)"));
  }
  auto j = Journal::open(path_);
  ASSERT_TRUE(j) << j.error().message();
  auto db = Db::open(path_, true);
  ASSERT_TRUE(db);
  auto listed = Journal::load(**db, "", false);
  ASSERT_TRUE(listed) << listed.error().message();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().id, "00000000000E");
  EXPECT_EQ(listed->front().client_port, 0);
}

TEST_F(JournalTest, DeferDeleteAndRemainingRecipients) {
  auto j = Journal::open(path_);
  ASSERT_TRUE(j);
  StoredMessage m = message("00000000000B", 3);
  ASSERT_TRUE(commit(**j, [&](Db& db) { return Journal::insertMessage(db, m); }));
  ASSERT_TRUE(commit(**j, [&](Db& db) -> Status {
    if (auto st = Journal::deleteRecipient(db, m.id, 0); !st) return st;
    return Journal::deferRecipient(db, m.id, 1, 1, 12345, "4.3.0 mailbox busy");
  }));
  auto db = Db::open(path_, true);
  auto left = Journal::remainingRecipients(**db, m.id);
  ASSERT_TRUE(left);
  EXPECT_EQ(*left, 2);
  auto loaded = Journal::load(**db, m.id, false);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->front().recipients[0].idx, 1);
  EXPECT_EQ(loaded->front().recipients[0].attempts, 1);
  EXPECT_EQ(loaded->front().recipients[0].next_attempt, 12345);
  EXPECT_EQ(loaded->front().recipients[0].last_error, "4.3.0 mailbox busy");

  ASSERT_TRUE(commit(**j, [&](Db& db) { return Journal::deleteMessage(db, m.id); }));
  loaded = Journal::load(**db, m.id, false);
  ASSERT_TRUE(loaded);
  EXPECT_TRUE(loaded->empty());
  EXPECT_EQ(*Journal::remainingRecipients(**db, m.id), 0);
}

TEST_F(JournalTest, FailingRequestDoesNotFailItsBatchNeighbours) {
  auto j = Journal::open(path_);
  ASSERT_TRUE(j);
  StoredMessage a = message("00000000000C", 1);
  ASSERT_TRUE(commit(**j, [&](Db& db) { return Journal::insertMessage(db, a); }));
  // Hold the writer inside a request so the next three land in one batch.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::promise<void> blocked;
  (*j)->submit(
      [&](Db&) {
        blocked.set_value();
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return release; });
        return okStatus();
      },
      nullptr);
  blocked.get_future().wait();
  std::promise<Status> dup, good;
  StoredMessage b = message("00000000000D", 1);
  // Same id again: the primary key refuses it; its partial insert must be rolled back.
  (*j)->submit([&](Db& db) { return Journal::insertMessage(db, a); },
               [&](const Status& st) { dup.set_value(st); });
  (*j)->submit([&](Db& db) { return Journal::insertMessage(db, b); },
               [&](const Status& st) { good.set_value(st); });
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  EXPECT_FALSE(dup.get_future().get());
  EXPECT_TRUE(good.get_future().get());
  auto db = Db::open(path_, true);
  auto all = Journal::load(**db, "", false);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(all->at(0).recipients.size(), 1u);  // no duplicated recipient rows
}

TEST_F(JournalTest, ConcurrentSubmittersShareCommits) {
  auto j = Journal::open(path_);
  ASSERT_TRUE(j);
  constexpr int Threads = 8, PerThread = 50;
  std::atomic<int> committed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < Threads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < PerThread; ++i) {
        StoredMessage m = message(fmt::format("{:06X}{:06X}", t, i), 1);
        if (commit(**j, [&m](Db& db) { return Journal::insertMessage(db, m); })) ++committed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(committed.load(), Threads * PerThread);
  auto db = Db::open(path_, true);
  EXPECT_EQ(Journal::load(**db, "", false)->size(), size_t(Threads * PerThread));
  auto max = Journal::maxId(**db);
  ASSERT_TRUE(max);
  EXPECT_EQ(*max, fmt::format("{:06X}{:06X}", Threads - 1, PerThread - 1));
}

TEST_F(JournalTest, CommittedRowsSurviveReopen) {
  {
    auto j = Journal::open(path_);
    ASSERT_TRUE(j);
    StoredMessage m = message("00000000000E", 1);
    m.held = true;
    ASSERT_TRUE(commit(**j, [&](Db& db) { return Journal::insertMessage(db, m); }));
  }
  auto j = Journal::open(path_);
  ASSERT_TRUE(j);
  auto db = Db::open(path_, true);
  auto all = Journal::load(**db, "", false);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_TRUE(all->front().held);
  ASSERT_TRUE(commit(**j, [](Db& db) { return Journal::setHeld(db, "00000000000E", false); }));
  EXPECT_FALSE(Journal::load(**db, "", false)->front().held);
}

TEST_F(JournalTest, LazyRequestIsCommittedWithoutAnUrgentOne) {
  auto j = Journal::open(path_);
  ASSERT_TRUE(j);
  StoredMessage m = message("00000000000F", 1);
  std::promise<Status> p;
  (*j)->submit([&](Db& db) { return Journal::insertMessage(db, m); },
               [&](const Status& st) { p.set_value(st); }, /*urgent=*/false);
  EXPECT_TRUE(p.get_future().get());
}

TEST(BounceTest, ReportNamesEveryFailedRecipientAndKeepsOriginalHeaders) {
  BounceInput in;
  in.original_id = "0A0A0A0A0A0A";
  in.original_sender = "sender@example.org";
  in.envid = "env-7";
  in.arrival_unix = 1700000000;
  in.hostname = "mail.example.test";
  in.bounce_id = "0B0B0B0B0B0B";
  in.date = "Sun, 22 Nov 2026 17:00:00 +0000";
  in.failed = {{"bob@example.test", "rfc822;b@example.test", "5.1.1", "no such mailbox", "", ""},
               {"carol@example.test", "", "4.4.7", "message expired in queue: disk full", "", ""}};
  std::string original = "Subject: hello\r\nFrom: sender@example.org\r\n\r\nsecret body\r\n";
  in.original = original;
  std::string b = composeBounce(in);
  EXPECT_NE(b.find("To: <sender@example.org>\r\n"), std::string::npos);
  EXPECT_NE(b.find("Content-Type: multipart/report; report-type=delivery-status;"),
            std::string::npos);
  EXPECT_NE(b.find("Final-Recipient: rfc822; bob@example.test\r\n"), std::string::npos);
  EXPECT_NE(b.find("Original-Recipient: rfc822;b@example.test\r\n"), std::string::npos);
  EXPECT_NE(b.find("Status: 5.1.1\r\n"), std::string::npos);
  EXPECT_NE(b.find("Status: 4.4.7\r\n"), std::string::npos);
  EXPECT_NE(b.find("Original-Envelope-Id: env-7\r\n"), std::string::npos);
  EXPECT_NE(b.find("Subject: hello\r\n"), std::string::npos);
  EXPECT_EQ(b.find("secret body"), std::string::npos);  // headers only
  // Every line ends in CRLF: no bare LF leaves us.
  for (size_t i = 0; i < b.size(); ++i) {
    if (b[i] == '\n') {
      ASSERT_TRUE(i > 0 && b[i - 1] == '\r') << "bare LF at " << i;
    }
  }
}

TEST(BounceTest, RemoteReplyAndReturnFull) {
  BounceInput in;
  in.original_id = "0A0A0A0A0A0A";
  in.original_sender = "sender@example.org";
  in.hostname = "mail.example.test";
  in.bounce_id = "0B0B0B0B0B0C";
  in.date = "Sun, 22 Nov 2026 17:00:00 +0000";
  FailedRecipient f{"bob@remote.test", "", "5.1.1", "host mx.remote.test[192.0.2.1] said: ...",
                    "", ""};
  f.remote_mta = "mx.remote.test";
  f.diagnostic_code = "550 5.1.1 <bob@remote.test>: User unknown";
  in.failed = {f};
  std::string original = "Subject: hello\r\n\r\nthe body\r\n";
  in.original = original;
  in.return_full = true;
  std::string b = composeBounce(in);
  EXPECT_NE(b.find("Remote-MTA: dns; mx.remote.test\r\n"), std::string::npos);
  EXPECT_NE(b.find("Diagnostic-Code: smtp; 550 5.1.1 <bob@remote.test>: User unknown\r\n"),
            std::string::npos);
  EXPECT_NE(b.find("Content-Type: message/rfc822\r\n\r\nSubject: hello\r\n\r\nthe body\r\n"),
            std::string::npos);

  // Over the cap: headers only, as for RET=HDRS.
  std::string big = "Subject: big\r\n\r\n" + std::string(MaxReturnedContent, 'x') + "\r\n";
  in.original = big;
  b = composeBounce(in);
  EXPECT_NE(b.find("Content-Type: text/rfc822-headers\r\n\r\nSubject: big\r\n"),
            std::string::npos);
  EXPECT_EQ(b.find("xxxx"), std::string::npos);
}

TEST(BounceTest, DelayWarningSaysDelayedAndWhenRetriesEnd) {
  BounceInput in;
  in.original_id = "0A0A0A0A0A0A";
  in.original_sender = "sender@example.org";
  in.hostname = "mail.example.test";
  in.bounce_id = "0B0B0B0B0B0D";
  in.date = "Sun, 22 Nov 2026 17:00:00 +0000";
  in.arrival_unix = 1700000000;
  in.retry_until_unix = 1700000000 + 5 * 86400;
  in.failed = {{"bob@remote.test", "", "4.4.1", "connect to mx[192.0.2.1]:25: refused", "", ""}};
  std::string original = "Subject: hello\r\n\r\nthe body\r\n";
  in.original = original;
  in.return_full = true;  // a warning never returns the content
  in.delayed = true;
  std::string b = composeBounce(in);
  EXPECT_NE(b.find("Subject: Delayed Mail (still being retried)\r\n"), std::string::npos);
  EXPECT_NE(b.find("Action: delayed\r\nStatus: 4.4.1\r\n"), std::string::npos);
  EXPECT_NE(b.find("Will-Retry-Until: "), std::string::npos);
  EXPECT_NE(b.find("Content-Type: text/rfc822-headers\r\n"), std::string::npos);
  EXPECT_EQ(b.find("the body"), std::string::npos);
  EXPECT_EQ(b.find("Action: failed"), std::string::npos);
}

}  // namespace
}  // namespace petrel::queue
