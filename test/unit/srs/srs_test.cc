// srs::Rewriter against python3-srs: every expected address below was made once by Debian's
// python3-srs 1.0.4 (`import SRS`; SRS.new(secret).forward(sender, alias) with time.time()
// pinned to the Vector time), the library postsrsd agrees with byte for byte. The rest are
// round trips, rotation, expiry on a fake clock, case folding and malformed input.
#include "petrel/srs/srs.h"

#include <gtest/gtest.h>

namespace petrel::srs {
namespace {

constexpr int64_t Vector = 1765000000;  // 2025-12-06T05:46:40Z, day stamp "6M"
constexpr int64_t Day = 86400;
constexpr std::string_view Secret = "petrel-test-secret";

Rewriter rewriter(std::string domain, std::vector<std::string> secrets, int hash_length = 4,
                  char separator = '=') {
  Options o;
  o.domain = std::move(domain);
  o.secrets = std::move(secrets);
  o.hash_length = hash_length;
  o.hash_min = hash_length;
  o.separator = separator;
  return Rewriter(std::move(o));
}

TEST(SrsTest, TimestampIsTheDayInBase32) {
  EXPECT_EQ(timestamp(Vector), "6M");
  EXPECT_EQ(timestamp(Vector + 40 * Day), "7U");
  EXPECT_TRUE(timestampValid("6M", Vector, 21));
  EXPECT_TRUE(timestampValid("6m", Vector + 21 * Day, 21));
  EXPECT_FALSE(timestampValid("6M", Vector + 22 * Day, 21));
  EXPECT_FALSE(timestampValid("6N", Vector, 21));  // tomorrow: wraps to 1023 days old
  EXPECT_FALSE(timestampValid("6", Vector, 21));
  EXPECT_FALSE(timestampValid("6!", Vector, 21));
  // Across the 1024-day cycle: day 1023 stamped, checked on day 1024 (stamp "AA" is today).
  EXPECT_TRUE(timestampValid("77", 1024 * Day, 21));
}

TEST(SrsTest, HashIsTruncatedBase64OfHmacSha1OverLowerCase) {
  EXPECT_EQ(Rewriter::hash(Secret, {"x", "Y"}, 4), "6FP3");
  EXPECT_EQ(Rewriter::hash(Secret, {"X", "y"}, 4), "6FP3");
}

TEST(SrsTest, ForwardMatchesPython3Srs) {
  Rewriter r = rewriter("forward.example", {std::string(Secret)});
  EXPECT_EQ(r.forward("alice@orig.example", Vector).value(),
            "SRS0=XOrm=6M=orig.example=alice@forward.example");
  EXPECT_EQ(r.forward("Alice@Orig.Example", Vector).value(),
            "SRS0=XOrm=6M=Orig.Example=Alice@forward.example");
  EXPECT_EQ(r.forward("a=b@orig.example", Vector).value(),
            "SRS0=sQX1=6M=orig.example=a=b@forward.example");
  EXPECT_EQ(r.forward("alice@orig.example", Vector + 40 * Day).value(),
            "SRS0=Wlua=7U=orig.example=alice@forward.example");
  Rewriter six = rewriter("forward.example", {std::string(Secret)}, 6, '+');
  EXPECT_EQ(six.forward("bob@orig.example", Vector).value(),
            "SRS0+MpMOl9=6M=orig.example=bob@forward.example");
}

TEST(SrsTest, ForwardOfSrsIsSrs1KeepingTheFirstForwarder) {
  Rewriter second = rewriter("second.example", {"other-secret"});
  EXPECT_EQ(second.forward("SRS0=XOrm=6M=orig.example=alice@forward.example", Vector).value(),
            "SRS1=lnlE=forward.example==XOrm=6M=orig.example=alice@second.example");
  Rewriter third = rewriter("third.example", {"third-secret"});
  EXPECT_EQ(
      third.forward("SRS1=lnlE=forward.example==XOrm=6M=orig.example=alice@second.example", Vector)
          .value(),
      "SRS1=hkw/=forward.example==XOrm=6M=orig.example=alice@third.example");
}

TEST(SrsTest, ForwardLeavesOurOwnDomainAndRefusesNonsense) {
  Rewriter r = rewriter("forward.example", {std::string(Secret)});
  EXPECT_EQ(r.forward("bob@Forward.Example", Vector).value(), "bob@Forward.Example");
  EXPECT_FALSE(r.forward("nodomain", Vector));
  EXPECT_FALSE(r.forward("@orig.example", Vector));
  EXPECT_FALSE(r.forward("alice@", Vector));
  EXPECT_FALSE(r.forward("SRS1=x@orig.example", Vector));
  EXPECT_FALSE(rewriter("forward.example", {}).forward("alice@orig.example", Vector));
}

TEST(SrsTest, ReverseMatchesPython3Srs) {
  Rewriter r = rewriter("forward.example", {std::string(Secret)});
  Reversal v = r.reverse("SRS0=XOrm=6M=orig.example=alice@forward.example", Vector);
  EXPECT_EQ(v.status, Reversal::Status::Ok);
  EXPECT_EQ(v.address, "alice@orig.example");
  EXPECT_EQ(r.reverse("SRS0=sQX1=6M=orig.example=a=b@forward.example", Vector).address,
            "a=b@orig.example");
  Rewriter second = rewriter("second.example", {"other-secret"});
  v = second.reverse("SRS1=lnlE=forward.example==XOrm=6M=orig.example=alice@second.example",
                     Vector);
  EXPECT_EQ(v.status, Reversal::Status::Ok);
  EXPECT_EQ(v.address, "SRS0=XOrm=6M=orig.example=alice@forward.example");
  Rewriter third = rewriter("third.example", {"third-secret"});
  EXPECT_EQ(
      third.reverse("SRS1=hkw/=forward.example==XOrm=6M=orig.example=alice@third.example", Vector)
          .address,
      "SRS0=XOrm=6M=orig.example=alice@forward.example");
}

TEST(SrsTest, ReverseFoldsCase) {
  Rewriter r = rewriter("forward.example", {std::string(Secret)});
  Reversal v = r.reverse("srs0=xorm=6m=orig.example=alice@forward.example", Vector);
  EXPECT_EQ(v.status, Reversal::Status::Ok);
  EXPECT_EQ(v.address, "alice@orig.example");
  EXPECT_EQ(r.reverse("SRS0-XORM=6M=ORIG.EXAMPLE=ALICE@FORWARD.EXAMPLE", Vector).address,
            "ALICE@ORIG.EXAMPLE");
}

TEST(SrsTest, ExpiryOnAFakeClock) {
  Rewriter r = rewriter("forward.example", {std::string(Secret)});
  std::string a = r.forward("alice@orig.example", Vector).value();
  EXPECT_EQ(r.reverse(a, Vector + 21 * Day).status, Reversal::Status::Ok);
  EXPECT_EQ(r.reverse(a, Vector + 22 * Day).status, Reversal::Status::Expired);
  EXPECT_EQ(r.reverse(a, Vector - Day).status, Reversal::Status::Expired);  // from the future
  Options o = r.options();
  o.max_age_days = 2;
  EXPECT_EQ(Rewriter(o).reverse(a, Vector + 3 * Day).status, Reversal::Status::Expired);
}

TEST(SrsTest, RotationFirstSignsAllVerify) {
  Rewriter old_only = rewriter("forward.example", {std::string(Secret)});
  Rewriter rotated = rewriter("forward.example", {"new-secret", std::string(Secret)});
  Rewriter new_only = rewriter("forward.example", {"new-secret"});
  std::string made_before = old_only.forward("alice@orig.example", Vector).value();
  EXPECT_EQ(rotated.reverse(made_before, Vector).address, "alice@orig.example");
  EXPECT_EQ(new_only.reverse(made_before, Vector).status, Reversal::Status::BadHash);
  std::string made_after = rotated.forward("alice@orig.example", Vector).value();
  EXPECT_NE(made_after, made_before);
  EXPECT_EQ(new_only.reverse(made_after, Vector).address, "alice@orig.example");
}

TEST(SrsTest, TamperedAndMalformedAddresses) {
  using S = Reversal::Status;
  Rewriter r = rewriter("forward.example", {std::string(Secret)});
  EXPECT_EQ(r.reverse("SRS0=XOrn=6M=orig.example=alice@forward.example", Vector).status,
            S::BadHash);
  EXPECT_EQ(r.reverse("SRS0=XOrm=6M=orig.example=mallory@forward.example", Vector).status,
            S::BadHash);
  EXPECT_EQ(r.reverse("SRS0=XOr=6M=orig.example=alice@forward.example", Vector).status,
            S::BadHash);  // shorter than hash_min
  EXPECT_EQ(r.reverse("alice@forward.example", Vector).status, S::NotSrs);
  EXPECT_EQ(r.reverse("SRS0alice@forward.example", Vector).status, S::NotSrs);
  EXPECT_EQ(r.reverse("SRS2=x@forward.example", Vector).status, S::NotSrs);
  EXPECT_EQ(r.reverse("nodomain", Vector).status, S::NotSrs);
  EXPECT_EQ(r.reverse("SRS0=XOrm=6M=orig.example@forward.example", Vector).status, S::BadSyntax);
  EXPECT_EQ(r.reverse("SRS0=XOrm=6M==alice@forward.example", Vector).status, S::BadSyntax);
  EXPECT_EQ(r.reverse("SRS1=x.y=alice@forward.example", Vector).status, S::BadSyntax);
  EXPECT_EQ(r.reverse("SRS1=abcd=host.example=@forward.example", Vector).status, S::BadSyntax);
  EXPECT_EQ(
      r.reverse(std::string("SRS0=XOrm=6M=orig.example=al\nice@forward.example"), Vector).status,
      S::BadSyntax);
  EXPECT_EQ(r.reverse("SRS0=" + std::string(2000, 'a') + "@forward.example", Vector).status,
            S::BadSyntax);
  EXPECT_TRUE(isSrsAddress("srs1+x@y"));
  EXPECT_FALSE(isSrsAddress("srs1x@y"));
}

TEST(SrsTest, RoundTripsManyShapes) {
  Rewriter first = rewriter("first.example", {"s1"});
  Rewriter second = rewriter("second.example", {"s2"});
  for (std::string sender : {"alice@orig.example", "a.b+tag@sub.orig.example", "x=y=z@orig.example",
                             "\"q x\"@q.example"}) {
    std::string srs0 = first.forward(sender, Vector).value();
    EXPECT_EQ(first.reverse(srs0, Vector + Day).address, sender) << srs0;
    std::string srs1 = second.forward(srs0, Vector).value();
    EXPECT_EQ(second.reverse(srs1, Vector).address, srs0) << srs1;
  }
}

}  // namespace
}  // namespace petrel::srs
