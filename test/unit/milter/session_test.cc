// The milter conversation: which commands go out for the negotiated flags, which macros, and
// what each reply does; and the modifications as content edits.
#include "petrel/milter/session.h"

#include <gtest/gtest.h>

namespace petrel::milter {
namespace {

std::string be32(uint32_t v) {
  return std::string{char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}

Packet optneg(uint32_t actions, uint32_t protocol, std::string extra = {}) {
  return Packet{'O', be32(6) + be32(actions) + be32(protocol) + extra};
}

// The commands in `wire`, as letters ("DC" for macros then connect: only the command octets).
std::string commands(const std::string& wire) {
  PacketReader r;
  EXPECT_TRUE(r.feed(wire));
  std::string out;
  while (auto p = r.next()) out += p->command;
  return out;
}

std::vector<Packet> packets(const std::string& wire) {
  PacketReader r;
  EXPECT_TRUE(r.feed(wire));
  std::vector<Packet> out;
  while (auto p = r.next()) out.push_back(*p);
  return out;
}

content::HeaderField field(std::string name, std::string raw) { return {std::move(name), std::move(raw)}; }

struct Fixture {
  MessageFacts facts;
  std::vector<content::HeaderField> header{field("From", "From: a@example.org\r\n"),
                                           field("Subject", "Subject: hi\r\n")};
  std::string body = "hello\r\n";
  Fixture() {
    facts.client_name = "mx.example.net";
    facts.client_addr = "192.0.2.7";
    facts.client_port = 4321;
    facts.helo = "mx.example.net";
    facts.sender = "a@example.org";
    facts.recipients = {{"b@example.com", {}}, {"c@example.com", {"NOTIFY=NEVER"}}};
    facts.macros = {{"j", "mx.petrel.test"}, {"i", "4F2A"}, {"{daemon_name}", "petrel"}};
  }
};

Packet cont() { return Packet{'c', ""}; }

// Negotiated with `protocol` and the CONNECT answered (when it was sent).
void ready(Session& s, uint32_t protocol, uint32_t actions = action::All) {
  s.start();
  Step st = s.onPacket(optneg(actions, protocol));
  if (st.wait != Wait::None) st = s.onPacket(cont());
  ASSERT_EQ(st.wait, Wait::None);
  ASSERT_FALSE(st.done);
}

// Feeds `cont` until the stage is answered; the commands sent on the way.
std::string untilAnswered(Session& s, Step st) {
  std::string seen = commands(st.send);
  while (st.wait != Wait::None && !st.done) {
    st = s.onPacket(cont());
    seen += commands(st.send);
  }
  return seen;
}

TEST(MilterSessionTest, EachStageWhenTheSessionReachesIt) {
  Fixture f;
  Session s(f.facts);
  Step st = s.start();
  EXPECT_EQ(commands(st.send), "O");
  st = s.onPacket(optneg(action::AddHeaders, 0));
  EXPECT_EQ(commands(st.send), "DC");  // the connect macros, then connect
  EXPECT_EQ(st.wait, Wait::Command);
  st = s.onPacket(cont());
  EXPECT_EQ(st.wait, Wait::None);  // CONNECT answered
  EXPECT_EQ(s.outcome().verdict, Outcome::Verdict::Continue);
  EXPECT_EQ(s.outcome().stage, "CONNECT");
  EXPECT_EQ(untilAnswered(s, s.helo()), "H");  // no HELO macro has a value here
  EXPECT_EQ(untilAnswered(s, s.mail()), "DM");
  EXPECT_EQ(untilAnswered(s, s.rcpt(f.facts.recipients[0])), "DR");
  EXPECT_EQ(untilAnswered(s, s.rcpt(f.facts.recipients[1])), "DR");
  EXPECT_EQ(untilAnswered(s, s.data()), "DT");
  EXPECT_EQ(untilAnswered(s, s.content(f.header, f.body)), "LLDNBDE");
  EXPECT_EQ(s.outcome().verdict, Outcome::Verdict::Continue);
  EXPECT_EQ(s.outcome().stage, "END-OF-MESSAGE");
  // The next message: no abort (the milter finished the last one).
  EXPECT_EQ(untilAnswered(s, s.mail()), "DM");
  st = s.quit();
  EXPECT_TRUE(st.done);
  EXPECT_EQ(commands(st.send), "AQ");  // that message was left open
  EXPECT_TRUE(s.closed());
}

TEST(MilterSessionTest, NoAndNoReplyFlagsShortenTheConversation) {
  Fixture f;
  Session s(f.facts);
  s.start();
  Step st = s.onPacket(optneg(0, proto::NoConnect | proto::NoHelo | proto::NoRcpt |
                                     proto::NoReplyMail | proto::NoReplyData |
                                     proto::NoReplyHeader | proto::NoEndOfHeader | proto::NoBody));
  EXPECT_EQ(st.wait, Wait::None);  // CONNECT is not sent: answered at once
  EXPECT_TRUE(st.send.empty());
  st = s.helo();
  EXPECT_EQ(st.wait, Wait::None);
  EXPECT_TRUE(st.send.empty());
  st = s.mail();
  EXPECT_EQ(commands(st.send), "DM");  // not answered
  EXPECT_EQ(st.wait, Wait::None);
  st = s.rcpt(f.facts.recipients[0]);
  EXPECT_TRUE(st.send.empty());
  st = s.content(f.header, f.body);
  EXPECT_EQ(commands(st.send), "LLDE");
  EXPECT_EQ(st.wait, Wait::Content);
  st = s.onPacket(cont());
  EXPECT_EQ(st.wait, Wait::None);
  EXPECT_FALSE(st.done);
}

TEST(MilterSessionTest, HeaderValuesWithoutTheLeadingSpaceUnlessAsked) {
  Fixture f;
  f.header = {field("Subject", "Subject: two\r\n lines\r\n")};
  for (bool lead : {false, true}) {
    Session s(f.facts);
    ready(s, proto::NoConnect | (lead ? proto::HeaderLeadingSpace : 0));
    auto p = packets(s.content(f.header, f.body).send);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].data, lead ? std::string("Subject\0 two\n lines\0", 20)
                              : std::string("Subject\0two\n lines\0", 19));
  }
}

TEST(MilterSessionTest, MacrosPerStageAndAsTheMilterAsks) {
  Fixture f;
  Session s(f.facts);
  s.start();
  // The milter wants {rcpt_addr} and i at RCPT only.
  Step st = s.onPacket(optneg(0, proto::NoConnect | proto::NoHelo | proto::NoMail,
                              be32(3) + std::string("{rcpt_addr} rcpt_host i\0", 24)));
  EXPECT_EQ(st.wait, Wait::None);
  auto p = packets(s.rcpt(f.facts.recipients[0]).send);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].command, 'D');
  EXPECT_EQ(p[0].data, std::string("R{rcpt_addr}\0b@example.com\0{rcpt_host}\0example.com\0i\0" "4F2A\0", 58));
  EXPECT_EQ(p[1].data, std::string("<b@example.com>\0", 16));
  s.onPacket(cont());
  p = packets(s.rcpt(f.facts.recipients[1]).send);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[1].data, std::string("<c@example.com>\0NOTIFY=NEVER\0", 29));
}

