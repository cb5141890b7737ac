// Tests for the Authentication-Results stage (server/authentication_stage.cc) in a content
// chain over a FakeResolver: DMARC's verdicts (reject refuses with 550 5.7.1, quarantine with
// on_quarantine hold asks for a hold, pass delivers), the SPF result taken from a restriction
// check's resinfo or evaluated by the stage itself, a message without From:, the field on top
// and a client's field claiming our authserv-id removed, and a stage destroyed while it waits.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "fakes/fake_resolver.h"
#include "petrel/server/content_stages.h"

namespace petrel::server {
namespace {

constexpr std::string_view Zone = R"(
_dmarc.bank.test TXT "v=DMARC1; p=reject"
bank.test TXT "v=spf1 -all"
_dmarc.quar.test TXT "v=DMARC1; p=quarantine"
quar.test TXT "v=spf1 -all"
_dmarc.good.test TXT "v=DMARC1; p=reject; aspf=s"
good.test TXT "v=spf1 ip4:192.0.2.1 -all"
evil.test TXT "v=spf1 +all"
)";

struct Store : smtp::BodySink {
  std::string data;
  void append(std::string_view b) override { data.append(b); }
};

class AuthenticationStageTest : public ::testing::Test {
 protected:
  AuthenticationSettings settings(std::string mail_from) {
    AuthenticationSettings s;
    s.authserv_id = "mx.example.test";
    s.resolver = &dns_;
    s.dkim_verify = true;
    s.dmarc_psl = psl_;
    s.dmarc_actions.on_quarantine = dmarc::OnQuarantine::Hold;
    s.spf = spf::mailFromRequest("192.0.2.1", mail_from, "client.example");
    s.on_dmarc = [this](const dmarc::Evaluation& e, const dmarc::Verdict&,
                        const dmarc::AuthInputs&) {
      evaluated_.push_back(std::string(dmarc::outcomeName(e.result)) + ":" + e.from_domain);
    };
    return s;
  }

  // Streams `message` through a chain with the stage; the answers come from the fake.
  content::ContentChain::End run(AuthenticationSettings s, const std::string& message) {
    std::vector<std::unique_ptr<content::ContentStage>> stages;
    stages.push_back(authenticationResults(std::move(s)));
    content::ContentChain chain(std::move(stages), store_);
    chain.append(message);
    std::vector<content::Recipient> rcpts{{"alice@example.test", "", "", ""}};
    std::optional<content::ContentChain::End> end;
    chain.finish(rcpts, [&end](content::ContentChain::End e) { end = std::move(e); });
    dns_.runPending();
    EXPECT_TRUE(end.has_value());
    return end.value_or(content::ContentChain::End{});
  }

