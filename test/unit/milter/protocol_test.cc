// The milter wire codec: packets, commands as bytes, replies taken apart, the size limit.
#include "petrel/milter/protocol.h"

#include <gtest/gtest.h>

namespace petrel::milter {
namespace {

std::string be32(uint32_t v) {
  return std::string{char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}

TEST(MilterProtocolTest, EncodesALengthPrefixedPacket) {
  EXPECT_EQ(encode('c', ""), std::string("\0\0\0\1c", 5));
  EXPECT_EQ(helo("mx.example"), be32(12) + "Hmx.example" + std::string(1, '\0'));
}

TEST(MilterProtocolTest, ConnectCarriesFamilyPortAndAddress) {
  std::string p = connect("mx.example", '4', 2525, "192.0.2.7");
  EXPECT_EQ(p.substr(4), std::string("Cmx.example\0" "4\x09\xdd" "192.0.2.7\0", 25));
  EXPECT_EQ(connect("unknown", 'U', 0, "x").substr(4), std::string("Cunknown\0U", 10));
}

TEST(MilterProtocolTest, EnvelopeCommandsHaveAngleBracketsAndArguments) {
  EXPECT_EQ(mail("a@b.example", {"SIZE=10"}).substr(4),
            std::string("M<a@b.example>\0SIZE=10\0", 23));
  EXPECT_EQ(rcpt("", {}).substr(4), std::string("R<>\0", 4));
}

TEST(MilterProtocolTest, MacrosNameTheirCommand) {
  EXPECT_EQ(macros(cmd::Connect, {{"j", "mx"}, {"{daemon_name}", "petrel"}}).substr(4),
            std::string("DCj\0mx\0{daemon_name}\0petrel\0", 28));
}

TEST(MilterProtocolTest, OptionNegotiationRoundTrip) {
  Options o;
  o.actions = action::All;
  o.protocol = proto::NoHelo | proto::NoReplyHeader;
  std::string wire = optionNegotiation(o);
  PacketReader reader;
  ASSERT_TRUE(reader.feed(wire));
  auto p = reader.next();
  ASSERT_TRUE(p);
  EXPECT_EQ(p->command, cmd::OptionNegotiation);
  auto back = parseOptions(*p);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->version, 6u);
  EXPECT_EQ(back->actions, action::All);
  EXPECT_EQ(back->protocol, proto::NoHelo | proto::NoReplyHeader);
}

TEST(MilterProtocolTest, OptionNegotiationReplyWithSymbolLists) {
  Packet p{'O', be32(6) + be32(0x1) + be32(0) + be32(2) + std::string("{mail_addr} i\0", 14) +
                    be32(5) + std::string("{x}\0", 4)};
  auto o = parseOptions(p);
  ASSERT_TRUE(o);
  ASSERT_EQ(o->symbol_lists.size(), 2u);
  EXPECT_EQ(o->symbol_lists[0].first, MacroStage::Mail);
  EXPECT_EQ(o->symbol_lists[0].second, "{mail_addr} i");
  EXPECT_FALSE(parseOptions(Packet{'O', be32(6) + be32(0)}));
  EXPECT_FALSE(parseOptions(Packet{'O', be32(6) + be32(0) + be32(0) + be32(2) + "x"}));
  EXPECT_FALSE(parseOptions(Packet{'c', ""}));
}

TEST(MilterProtocolTest, ReaderCutsPacketsAcrossReads) {
  std::string two = encode('h', std::string("X-A\0one\0", 8)) + encode('c', "");
  PacketReader reader;
  ASSERT_TRUE(reader.feed(two.substr(0, 3)));
  EXPECT_FALSE(reader.next());
  ASSERT_TRUE(reader.feed(two.substr(3, 7)));
  EXPECT_FALSE(reader.next());
  ASSERT_TRUE(reader.feed(two.substr(10)));
  auto a = reader.next();
  ASSERT_TRUE(a);
  auto r = parseReply(*a);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, reply::AddHeader);
  EXPECT_EQ(r->name, "X-A");
  EXPECT_EQ(r->value, "one");
  auto b = reader.next();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->command, 'c');
  EXPECT_FALSE(reader.next());
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(MilterProtocolTest, ReaderRefusesOversizedAndEmptyPackets) {
  PacketReader big;
  EXPECT_FALSE(big.feed(be32(MaxPacket + 1) + "b"));
  PacketReader empty;
  EXPECT_FALSE(empty.feed(be32(0)));
}

TEST(MilterProtocolTest, RepliesWithIndexes) {
  auto chg = parseReply(Packet{'m', be32(2) + std::string("Subject\0new\0", 12)});
  ASSERT_TRUE(chg);
  EXPECT_EQ(chg->index, 2u);
  EXPECT_EQ(chg->name, "Subject");
  EXPECT_EQ(chg->value, "new");
  auto ins = parseReply(Packet{'i', be32(0) + std::string("X-I\0v\0", 6)});
  ASSERT_TRUE(ins);
  EXPECT_EQ(ins->kind, reply::InsertHeader);
  EXPECT_FALSE(parseReply(Packet{'m', be32(2) + std::string("Subject")}));
  EXPECT_FALSE(parseReply(Packet{'i', "ab"}));
}

TEST(MilterProtocolTest, RecipientAndSenderReplies) {
  auto add = parseReply(Packet{'2', std::string("<c@d>\0NOTIFY=NEVER\0", 19)});
  ASSERT_TRUE(add);
  EXPECT_EQ(add->name, "<c@d>");
  EXPECT_EQ(add->value, "NOTIFY=NEVER");
  auto from = parseReply(Packet{'e', std::string("<s@d>\0", 6)});
  ASSERT_TRUE(from);
  EXPECT_EQ(from->value, "");
  auto code = parseReply(Packet{'y', std::string("554 5.7.1 no\0", 13)});
  ASSERT_TRUE(code);
  EXPECT_EQ(code->name, "554 5.7.1 no");
  EXPECT_FALSE(parseReply(Packet{'+', "no-nul"}));
  EXPECT_FALSE(parseReply(Packet{'Z', ""}));
  auto body = parseReply(Packet{'b', std::string("x\0y", 3)});
  ASSERT_TRUE(body);
  EXPECT_EQ(body->value.size(), 3u);
}

TEST(MilterProtocolTest, NulInsideAStringIsLeftOut) {
  EXPECT_EQ(helo(std::string("a\0b", 3)).substr(4), std::string("Hab\0", 4));
}

}  // namespace
}  // namespace petrel::milter
