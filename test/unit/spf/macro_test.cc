// spf::expandMacros (RFC 7208 7, with the examples of 7.4).
#include "petrel/spf/macro.h"

#include <gtest/gtest.h>

namespace petrel::spf {
namespace {

MacroValues rfcValues(const char* ip) {
  MacroValues v;
  v.sender = "strong-bad@email.example.com";
  v.local_part = "strong-bad";
  v.sender_domain = "email.example.com";
  v.domain = "email.example.com";
  v.ip = *IpAddress::parse(ip);
  v.helo = "mx.example.org";
  v.validated_name = "mx.example.org";
  v.receiver = "receiver.example.net";
  v.timestamp = 1700000000;
  return v;
}

std::string expand(const char* text, const MacroValues& v, bool explanation = false) {
  auto r = expandMacros(text, v, explanation);
  return r ? *r : "ERROR: " + r.error().message();
}

TEST(SpfMacro, Rfc7208Examples) {
  MacroValues v = rfcValues("192.0.2.3");
  EXPECT_EQ(expand("%{s}", v), "strong-bad@email.example.com");
  EXPECT_EQ(expand("%{o}", v), "email.example.com");
  EXPECT_EQ(expand("%{d}", v), "email.example.com");
  EXPECT_EQ(expand("%{d4}", v), "email.example.com");
  EXPECT_EQ(expand("%{d3}", v), "email.example.com");
  EXPECT_EQ(expand("%{d2}", v), "example.com");
  EXPECT_EQ(expand("%{d1}", v), "com");
  EXPECT_EQ(expand("%{dr}", v), "com.example.email");
  EXPECT_EQ(expand("%{d2r}", v), "example.email");
  EXPECT_EQ(expand("%{l}", v), "strong-bad");
  EXPECT_EQ(expand("%{l-}", v), "strong.bad");
  EXPECT_EQ(expand("%{lr}", v), "strong-bad");
  EXPECT_EQ(expand("%{lr-}", v), "bad.strong");
  EXPECT_EQ(expand("%{l1r-}", v), "strong");
  EXPECT_EQ(expand("%{ir}.%{v}._spf.%{d2}", v), "3.2.0.192.in-addr._spf.example.com");
  EXPECT_EQ(expand("%{lr-}.lp._spf.%{d2}", v), "bad.strong.lp._spf.example.com");
  EXPECT_EQ(expand("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", v),
            "3.2.0.192.in-addr.strong.lp._spf.example.com");
  EXPECT_EQ(expand("%{d2}.trusted-domains.example.net", v),
            "example.com.trusted-domains.example.net");
  EXPECT_EQ(expand("%{p}.%{h}", v), "mx.example.org.mx.example.org");
}

TEST(SpfMacro, Ipv6) {
  MacroValues v = rfcValues("2001:db8::cb01");
  EXPECT_EQ(expand("%{ir}.%{v}._spf.%{d2}", v),
            "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com");
  EXPECT_EQ(expand("%{c}", v, true), "2001:db8::cb01");
}

TEST(SpfMacro, ExplanationOnlyLettersAndEscapes) {
  MacroValues v = rfcValues("192.0.2.3");
  EXPECT_EQ(expand("%{c} %{r} %{t}", v, true), "192.0.2.3 receiver.example.net 1700000000");
  EXPECT_NE(expand("%{c}.example.com", v).find("ERROR"), std::string::npos);
  EXPECT_EQ(expand("a%%b%_c%-d", v, true), "a%b c%20d");
  EXPECT_EQ(expand("%{d}.", v), "email.example.com");  // a domain loses its trailing dot
  EXPECT_EQ(expand("end.", v, true), "end.");
}

TEST(SpfMacro, UpperCaseUrlEscapes) {
  MacroValues v = rfcValues("192.0.2.3");
  v.local_part = "~jack&jill=up-a_b3.c";
  EXPECT_EQ(expand("l=%{L}", v, true), "l=~jack%26jill%3Dup-a_b3.c");
  EXPECT_EQ(expand("%{S}", v, true), "strong-bad%40email.example.com");
}

TEST(SpfMacro, DelimitersAndLongNames) {
  MacroValues v = rfcValues("192.0.2.3");
  v.local_part = "a+b=c_d";
  EXPECT_EQ(expand("%{l+=_}", v, true), "a.b.c.d");
  EXPECT_EQ(expand("%{l2r+=_}", v, true), "b.a");
  EXPECT_EQ(expand("%{l999}", v, true), "a+b=c_d");  // more parts asked than there are
  v.domain = std::string(60, 'a') + "." + std::string(60, 'b') + "." + std::string(60, 'c') + "." +
             std::string(60, 'd') + ".example";
  std::string out = expand("%{d}.%{d}", v);
  EXPECT_LE(out.size(), 253u);
  EXPECT_TRUE(out.ends_with(".example")) << out;
}

}  // namespace
}  // namespace petrel::spf