TEST(MilterSessionTest, RejectAtRcptRefusesThatRecipientOnly) {
  Fixture f;
  Session s(f.facts);
  ready(s, 0);
  untilAnswered(s, s.mail());
  s.rcpt(f.facts.recipients[0]);
  Step st = s.onPacket(Packet{'r', ""});
  EXPECT_EQ(st.wait, Wait::None);
  EXPECT_FALSE(st.done);
  EXPECT_EQ(s.outcome().verdict, Outcome::Verdict::Reject);
  EXPECT_EQ(s.outcome().stage, "RCPT");
  EXPECT_EQ(s.outcome().reply->oneLine(), "550 5.7.1 Command rejected");
  EXPECT_FALSE(s.idleForMessage());
  EXPECT_EQ(commands(s.rcpt(f.facts.recipients[1]).send), "DR");
  s.onPacket(Packet{'t', ""});
  EXPECT_EQ(s.outcome().reply->oneLine(), "451 4.7.1 Service unavailable - try again later");
  EXPECT_EQ(commands(s.data().send), "DT");
}

TEST(MilterSessionTest, RejectAtMailEndsItsPartInTheMessage) {
  Fixture f;
  Session s(f.facts);
  ready(s, 0);
  s.mail();
  Step st = s.onPacket(Packet{'r', ""});
  EXPECT_FALSE(st.done);
  EXPECT_EQ(s.outcome().verdict, Outcome::Verdict::Reject);
  EXPECT_EQ(s.outcome().stage, "MAIL");
  EXPECT_TRUE(s.idleForMessage());
  st = s.rcpt(f.facts.recipients[0]);
  EXPECT_TRUE(st.send.empty());
  EXPECT_EQ(st.wait, Wait::None);
  EXPECT_EQ(s.outcome().verdict, Outcome::Verdict::Continue);
  // The next transaction: the milter is told the last one is over.
  EXPECT_EQ(commands(s.mail().send), "ADM");
}