  dns::FakeResolver dns_{Zone};
  dmarc::PublicSuffixListPtr psl_ = std::make_shared<const dmarc::PublicSuffixList>(
      dmarc::PublicSuffixList::parse("test\n", "test").value());
  Store store_;
  std::vector<std::string> evaluated_;
};

TEST_F(AuthenticationStageTest, AForgedFromOfARejectDomainIsRefused) {
  auto end = run(settings("attacker@evil.test"),
                 "From: Bank <ceo@bank.test>\r\nSubject: x\r\n\r\nHi\r\n");
  ASSERT_TRUE(end.refusal.has_value());
  EXPECT_EQ(end.refusal->oneLine(), "550 5.7.1 rejected by DMARC policy for bank.test");
  EXPECT_EQ(evaluated_, std::vector<std::string>{"fail:bank.test"});
}

TEST_F(AuthenticationStageTest, QuarantineWithHoldAsksTheQueueToHold) {
  auto end = run(settings("attacker@evil.test"), "From: q@quar.test\r\n\r\nHi\r\n");
  EXPECT_FALSE(end.refusal.has_value());
  ASSERT_TRUE(end.hold.has_value());
  EXPECT_EQ(*end.hold, "quarantined by DMARC policy for quar.test");
  EXPECT_NE(end.top_fields.find("dmarc=fail (p=quarantine dis=quarantine) header.from=quar.test"),
            std::string::npos)
      << end.top_fields;
}

TEST_F(AuthenticationStageTest, AlignedSpfPassesAndTheFieldSaysSo) {
  auto end = run(settings("sender@good.test"),
                 "Authentication-Results: mx.example.test; dmarc=pass header.from=bank.test\r\n"
                 "Authentication-Results: other.example; spf=pass\r\n"
                 "From: sender@good.test\r\n\r\nHi\r\n");
  EXPECT_FALSE(end.refusal.has_value());
  EXPECT_FALSE(end.hold.has_value());
  EXPECT_EQ(end.top_fields,
            "Authentication-Results: mx.example.test;\r\n\tdkim=none;\r\n"
            "\tspf=pass smtp.mailfrom=good.test;\r\n"
            "\tdmarc=pass (p=reject dis=none) header.from=good.test\r\n");
  // The client's field claiming our authserv-id never reached the store; the other one did.
  EXPECT_EQ(store_.data,
            "Authentication-Results: other.example; spf=pass\r\n"
            "From: sender@good.test\r\n\r\nHi\r\n");
  EXPECT_EQ(evaluated_, std::vector<std::string>{"pass:good.test"});
}

TEST_F(AuthenticationStageTest, ARecordedSpfResultIsUsedWithoutAskingAgain) {
  AuthenticationSettings s = settings("sender@good.test");
  s.results = {"spf=pass smtp.mailfrom=good.test"};
  auto end = run(std::move(s), "From: sender@good.test\r\n\r\nHi\r\n");
  EXPECT_FALSE(end.refusal.has_value());
  EXPECT_NE(end.top_fields.find("dmarc=pass"), std::string::npos) << end.top_fields;
  for (const std::string& q : dns_.queries()) EXPECT_NE(q, "good.test TXT");
  // A recorded fail of the same check is a DMARC fail: SPF alone decides here.
  evaluated_.clear();
  s = settings("sender@good.test");
  s.results = {"spf=fail smtp.mailfrom=good.test"};
  end = run(std::move(s), "From: sender@good.test\r\n\r\nHi\r\n");
  ASSERT_TRUE(end.refusal.has_value());
  EXPECT_EQ(evaluated_, std::vector<std::string>{"fail:good.test"});
}

TEST_F(AuthenticationStageTest, NoFromDomainIsPermerrorAndNeverARefusal) {
  auto end = run(settings("attacker@evil.test"), "Subject: no author\r\n\r\nHi\r\n");
  EXPECT_FALSE(end.refusal.has_value());
  EXPECT_NE(end.top_fields.find("dmarc=permerror"), std::string::npos) << end.top_fields;
}

TEST_F(AuthenticationStageTest, WithoutDmarcNoPolicyIsLookedUp) {
  AuthenticationSettings s = settings("attacker@evil.test");
  s.dmarc_psl = nullptr;
  s.spf.reset();
  auto end = run(std::move(s), "From: Bank <ceo@bank.test>\r\n\r\nHi\r\n");
  EXPECT_FALSE(end.refusal.has_value());
  EXPECT_EQ(end.top_fields, "Authentication-Results: mx.example.test;\r\n\tdkim=none\r\n");
  EXPECT_TRUE(dns_.queries().empty());
}

TEST_F(AuthenticationStageTest, AStageDestroyedWhileItWaitsNeverAnswers) {
  bool answered = false;
  {
    std::vector<std::unique_ptr<content::ContentStage>> stages;
    stages.push_back(authenticationResults(settings("attacker@evil.test")));
    content::ContentChain chain(std::move(stages), store_);
    chain.append("From: ceo@bank.test\r\n\r\nHi\r\n");
    std::vector<content::Recipient> rcpts;
    chain.finish(rcpts, [&answered](content::ContentChain::End) { answered = true; });
    EXPECT_FALSE(answered);  // SPF and the DMARC record are still being looked up
  }
  dns_.runPending();
  EXPECT_FALSE(answered);
}

}  // namespace
}  // namespace petrel::server
