// MessageStore::replaceHeader and addTopFields, the end-of-data header edits of the content
// pass, for a message kept in memory (a splice) and for a spooled one (replaceHeader copies it
// into another slot behind the new header; top fields stay out of the spool file). A real
// libuv loop and spool files in a temporary directory; no sockets.
#include "petrel/server/message_store.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace petrel::server {
namespace {

class MessageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/petrel-store-XXXXXX";
    dir_ = mkdtemp(tmpl);
    uv_loop_init(&loop_);
    dispatcher_ = std::make_unique<event::Dispatcher>(&loop_);
    slots_ = std::make_unique<SpoolSlots>(dir_);
  }
  void TearDown() override {
    dispatcher_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    std::system(("rm -rf " + dir_).c_str());
  }
  // Stores `content`, replaces its first `old_octets` with `header`, finishes; returns the
  // stored message as the queue would read it.
  std::string storeEdited(const std::string& content, size_t old_octets,
                          const std::string& header) {
    auto store = std::make_shared<MessageStore>(*dispatcher_, *slots_);
    store->append(content);
    EXPECT_FALSE(store->replaceHeader(old_octets, header).has_value());
    bool finished = false;
    store->finish([&](Status st) {
      EXPECT_TRUE(st.ok());
      finished = true;
    });
    while (!finished) uv_run(&loop_, UV_RUN_ONCE);
    EXPECT_EQ(store->size(), content.size() - old_octets + header.size());
    if (store->inlined()) return store->takeInlineBody();
    std::ifstream in(store->spoolPath(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string dir_;
  uv_loop_t loop_{};
  std::unique_ptr<event::Dispatcher> dispatcher_;
  std::unique_ptr<SpoolSlots> slots_;
};

const std::string OldHeader = "Subject: old\r\n\r\n";
const std::string NewHeader = "X-Added: 1\r\nSubject: new\r\n\r\n";

TEST_F(MessageStoreTest, ReplacesTheHeaderOfAMessageInMemory) {
  std::string body = "short body\r\n";
  EXPECT_EQ(storeEdited(OldHeader + body, OldHeader.size(), NewHeader), NewHeader + body);
}

TEST_F(MessageStoreTest, ReplacesTheHeaderOfASpooledMessage) {
  std::string body;
  while (body.size() < 3 * MessageStore::WriteChunk) body += "0123456789abcdef0123456789\r\n";
  std::string stored = storeEdited(OldHeader + body, OldHeader.size(), NewHeader);
  EXPECT_EQ(stored.size(), NewHeader.size() + body.size());
  EXPECT_TRUE(stored == NewHeader + body) << "the spooled copy differs";
  // The slot that held the unedited copy is free again, and the edited one is in use.
  EXPECT_EQ(slots_->freeCount(), 1u);
}

// Fields added on top at end of data: spliced in memory; for a spooled message kept apart
// (topFields, for the queue row's header_prefix) and the spool file left as written.
TEST_F(MessageStoreTest, TopFieldsOfAMessageInMemoryAreSplicedIn) {
  auto store = std::make_shared<MessageStore>(*dispatcher_, *slots_);
  store->append(OldHeader + "body\r\n");
  const std::string top = "Authentication-Results: mx; dkim=none\r\n";
  store->addTopFields(top);
  EXPECT_EQ(store->size(), top.size() + OldHeader.size() + 6);
  EXPECT_TRUE(store->topFields().empty());
  EXPECT_EQ(store->takeInlineBody(), top + OldHeader + "body\r\n");
  store->abort();
}

TEST_F(MessageStoreTest, TopFieldsOfASpooledMessageStayOutOfTheSpoolFile) {
  std::string body;
  while (body.size() < 3 * MessageStore::WriteChunk) body += "0123456789abcdef0123456789\r\n";
  auto store = std::make_shared<MessageStore>(*dispatcher_, *slots_);
  store->append(OldHeader + body);
  const std::string top = "DKIM-Signature: v=1\r\nAuthentication-Results: mx; dkim=none\r\n";
  store->addTopFields(top);
  bool finished = false;
  store->finish([&](Status st) {
    EXPECT_TRUE(st.ok());
    finished = true;
  });
  while (!finished) uv_run(&loop_, UV_RUN_ONCE);
  ASSERT_FALSE(store->inlined());
  EXPECT_EQ(store->topFields(), top);
  EXPECT_EQ(store->size(), top.size() + OldHeader.size() + body.size());
  std::ifstream in(store->spoolPath(), std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  EXPECT_TRUE(s.str() == OldHeader + body) << "the spool file was changed";
}

TEST_F(MessageStoreTest, RefusesToReplaceMoreThanWasStored) {
  auto store = std::make_shared<MessageStore>(*dispatcher_, *slots_);
  store->append("abc");
  EXPECT_TRUE(store->replaceHeader(10, "x").has_value());
  store->abort();
}

}  // namespace
}  // namespace petrel::server