TEST(MilterSessionTest, AcceptAtConnectEndsItsPartInTheSession) {
  Fixture f;
  Session s(f.facts);
  s.start();
  s.onPacket(optneg(0, 0));
  s.onPacket(Packet{'a', ""});
  EXPECT_EQ(s.outcome().verdict, Outcome::Verdict::Accept);
  EXPECT_TRUE(s.helo().send.empty());
  EXPECT_TRUE(s.mail().send.empty());
  EXPECT_TRUE(s.content(f.header, f.body).send.empty());
  EXPECT_EQ(commands(s.quit().send), "Q");
}

TEST(MilterSessionTest, AcceptOrDiscardAtAMessageStageEndsItsPartInTheMessage) {
  for (char verdict : {'a', 'd'}) {
    Fixture f;
    Session s(f.facts);
    ready(s, 0);
    untilAnswered(s, s.mail());
    s.rcpt(f.facts.recipients[0]);
    s.onPacket(Packet{verdict, ""});
    EXPECT_EQ(s.outcome().verdict,
              verdict == 'a' ? Outcome::Verdict::Accept : Outcome::Verdict::Discard);
    EXPECT_TRUE(s.idleForMessage());
    EXPECT_TRUE(s.data().send.empty());
    EXPECT_EQ(commands(s.helo().send), "AH");  // a new HELO resets the transaction
    EXPECT_FALSE(s.idleForMessage());
  }
}

TEST(MilterSessionTest, RejectedRecipientsOnlyForAMilterThatAsks) {
  Fixture f;
  Session s(f.facts);
  ready(s, 0);
  untilAnswered(s, s.mail());
  Step st = s.rcpt(f.facts.recipients[0], true);
  EXPECT_TRUE(st.send.empty());
  EXPECT_EQ(st.wait, Wait::None);

  Session t(f.facts);
  ready(t, proto::RcptRejected);
  untilAnswered(t, t.mail());
  auto p = packets(t.rcpt(f.facts.recipients[0], true).send);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_NE(p[0].data.find(std::string("{rcpt_mailer}\0error\0", 20)), std::string::npos);
  st = t.onPacket(Packet{'r', ""});  // what it thinks does not count
  EXPECT_EQ(st.wait, Wait::None);
  EXPECT_EQ(t.outcome().verdict, Outcome::Verdict::Continue);
  EXPECT_FALSE(t.idleForMessage());
}

