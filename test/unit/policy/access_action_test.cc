// Tests for the access(5) action parser (source/policy/checks/access_action.cc): every action
// word, its reply code and text, the actions it attaches, pending deferrals, restriction class
// names, and the values that are configuration errors (451 4.3.5 and a warning, never 5xx).
#include "../../../source/policy/checks/access_action.h"

#include <gtest/gtest.h>

#include <string>

namespace petrel::policy::checks {
namespace {

using Kind = Decision::Kind;
using ActionKind = PolicyAction::Kind;

const AccessSubject Sender{"<a@b.example>: Sender address rejected",
                           "<a@b.example>: Sender address"};

AccessAction parse(std::string_view value) {
  return parseAccessAction("check_sender_access t", "inline:t", value, Sender);
}

std::string reply(const Decision& d) {
  return std::to_string(d.code) + " " + d.enhanced + " " + d.text;
}

TEST(AccessAction, PermitWords) {
  for (std::string_view v : {"OK", "ok", "PERMIT", "  OK  ", "12345", "1"}) {
    AccessAction a = parse(v);
    EXPECT_EQ(a.decision.kind, Kind::Permit) << v;
    EXPECT_EQ(a.decision.rule, "check_sender_access t") << v;
    EXPECT_TRUE(a.restriction_class.empty()) << v;
  }
}

TEST(AccessAction, Dunno) {
  AccessAction a = parse("DUNNO");
  EXPECT_EQ(a.decision.kind, Kind::Dunno);
  EXPECT_TRUE(a.decision.actions.empty());
  EXPECT_EQ(a.decision.pending, Decision::Pending::None);
}

TEST(AccessAction, RejectAndDeferTexts) {
  EXPECT_EQ(reply(parse("REJECT").decision),
            "554 5.7.1 <a@b.example>: Sender address rejected: Access denied");
  EXPECT_EQ(reply(parse("reject go away").decision),
            "554 5.7.1 <a@b.example>: Sender address rejected: go away");
  EXPECT_EQ(parse("REJECT").decision.kind, Kind::Reject);
  EXPECT_EQ(reply(parse("DEFER").decision),
            "450 4.7.1 <a@b.example>: Sender address rejected: Access denied");
  EXPECT_EQ(parse("DEFER later").decision.kind, Kind::Defer);
}

TEST(AccessAction, NumericReplies) {
  EXPECT_EQ(reply(parse("550 5.7.2 go away").decision),
            "550 5.7.2 <a@b.example>: Sender address rejected: go away");
  EXPECT_EQ(parse("550 go away").decision.kind, Kind::Reject);
  EXPECT_EQ(reply(parse("550 go away").decision),
            "550 5.7.1 <a@b.example>: Sender address rejected: go away");
  EXPECT_EQ(reply(parse("421 4.7.0 busy").decision),
            "421 4.7.0 <a@b.example>: Sender address rejected: busy");
  EXPECT_EQ(parse("421 busy").decision.kind, Kind::Defer);
  // The enhanced code's class is made the reply's.
  EXPECT_EQ(reply(parse("550 4.7.9 x").decision),
            "550 5.7.9 <a@b.example>: Sender address rejected: x");
  EXPECT_EQ(reply(parse("554").decision),
            "554 5.7.1 <a@b.example>: Sender address rejected: Access denied");
  // 3NN and 2NN are no replies an access map may give: all digits, 3 of them, not 4/5.
  EXPECT_EQ(parse("250 ok").decision.code, 451);
}

TEST(AccessAction, PendingDeferrals) {
  AccessAction p = parse("DEFER_IF_PERMIT not yet");
  EXPECT_EQ(p.decision.kind, Kind::Dunno);
  EXPECT_EQ(p.decision.pending, Decision::Pending::DeferIfPermit);
  EXPECT_EQ(reply(p.decision), "450 4.7.1 <a@b.example>: Sender address rejected: not yet");
  AccessAction r = parse("defer_if_reject");
  EXPECT_EQ(r.decision.kind, Kind::Dunno);
  EXPECT_EQ(r.decision.pending, Decision::Pending::DeferIfReject);
  EXPECT_EQ(reply(r.decision),
            "450 4.7.1 <a@b.example>: Sender address rejected: Service unavailable");
}

// A leading enhanced code in the text of REJECT, DEFER, DEFER_IF_PERMIT, DEFER_IF_REJECT (as
// for 4NN/5NN) is the reply's enhanced code, its class the reply's (Postfix dsn_split):
// postgrey 1.37 answers "DEFER_IF_PERMIT 4.7.1 Greylisted, see ...", policyd-spf
// "DEFER_IF_PERMIT 4.7.24 SPF temperror ...".
TEST(AccessAction, LeadingEnhancedCodes) {
  AccessAction grey = parse("DEFER_IF_PERMIT 4.2.0 Greylisted, see http://postgrey.example/");
  EXPECT_EQ(grey.decision.pending, Decision::Pending::DeferIfPermit);
  EXPECT_EQ(reply(grey.decision),
            "450 4.2.0 <a@b.example>: Sender address rejected: Greylisted, see "
            "http://postgrey.example/");
  EXPECT_EQ(reply(parse("defer_if_reject 4.7.24 SPF temperror").decision),
            "450 4.7.24 <a@b.example>: Sender address rejected: SPF temperror");
  EXPECT_EQ(reply(parse("DEFER_IF_PERMIT 5.7.1 odd class").decision),
            "450 4.7.1 <a@b.example>: Sender address rejected: odd class");
  EXPECT_EQ(reply(parse("DEFER_IF_PERMIT 4.7.1").decision),
            "450 4.7.1 <a@b.example>: Sender address rejected: Service unavailable");
  EXPECT_EQ(reply(parse("DEFER 4.3.2 busy").decision),
            "450 4.3.2 <a@b.example>: Sender address rejected: busy");
  EXPECT_EQ(reply(parse("REJECT 5.7.26 unauthenticated").decision),
            "554 5.7.26 <a@b.example>: Sender address rejected: unauthenticated");
  EXPECT_EQ(reply(parse("REJECT 4.7.1 wrong class").decision),
            "554 5.7.1 <a@b.example>: Sender address rejected: wrong class");
  // Not an enhanced code: part of the text.
  EXPECT_EQ(reply(parse("DEFER 4.7 later").decision),
            "450 4.7.1 <a@b.example>: Sender address rejected: 4.7 later");
  EXPECT_EQ(reply(parse("REJECT 5.7.1234 x").decision),
            "554 5.7.1 <a@b.example>: Sender address rejected: 5.7.1234 x");
}

TEST(AccessAction, MessageActionsGoOn) {
  struct Case {
    std::string_view value;
    ActionKind kind;
    std::string text;
    std::string target;
  };
  const Case cases[] = {
      {"PREPEND X-Spam: yes", ActionKind::AddHeader, "X-Spam: yes", ""},
      {"HOLD", ActionKind::Hold, "<a@b.example>: Sender address triggers HOLD action", ""},
      {"HOLD look", ActionKind::Hold, "<a@b.example>: Sender address look", ""},
      {"DISCARD", ActionKind::Discard, "<a@b.example>: Sender address triggers DISCARD action", ""},
      {"REDIRECT trap@example.org", ActionKind::Redirect,
       "<a@b.example>: Sender address triggers REDIRECT trap@example.org", "trap@example.org"},
      {"FILTER smtp:[127.0.0.1]:10025", ActionKind::Filter,
       "<a@b.example>: Sender address triggers FILTER smtp:[127.0.0.1]:10025",
       "smtp:[127.0.0.1]:10025"},
      {"WARN odd one", ActionKind::LogWarn, "odd one", ""},
      {"INFO seen", ActionKind::LogInfo, "seen", ""},
  };
  for (const Case& c : cases) {
    AccessAction a = parse(c.value);
    EXPECT_EQ(a.decision.kind, Kind::Dunno) << c.value;
    ASSERT_EQ(a.decision.actions.size(), 1u) << c.value;
    EXPECT_EQ(a.decision.actions[0].kind, c.kind) << c.value;
    EXPECT_EQ(a.decision.actions[0].text, c.text) << c.value;
    EXPECT_EQ(a.decision.actions[0].target, c.target) << c.value;
  }
}

TEST(AccessAction, OneUnknownWordNamesAClass) {
  AccessAction a = parse("from_outside");
  EXPECT_EQ(a.restriction_class, "from_outside");
  EXPECT_EQ(a.decision.kind, Kind::Dunno);
  EXPECT_TRUE(parse("REJECT").restriction_class.empty());
}

TEST(AccessAction, ConfigurationErrorsAre451WithAWarning) {
  for (std::string_view v :
       {"PREPEND no colon", "PREPEND", "REDIRECT nobody", "REDIRECT", "REDIRECT <a@b>", "FILTER",
        "FILTER nocolon", "FILTER smtp:", "FROB with words", ""}) {
    AccessAction a = parse(v);
    EXPECT_TRUE(a.restriction_class.empty()) << v;
    EXPECT_EQ(a.decision.kind, Kind::Defer) << v;
    EXPECT_EQ(reply(a.decision),
              "451 4.3.5 <a@b.example>: Sender address rejected: Server configuration error")
        << v;
    ASSERT_EQ(a.decision.actions.size(), 1u) << v;
    EXPECT_EQ(a.decision.actions[0].kind, ActionKind::ConfigWarning) << v;
    EXPECT_TRUE(a.decision.actions[0].text.starts_with("access table inline:t: ")) << v;
  }
}

TEST(AccessAction, TextsAreBoundedAndHaveNoControlCharacters) {
  AccessAction a = parse("REJECT bad\r\nX-Injected: yes");
  EXPECT_EQ(a.decision.text.find_first_of("\r\n"), std::string::npos);
  AccessAction w = parse("WARN " + std::string(2000, 'x'));
  ASSERT_EQ(w.decision.actions.size(), 1u);
  EXPECT_LE(w.decision.actions[0].text.size(), 400u);
  // A header field with a line break in it is refused, not split.
  EXPECT_EQ(parse("PREPEND X-A: 1\r\nX-B: 2").decision.code, 451);
}

TEST(AccessAction, ActionWords) {
  EXPECT_TRUE(isAccessActionWord("REJECT"));
  EXPECT_TRUE(isAccessActionWord("defer_if_permit"));
  EXPECT_FALSE(isAccessActionWord("from_outside"));
}

}  // namespace
}  // namespace petrel::policy::checks
