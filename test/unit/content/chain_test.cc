// Tests for content::ContentChain: the stored bytes are the received ones plus the edits,
// applied in stage order; body bytes pass through and reach every stage; end-of-data edits of
// recipients and header; a refusal; duplicates removed; a header over the limit.
#include "petrel/content/chain.h"

#include <gtest/gtest.h>

#include <cctype>
#include <memory>
#include <string>

namespace petrel::content {
namespace {

struct Store : smtp::BodySink {
  std::string data;
  void append(std::string_view b) override { data.append(b); }
};

// A stage that records what it saw and makes the edits it was given.
struct Recorder : ContentStage {
  HeaderEdits at_header;
  EndEdits at_end;
  std::optional<smtp::Reply> refusal;
  std::string seen_fields, seen_body;
  void onHeader(const std::vector<HeaderField>& fields, HeaderEdits& edits) override {
    for (const auto& f : fields) seen_fields += f.name + ";";
    for (auto& p : at_header.prepend) edits.prepend.push_back(p);
    for (auto& r : at_header.replace) edits.replace.push_back(r);
    for (auto i : at_header.remove) edits.remove.push_back(i);
  }
  void onBody(std::string_view b) override { seen_body.append(b); }
  std::optional<smtp::Reply> onEnd(std::vector<Recipient>&, EndEdits& edits) override {
    for (auto& p : at_end.header.prepend) edits.header.prepend.push_back(p);
    for (auto& r : at_end.add_recipients) edits.add_recipients.push_back(r);
    for (auto& r : at_end.remove_recipients) edits.remove_recipients.push_back(r);
    if (at_end.body) edits.body = at_end.body;
    return refusal;
  }
  bool mayRefuse() const override { return refusal.has_value(); }
};

const std::string Message = "From: a@example.test\r\nSubject: hi\r\n\r\nline 1\r\nline 2\r\n";

TEST(ContentChainTest, WithoutEditsTheStoreGetsTheMessageAsReceived) {
  Store store;
  std::vector<std::unique_ptr<ContentStage>> stages;
  auto* rec = new Recorder;
  stages.emplace_back(rec);
  ContentChain chain(std::move(stages), store);
  for (char c : Message) chain.append(std::string_view(&c, 1));
  std::vector<Recipient> rcpts;
  auto end = chain.finish(rcpts);
  EXPECT_EQ(store.data, Message);
  EXPECT_EQ(rec->seen_fields, "From;Subject;");
  EXPECT_EQ(rec->seen_body, "line 1\r\nline 2\r\n");
  EXPECT_FALSE(end.refusal);
  EXPECT_FALSE(end.header);
}

TEST(ContentChainTest, HeaderEditsApplyInStageOrder) {
  Store store;
  std::vector<std::unique_ptr<ContentStage>> stages;
  auto* first = new Recorder;
  first->at_header.prepend = {"Received: by us\r\n"};
  first->at_header.replace = {{1, "Subject: [tag] hi\r\n"}};
  auto* second = new Recorder;
  second->at_header.prepend = {"X-Second: 2\r\n"};
  second->at_header.remove = {0};
  stages.emplace_back(first);
  stages.emplace_back(second);
  ContentChain chain(std::move(stages), store);
  chain.append(Message);
  EXPECT_EQ(store.data,
            "Received: by us\r\nX-Second: 2\r\nSubject: [tag] hi\r\n\r\nline 1\r\nline 2\r\n");
}

TEST(ContentChainTest, EndOfDataEditsRecipientsAndHeader) {
  Store store;
  std::vector<std::unique_ptr<ContentStage>> stages;
  auto* rec = new Recorder;
  rec->at_end.header.prepend = {"X-Verdict: ok\r\n"};
  rec->at_end.add_recipients = {{"archive@example.test", "bob@example.test", "", ""}};
  rec->at_end.remove_recipients = {"carol@example.test"};
  stages.emplace_back(rec);
  ContentChain chain(std::move(stages), store);
  chain.append(Message);
  std::vector<Recipient> rcpts{{"bob@example.test", "bob@example.test", "", ""},
                               {"carol@example.test", "carol@example.test", "", ""},
                               {"bob@example.test", "alias@example.test", "", ""}};
  auto end = chain.finish(rcpts);
  ASSERT_EQ(rcpts.size(), 2u);  // carol removed, the duplicate bob collapsed, archive added
  EXPECT_EQ(rcpts[0].address, "bob@example.test");
  EXPECT_EQ(rcpts[1].address, "archive@example.test");
  // Fields added at the end only go on top: the stored header is not rewritten.
  EXPECT_FALSE(end.header);
  EXPECT_EQ(end.top_fields, "X-Verdict: ok\r\n");
}

TEST(ContentChainTest, AReplacedBodyRewritesTheWholeMessage) {
  Store store;
  std::vector<std::unique_ptr<ContentStage>> stages;
  auto* rec = new Recorder;
  rec->at_end.header.prepend = {"X-Verdict: ok\r\n"};
  rec->at_end.body = "new body\r\n";
  stages.emplace_back(rec);
  ContentChain chain(std::move(stages), store);
  chain.append(Message);
  std::vector<Recipient> rcpts;
  auto end = chain.finish(rcpts);
  // Everything the store holds is replaced: the header with its edits, then the new body.
  ASSERT_TRUE(end.header);
  EXPECT_EQ(end.replaced_octets, store.data.size());
  EXPECT_EQ(*end.header,
            "X-Verdict: ok\r\nFrom: a@example.test\r\nSubject: hi\r\n\r\nnew body\r\n");
  EXPECT_TRUE(end.top_fields.empty());
}

TEST(ContentChainTest, ARefusalStopsTheStagesAfterIt) {
  Store store;
  std::vector<std::unique_ptr<ContentStage>> stages;
  auto* refuser = new Recorder;
  refuser->refusal = smtp::Reply(550, "5.7.1", "message content rejected");
  auto* after = new Recorder;
  after->at_end.add_recipients = {{"x@example.test", "x@example.test", "", ""}};
  stages.emplace_back(refuser);
  stages.emplace_back(after);
  ContentChain chain(std::move(stages), store);
  EXPECT_TRUE(chain.mayRefuse());
  chain.append(Message);
  std::vector<Recipient> rcpts;
  auto end = chain.finish(rcpts);
  ASSERT_TRUE(end.refusal);
  EXPECT_EQ(end.refusal->code, 550);
  EXPECT_TRUE(rcpts.empty());
}

TEST(ContentChainTest, AHeaderOverTheLimitIsStoredWholeAndStreamsOn) {
  Store store;
  std::vector<std::unique_ptr<ContentStage>> stages;
  auto* rec = new Recorder;
  stages.emplace_back(rec);
  ContentChain chain(std::move(stages), store, ChainLimits{64});
  std::string big = "X-A: " + std::string(50, 'a') + "\r\nX-B: " + std::string(50, 'b') +
                    "\r\n\r\nbody\r\n";
  chain.append(big);
  std::vector<Recipient> rcpts;
  chain.finish(rcpts);
  EXPECT_EQ(store.data, big);
  EXPECT_EQ(rec->seen_fields, "X-A;");  // the stages saw what fit
}

TEST(ContentChainTest, AMessageWithoutBodyOrHeaderEndIsStoredWhole) {
  Store store;
  ContentChain chain({}, store);
  chain.append("Subject: no end");
  std::vector<Recipient> rcpts;
  chain.finish(rcpts);
  EXPECT_EQ(store.data, "Subject: no end");
}


// A stage that waits (as DKIM's key lookups do): the chain answers once the stage has, with
// the stages after it run then.
class Waiter final : public ContentStage {
 public:
  void onEndAsync(std::vector<Recipient>&, EndEdits& edits, EndDone done) override {
    edits.header.prepend.push_back("X-Waited: yes\r\n");
    pending = std::move(done);
  }
  EndDone pending;
};

TEST(ContentChainTest, AStageThatWaitsIsAnsweredLater) {
  Store store;
  std::vector<std::unique_ptr<ContentStage>> stages;
  auto* waiter = new Waiter;
  auto* after = new Recorder;
  after->at_end.header.prepend = {"X-After: 1\r\n"};
  stages.emplace_back(waiter);
  stages.emplace_back(after);
  ContentChain chain(std::move(stages), store);
  chain.append(Message);
  std::vector<Recipient> rcpts;
  std::optional<ContentChain::End> end;
  chain.finish(rcpts, [&end](ContentChain::End e) { end = std::move(e); });
  EXPECT_FALSE(end);
  ASSERT_TRUE(waiter->pending);
  waiter->pending(std::nullopt);
  ASSERT_TRUE(end);
  EXPECT_FALSE(end->refusal);
  EXPECT_EQ(end->top_fields, "X-Waited: yes\r\nX-After: 1\r\n");
}

TEST(ContentChainTest, TheSynchronousFinishRefusesAStageThatWaits) {
  Store store;
  std::vector<std::unique_ptr<ContentStage>> stages;
  auto* waiter = new Waiter;
  stages.emplace_back(waiter);
  ContentChain chain(std::move(stages), store);
  chain.append(Message);
  std::vector<Recipient> rcpts;
  auto end = chain.finish(rcpts);
  ASSERT_TRUE(end.refusal);
  EXPECT_EQ(end.refusal->code, 451);
  waiter->pending(std::nullopt);  // a late answer goes nowhere (ASan builds catch a stray write)
}

// A stage that edits the body: it holds each line back until its end and gives it out in
// upper case; what it holds at the end comes out in flushBody.
struct Upcaser : ContentStage {
  std::string line;
  bool editsBody() const override { return true; }
  void editBody(std::string_view b, std::string& out) override {
    for (char c : b) {
      line += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (c == '\n') {
        out += line;
        line.clear();
      }
    }
  }
  void flushBody(std::string& out) override {
    out += line;
    line.clear();
  }
};

TEST(ContentChainTest, AnEditingStageFeedsTheLaterStagesAndTheStore) {
  Store store;
  std::vector<std::unique_ptr<ContentStage>> stages;
  auto* before = new Recorder;
  auto* after = new Recorder;
  stages.emplace_back(before);
  stages.emplace_back(new Upcaser);
  stages.emplace_back(after);
  ContentChain chain(std::move(stages), store);
  const std::string unterminated = "From: a@example.test\r\n\r\nline 1\r\nlast";
  for (char c : unterminated) chain.append(std::string_view(&c, 1));
  EXPECT_EQ(after->seen_body, "LINE 1\r\n");  // "last" is still held
  std::vector<Recipient> rcpts;
  auto end = chain.finish(rcpts);
  EXPECT_FALSE(end.refusal);
  EXPECT_EQ(before->seen_body, "line 1\r\nlast");
  EXPECT_EQ(after->seen_body, "LINE 1\r\nLAST");
  EXPECT_EQ(store.data, "From: a@example.test\r\n\r\nLINE 1\r\nLAST");
}

}  // namespace
}  // namespace petrel::content