TEST(MilterSessionTest, RepliesAtTheEndOfMessage) {
  struct Case {
    Packet reply;
    Outcome::Verdict verdict;
    std::string text;
  };
  std::vector<Case> cases = {
      {Packet{'a', ""}, Outcome::Verdict::Accept, ""},
      {Packet{'t', ""}, Outcome::Verdict::Tempfail, "451 4.7.1 Service unavailable - try again later"},
      {Packet{'d', ""}, Outcome::Verdict::Discard, ""},
      {Packet{'y', std::string("554 5.7.0 go away\0", 18)}, Outcome::Verdict::Reject, "554 5.7.0 go away"},
      {Packet{'y', std::string("421 busy\0", 9)}, Outcome::Verdict::Tempfail, "421 4.7.1 busy"},
  };
  for (const Case& c : cases) {
    Fixture f;
    Session s(f.facts);
    ready(s, proto::NoHeaders | proto::NoEndOfHeader | proto::NoBody);
    EXPECT_EQ(commands(s.content(f.header, f.body).send), "DE");
    Step st = s.onPacket(c.reply);
    EXPECT_EQ(st.wait, Wait::None);
    EXPECT_FALSE(st.done);
    EXPECT_EQ(s.outcome().verdict, c.verdict);
    EXPECT_EQ(s.outcome().stage, "END-OF-MESSAGE");
    EXPECT_EQ(s.outcome().reply ? s.outcome().reply->oneLine() : "", c.text);
    EXPECT_EQ(commands(s.quit().send), "Q");  // the message is over for the milter
  }
}

TEST(MilterSessionTest, ProgressWaitsAndSkipJumpsToTheEnd) {
  Fixture f;
  f.body = std::string(BodyChunk * 3, 'x');
  Session s(f.facts);
  ready(s, proto::NoHeaders | proto::NoEndOfHeader | proto::Skip);
  Step st = s.content(f.header, f.body);
  EXPECT_EQ(commands(st.send), "B");
  EXPECT_EQ(st.wait, Wait::Content);
  st = s.onPacket(Packet{'p', ""});
  EXPECT_TRUE(st.send.empty());
  EXPECT_EQ(st.wait, Wait::Content);
  st = s.onPacket(Packet{'s', ""});
  EXPECT_EQ(commands(st.send), "DE");
}

TEST(MilterSessionTest, ModificationsOnlyAtTheEndAndOnlyNegotiated) {
  Fixture f;
  Session s(f.facts);
  ready(s, proto::NoHeaders | proto::NoEndOfHeader | proto::NoBody, action::AddHeaders);
  s.content(f.header, f.body);
  s.onPacket(Packet{'h', std::string("X-A\0one\0", 8)});
  s.onPacket(Packet{'+', std::string("<x@y>\0", 6)});  // not negotiated
  Step st = s.onPacket(cont());
  EXPECT_EQ(st.wait, Wait::None);
  ASSERT_EQ(s.outcome().modifications.size(), 1u);
  EXPECT_EQ(s.outcome().warnings.size(), 1u);

  Session early(f.facts);
  ready(early, 0);
  early.mail();
  st = early.onPacket(Packet{'h', std::string("X-A\0one\0", 8)});
  EXPECT_TRUE(st.done);
  EXPECT_EQ(commands(st.send), "AQ");
  EXPECT_EQ(early.outcome().verdict, Outcome::Verdict::Failed);
  EXPECT_EQ(early.outcome().stage, "MAIL");
  // Failed for the rest of the session: each later stage says so at once.
  st = early.rcpt(f.facts.recipients[0]);
  EXPECT_TRUE(st.done);
  EXPECT_TRUE(st.send.empty());
}

