// spf::parseRecord and the macro-string checks (RFC 7208 4.5, 12, 7.1).
#include "petrel/spf/record.h"

#include <gtest/gtest.h>

namespace petrel::spf {
namespace {

TEST(SpfRecord, VersionPrefix) {
  EXPECT_TRUE(isSpfRecord("v=spf1"));
  EXPECT_TRUE(isSpfRecord("V=SpF1 -all"));
  EXPECT_FALSE(isSpfRecord("v=spf10"));
  EXPECT_FALSE(isSpfRecord("v=spf1-all"));
  EXPECT_FALSE(isSpfRecord(" v=spf1 -all"));
  EXPECT_FALSE(isSpfRecord("spf2.0/pra"));
}

TEST(SpfRecord, EveryMechanismAndModifier) {
  auto r = parseRecord(
      "v=spf1  +all -include:_spf.example.org ~a ?a:mail.example.org/24//64 mx/26 "
      "mx:%{d} ptr ptr:example.org ip4:192.0.2.0/24 ip6:2001:db8::/32 "
      "exists:%{ir}.%{v}._spf.%{d2} redirect=_spf.example.org exp=exp.%{d} moo.cow=%{l} ");
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->mechanisms.size(), 11u);
  EXPECT_EQ(r->mechanisms[0].kind, MechanismKind::All);
  EXPECT_EQ(r->mechanisms[1].qualifier, Outcome::Fail);
  EXPECT_EQ(r->mechanisms[1].domain_spec, "_spf.example.org");
  EXPECT_EQ(r->mechanisms[2].qualifier, Outcome::SoftFail);
  EXPECT_EQ(r->mechanisms[2].domain_spec, "");
  EXPECT_EQ(r->mechanisms[3].qualifier, Outcome::Neutral);
  EXPECT_EQ(r->mechanisms[3].cidr4, 24);
  EXPECT_EQ(r->mechanisms[3].cidr6, 64);
  EXPECT_EQ(r->mechanisms[4].cidr4, 26);
  EXPECT_EQ(r->mechanisms[4].cidr6, 128);
  EXPECT_EQ(r->mechanisms[8].cidr4, 24);
  EXPECT_FALSE(r->mechanisms[8].network.v6);
  EXPECT_TRUE(r->mechanisms[9].network.v6);
  EXPECT_EQ(r->mechanisms[9].cidr6, 32);
  EXPECT_EQ(*r->redirect, "_spf.example.org");
  EXPECT_EQ(*r->exp, "exp.%{d}");
  ASSERT_EQ(r->unknown.size(), 1u);
  EXPECT_EQ(r->unknown[0].name, "moo.cow");
  EXPECT_TRUE(r->usesMacro('l') == false);  // unknown modifiers are not evaluated
  EXPECT_TRUE(r->usesMacro('v'));
}

TEST(SpfRecord, EmptyRecordAndCase) {
  auto r = parseRecord("v=spf1");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->mechanisms.empty());
  auto c = parseRecord("v=spf1 IP4:192.0.2.1 MX:Example.ORG -ALL REDIRECT=x.example");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->mechanisms.size(), 3u);
}

TEST(SpfRecord, SyntaxErrors) {
  for (const char* bad : {
           "v=spf1 moo",                 // unknown mechanism
           "v=spf1 =all",                // no qualifier like that
           "v=spf1 -all:foo",            // all takes nothing
           "v=spf1 include",             // include needs a domain
           "v=spf1 include:",            //
           "v=spf1 exists",              //
           "v=spf1 a:",                  //
           "v=spf1 a/33",                // > 32
           "v=spf1 a//129",              // > 128
           "v=spf1 a/024",               // leading zero
           "v=spf1 ptr/24",              // no CIDR on ptr
           "v=spf1 ip4:1.2.3.444",       //
           "v=spf1 ip4:1.2.03.4",        // qnum
           "v=spf1 ip4:1.2.3.4//32",     // dual CIDR on ip4
           "v=spf1 ip4:1.2.3.4/33",      //
           "v=spf1 ip6:2001:db8::/129",  //
           "v=spf1 ip6:1.2.3.4",         // family
           "v=spf1 ip6::CAFE::BABE",     //
           "v=spf1 a:example.com:8080",  // toplabel "com:8080"
           "v=spf1 a:museum",            // no dot before the toplabel
           "v=spf1 a:111.222.33.44",     // numeric toplabel
           "v=spf1 a:foo.example.com-",  // toplabel ends in '-'
           "v=spf1 redirect=a.example redirect=b.example",
           "v=spf1 exp=a.example exp=b.example",
           "v=spf1 exp=",                      //
           "v=spf1 redirect=",                 //
           "v=spf1 exists:%{x}.example.com",   // unknown macro letter
           "v=spf1 exists:%{d0}.example.com",  // zero digit transformer
           "v=spf1 exists:%{c}.example.com",   // c only in explanations
           "v=spf1 exists:%(ir).example.com",  //
           "v=spf1 exists:foo%.example.com",   //
           "v=spf1 exists:%{d",                //
           "v=spf1 moo=%{x}",                  // unknown modifiers are checked too
           "v=spf1 a:b\texample.com",          // tab
           "v=spf1 a:\xc3\xa9.example.com",    // non-ASCII
       }) {
    EXPECT_FALSE(parseRecord(bad)) << bad;
  }
}

TEST(SpfRecord, DomainSpecEnds) {
  EXPECT_TRUE(checkDomainSpec("example.com"));
  EXPECT_TRUE(checkDomainSpec("example.com."));
  EXPECT_TRUE(checkDomainSpec("foo:bar/baz.example.com"));
  EXPECT_TRUE(checkDomainSpec("%{d}"));
  EXPECT_TRUE(checkDomainSpec("%{ir}.%{v}._spf.%{d2}"));
  EXPECT_TRUE(checkDomainSpec("example.xn--p1ai"));
  EXPECT_TRUE(checkDomainSpec("foo.%%"));
  EXPECT_FALSE(checkDomainSpec("foo.%%%"));
  EXPECT_FALSE(checkDomainSpec("example.123"));
  EXPECT_TRUE(checkMacroString("%{c} is %_not%- allowed", true));
  EXPECT_FALSE(checkMacroString("has space", false));
}

TEST(SpfRecord, ErrorNamesTheTermAndIsPrintable) {
  auto r = parseRecord("v=spf1 ip4:1.2.3.4 a:\x01x.example -all");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("\\x01"), std::string::npos) << r.error().message();
  EXPECT_EQ(r.error().message().find('\x01'), std::string::npos);
}

}  // namespace
}  // namespace petrel::spf