TEST(MilterSessionTest, BadNegotiationFails) {
  Fixture f;
  Session s(f.facts);
  s.start();
  Step st = s.onPacket(Packet{'O', be32(1) + be32(0) + be32(0)});
  EXPECT_TRUE(st.done);
  EXPECT_EQ(s.outcome().verdict, Outcome::Verdict::Failed);
  EXPECT_EQ(s.outcome().stage, "CONNECT");
  Session t(f.facts);
  t.start();
  st = t.onPacket(optneg(0, 0x400000));
  EXPECT_EQ(t.outcome().verdict, Outcome::Verdict::Failed);
  Session u(f.facts);
  u.start();
  u.fail("timeout after 1s");
  EXPECT_TRUE(u.closed());
  EXPECT_EQ(u.outcome().failure, "timeout after 1s");
}

TEST(MilterSessionTest, ReplyCodes) {
  EXPECT_EQ(parseReplyCode("550 5.7.1 no")->oneLine(), "550 5.7.1 no");
  auto multi = parseReplyCode("550-5.7.1 first\r\n550 5.7.1 second");
  ASSERT_TRUE(multi);
  EXPECT_EQ(multi->lines.size(), 2u);
  EXPECT_FALSE(parseReplyCode("250 ok"));
  EXPECT_FALSE(parseReplyCode("55"));
  EXPECT_FALSE(parseReplyCode("550 a\n450 b"));
  EXPECT_EQ(parseReplyCode("550 bad\x01text")->lines[0], "bad?text");
}

Outcome withMods(std::vector<Modification> mods) {
  Outcome o;
  o.modifications = std::move(mods);
  return o;
}

TEST(MilterModificationsTest, HeaderEditsByStoredIndex) {
  std::vector<content::HeaderField> stored{field("Received", "Received: x\r\n"),
                                           field("Subject", "Subject: hi\r\n"),
                                           field("X-Old", "X-Old: 1\r\n"),
                                           field("Subject", "Subject: again\r\n")};
  content::EndEdits edits;
  std::vector<std::string> warnings;
  applyModifications(stored,
                     withMods({{reply::AddHeader, 0, "X-Added", "yes"},
                               {reply::InsertHeader, 0, "X-Top", "t"},
                               {reply::InsertHeader, 2, "X-Mid", "a\nb"},
                               {reply::ChangeHeader, 2, "subject", "changed"},
                               {reply::ChangeHeader, 1, "X-Old", ""},
                               {reply::ChangeHeader, 1, "X-Missing", "new"},
                               {reply::ChangeHeader, 1, "X-Gone", ""}}),
                     edits, warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(edits.header.prepend, std::vector<std::string>{"X-Top: t\r\n"});
  // X-Mid after Received (index 2 counts X-Top), X-Old removed, the second Subject changed
  // with the added fields after it.
  ASSERT_EQ(edits.header.replace.size(), 2u);
  EXPECT_EQ(edits.header.replace[0].first, 0u);
  EXPECT_EQ(edits.header.replace[0].second, "Received: x\r\nX-Mid: a\r\n\tb\r\n");
  EXPECT_EQ(edits.header.replace[1].first, 3u);
  EXPECT_EQ(edits.header.replace[1].second,
            "Subject: changed\r\nX-Added: yes\r\nX-Missing: new\r\n");
  EXPECT_EQ(edits.header.remove, std::vector<size_t>{2});
  std::vector<content::HeaderField> fields = stored;
  EXPECT_EQ(content::applyHeaderEdits(fields, edits.header, "\r\n"),
            "X-Top: t\r\nReceived: x\r\nX-Mid: a\r\n\tb\r\nSubject: hi\r\nSubject: changed\r\n"
            "X-Added: yes\r\nX-Missing: new\r\n\r\n");
}

TEST(MilterModificationsTest, EnvelopeQuarantineAndBody) {
  content::EndEdits edits;
  std::vector<std::string> warnings;
  applyModifications({},
                     withMods({{reply::AddRcpt, 0, "<new@example.com>", ""},
                               {reply::AddRcptWithArgs, 0, "<p@example.com>",
                                "NOTIFY=FAILURE ORCPT=rfc822;p@example.com"},
                               {reply::DelRcpt, 0, "<old@example.com>", ""},
                               {reply::ChangeFrom, 0, "<s@example.net>", ""},
                               {reply::Quarantine, 0, "spam", ""},
                               {reply::ReplaceBody, 0, "", "new\nbo"},
                               {reply::ReplaceBody, 0, "", "dy"},
                               {reply::AddHeader, 0, "Bad Name", "x"}}),
                     edits, warnings);
  ASSERT_EQ(edits.add_recipients.size(), 2u);
  EXPECT_EQ(edits.add_recipients[0].address, "new@example.com");
  EXPECT_EQ(edits.add_recipients[1].dsn_notify, "FAILURE");
  EXPECT_EQ(edits.add_recipients[1].dsn_orcpt, "rfc822;p@example.com");
  EXPECT_EQ(edits.remove_recipients, std::vector<std::string>{"old@example.com"});
  EXPECT_EQ(edits.sender, "s@example.net");
  EXPECT_EQ(edits.hold, "milter triggers HOLD action: spam");
  EXPECT_EQ(edits.body, "new\r\nbody\r\n");  // the chunks joined, CRLF line ends
  EXPECT_EQ(warnings.size(), 1u);  // the bad name
  EXPECT_TRUE(edits.header.empty());
}

TEST(MilterModificationsTest, ReplacementBodyLineEnds) {
  EXPECT_EQ(crlfBody("a\r\nb\nc\rd"), "a\r\nb\r\nc\r\nd\r\n");
  EXPECT_EQ(crlfBody(""), "");
  EXPECT_EQ(crlfBody("x\r\n"), "x\r\n");
}

TEST(MilterModificationsTest, BadAddressesAndReasonsAreNotTaken) {
  content::EndEdits edits;
  std::vector<std::string> warnings;
  applyModifications({},
                     withMods({{reply::AddRcpt, 0, "<a b@example.com>", ""},
                               {reply::DelRcpt, 0, "<x@y\r\nBcc: z>", ""},
                               {reply::ChangeFrom, 0, "<>", ""},
                               {reply::AddRcptWithArgs, 0, "<c@d>", "NOTIFY=NEVER\r\nX"},
                               {reply::Quarantine, 0, "why\r\nnot", ""}}),
                     edits, warnings);
  ASSERT_EQ(edits.add_recipients.size(), 1u);
  EXPECT_EQ(edits.add_recipients[0].address, "c@d");
  EXPECT_EQ(edits.add_recipients[0].dsn_notify, "");
  EXPECT_TRUE(edits.remove_recipients.empty());
  EXPECT_EQ(edits.sender, "");
  EXPECT_EQ(edits.hold, "milter triggers HOLD action: why  not");
  EXPECT_EQ(warnings.size(), 3u);
}

TEST(MilterModificationsTest, TheNextMilterSeesTheEarlierChanges) {
  std::vector<content::HeaderField> stored{field("Subject", "Subject: hi\r\n")};
  HeaderModel model(stored);
  content::EndEdits edits;
  std::vector<std::string> warnings;
  model.apply(withMods({{reply::AddHeader, 0, "X-A", "one"}, {reply::ChangeHeader, 1, "Subject", ""}}),
              edits, warnings);
  std::vector<content::HeaderField> second = model.fields();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].raw, "X-A: one\r\n");
  model.apply(withMods({{reply::ChangeHeader, 1, "X-A", "two"}, {reply::InsertHeader, 0, "X-B", "b"}}),
              edits, warnings);
  model.writeEdits(edits.header);
  std::vector<content::HeaderField> fields = stored;
  EXPECT_EQ(content::applyHeaderEdits(fields, edits.header, "\r\n"), "X-B: b\r\nX-A: two\r\n\r\n");
}

}  // namespace
}  // namespace petrel::milter
