// arc/ beyond the public suite: the parsers' limits, sealing with Ed25519 and RSA in turn and
// validating the result (oldest-pass, tampering), the instance limit, the refusal to seal an
// ended chain, and that nothing from an Authentication-Results text can add a header field.
#include <gtest/gtest.h>

#include <map>

#include "petrel/arc/fields.h"
#include "petrel/arc/sealer.h"
#include "petrel/arc/validator.h"
#include "petrel/content/header_section.h"
#include "petrel/dkim/signer.h"

namespace petrel::arc {
namespace {

struct Message {
  std::vector<content::HeaderField> fields;
  std::string body;
};

Message split(const std::string& wire) {
  content::HeaderSection h(1u << 20);
  size_t n = h.feed(wire);
  if (!h.complete()) h.end();
  return {h.fields(), wire.substr(n)};
}

const std::string Plain =
    "From: Alice <alice@example.com>\r\n"
    "To: bob@example.net\r\n"
    "Subject: hello\r\n"
    "Date: Thu, 14 Jan 2015 15:00:01 -0800\r\n"
    "\r\n"
    "Hi Bob,\r\n  this is a  test.\r\n";

class Keys {
 public:
  void add(const std::string& name, const tls::PrivateKey& key) {
    txt_[name] = dkim::keyRecordText(key.publicKey());
  }
  ChainResult validate(const std::string& wire, size_t chunk = 0) const {
    Message m = split(wire);
    Validator v(m.fields, {.now = 1700000000});
    if (chunk == 0) {
      v.feedBody(m.body);
    } else {
      for (size_t i = 0; i < m.body.size(); i += chunk) v.feedBody(m.body.substr(i, chunk));
    }
    v.endBody();
    for (const auto& name : v.keyNames()) {
      dkim::KeyAnswer a;
      auto it = txt_.find(name);
      a.status = it == txt_.end() ? dkim::KeyAnswer::Status::NotFound : dkim::KeyAnswer::Status::Found;
      if (it != txt_.end()) a.txt = {it->second};
      v.provideKey(name, a);
    }
    return v.result();
  }

 private:
  std::map<std::string, std::string> txt_;
};

Result<SealedSet> seal(const std::string& wire, const ChainResult& chain, const SealSpec& spec,
                       std::string_view ar = "mx.example.org; spf=pass smtp.mailfrom=example.com") {
  Message m = split(wire);
  Sealer s(spec, 1700000000);
  s.feedBody(m.body);
  return s.finish(m.fields, ar, chain);
}

TEST(ArcFieldsTest, InstanceLimits) {
  EXPECT_EQ(*parseInstance("1"), 1);
  EXPECT_EQ(*parseInstance("50"), 50);
  for (const char* bad : {"", "0", "51", "a", "001", "-1", "1 "}) {
    EXPECT_FALSE(parseInstance(bad)) << bad;
  }
}

TEST(ArcFieldsTest, AuthResultsNeedsInstanceFirstAndSemicolon) {
  auto ok = parseAuthResults(" i = 2 ;\r\n\tmx.example.org; spf=pass");
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->instance, 2);
  EXPECT_EQ(ok->authserv_id, "mx.example.org");
  EXPECT_FALSE(parseAuthResults("i=1 mx.example.org; spf=pass"));
  EXPECT_FALSE(parseAuthResults("mx.example.org; i=1; spf=pass"));
  EXPECT_FALSE(parseAuthResults("i=1; "));
}

TEST(ArcFieldsTest, SealTags) {
  const std::string base = "a=rsa-sha256; b=AAAA; d=example.org; i=1; s=sel";
  EXPECT_TRUE(parseSeal(base + "; cv=none"));
  EXPECT_FALSE(parseSeal(base + "; cv=None"));  // tag values are case-sensitive
  EXPECT_FALSE(parseSeal(base));                // cv= required
  EXPECT_FALSE(parseSeal(base + "; cv=none; h=from"));
  EXPECT_FALSE(parseSeal(base + "; cv=none; t="));
}

TEST(ArcFieldsTest, MessageSignatureMustNotSignTheSeal) {
  const std::string base =
      "a=rsa-sha256; b=AAAA; bh=AAAA; d=example.org; i=1; s=sel; h=from:";
  EXPECT_TRUE(parseMessageSignature(base + "to"));
  EXPECT_FALSE(parseMessageSignature(base + "arc-seal"));
  EXPECT_FALSE(parseMessageSignature("a=rsa-sha256; b=AAAA; bh=AAAA; d=example.org; s=sel; h=from"));
}

TEST(ArcValidatorTest, NoArcFieldsIsNone) {
  Keys keys;
  ChainResult r = keys.validate(Plain);
  EXPECT_EQ(r.status, ChainStatus::None);
  EXPECT_EQ(authResultsArc(r), "arc=none");
}

TEST(ArcSealerTest, Ed25519ThenRsaChainPasses) {
  auto ed = tls::PrivateKey::generateEd25519();
  auto rsa = tls::PrivateKey::generateRsa(1024);
  ASSERT_TRUE(ed && rsa);
  Keys keys;
  keys.add("ed._domainkey.forward.example", *ed);
  keys.add("rsa._domainkey.list.example", *rsa);

  SealSpec first{.domain = "Forward.Example", .selector = "ed", .key = *ed,
                 .algorithm = dkim::Algorithm::Ed25519Sha256};
  auto set1 = seal(Plain, keys.validate(Plain), first);
  ASSERT_TRUE(set1) << set1.error().message();
  EXPECT_EQ(set1->instance, 1);
  EXPECT_EQ(set1->cv, ChainStatus::None);
  EXPECT_NE(set1->seal.find("d=forward.example"), std::string::npos);
  std::string hop1 = set1->text() + Plain;
  ChainResult r1 = keys.validate(hop1, 7);
  ASSERT_EQ(r1.status, ChainStatus::Pass) << r1.reason;
  EXPECT_EQ(r1.instances, 1);

  SealSpec second{.domain = "list.example", .selector = "rsa", .key = *rsa};
  auto set2 = seal(hop1, r1, second);
  ASSERT_TRUE(set2) << set2.error().message();
  EXPECT_EQ(set2->cv, ChainStatus::Pass);
  std::string hop2 = set2->text() + hop1;
  ChainResult r2 = keys.validate(hop2);
  ASSERT_EQ(r2.status, ChainStatus::Pass) << r2.reason;
  EXPECT_EQ(r2.instances, 2);
  EXPECT_EQ(r2.oldest_pass, 0);
  EXPECT_EQ(authResultsArc(r2), "arc=pass (i=2) header.oldest-pass=0");
  // Every line of the folded fields fits in 78 columns.
  for (const std::string* f : {&set2->seal, &set2->message_signature}) {
    size_t start = 0;
    for (size_t end; (end = f->find("\r\n", start)) != std::string::npos; start = end + 2) {
      EXPECT_LE(end - start, 78u) << *f;
    }
  }

  // A body changed after hop 1: AMS 2 was made over it, AMS 1 no longer verifies.
  std::string changed = hop1;
  changed.replace(changed.find("this is"), 7, "that is");
  auto set2b = seal(changed, keys.validate(changed), second);
  ASSERT_TRUE(set2b);  // cv=fail is sealed (5.1.2)
  EXPECT_EQ(set2b->cv, ChainStatus::Fail);

  // Tampering after the last hop: the newest AMS fails.
  std::string tampered = hop2;
  tampered.replace(tampered.find("Subject: hello"), 14, "Subject: HELLO");
  ChainResult rt = keys.validate(tampered);
  EXPECT_EQ(rt.status, ChainStatus::Fail);
  EXPECT_NE(rt.reason.find("ARC-Message-Signature i=2"), std::string::npos) << rt.reason;
}

TEST(ArcSealerTest, OldestPassAfterAModifyingHop) {
  auto rsa = tls::PrivateKey::generateRsa(1024);
  ASSERT_TRUE(rsa);
  Keys keys;
  keys.add("s._domainkey.a.example", *rsa);
  SealSpec spec{.domain = "a.example", .selector = "s", .key = *rsa};
  auto set1 = seal(Plain, keys.validate(Plain), spec);
  ASSERT_TRUE(set1);
  std::string hop1 = set1->text() + Plain;
  // A list changes the subject and seals: AMS 1 breaks, the chain (seals) still pass.
  std::string listed = hop1;
  listed.replace(listed.find("Subject: hello"), 14, "Subject: [list] hello");
  ChainResult before = keys.validate(listed);
  EXPECT_EQ(before.status, ChainStatus::Fail);  // the newest AMS is broken
  // The list validated on receipt (pass) and then modified the message.
  ChainResult on_receipt = keys.validate(hop1);
  auto set2 = seal(listed, on_receipt, spec);
  ASSERT_TRUE(set2);
  ChainResult r = keys.validate(set2->text() + listed);
  ASSERT_EQ(r.status, ChainStatus::Pass) << r.reason;
  EXPECT_EQ(r.oldest_pass, 2);
}

TEST(ArcSealerTest, EndedChainAndInstanceLimitAreNotSealed) {
  auto rsa = tls::PrivateKey::generateRsa(1024);
  ASSERT_TRUE(rsa);
  SealSpec spec{.domain = "a.example", .selector = "s", .key = *rsa};
  ChainResult ended;
  ended.status = ChainStatus::Fail;
  ended.ended = true;
  ended.instances = 2;
  EXPECT_FALSE(seal(Plain, ended, spec));
  ChainResult full;
  full.status = ChainStatus::Fail;
  full.instances = MaxInstance;
  EXPECT_FALSE(seal(Plain, full, spec));
}

TEST(ArcValidatorTest, InstanceAbove50Fails) {
  Keys keys;
  ChainResult r = keys.validate("ARC-Authentication-Results: i=51; mx.example.org; none\r\n" + Plain);
  EXPECT_EQ(r.status, ChainStatus::Fail);
  EXPECT_NE(authResultsArc(r).find("arc=fail reason="), std::string::npos);
}

TEST(ArcSealerTest, AuthResultsTextCannotAddAField) {
  auto rsa = tls::PrivateKey::generateRsa(1024);
  ASSERT_TRUE(rsa);
  SealSpec spec{.domain = "a.example", .selector = "s", .key = *rsa};
  Keys keys;
  auto set = seal(Plain, keys.validate(Plain), spec,
                  "mx.example.org; spf=pass\r\nX-Injected: yes\r\n; dkim=\"a\rb\"");
  ASSERT_TRUE(set);
  Message m = split(set->text() + Plain);
  for (const auto& f : m.fields) EXPECT_NE(f.name, "X-Injected");
  EXPECT_EQ(m.fields.size(), 3u + 4u);
  EXPECT_FALSE(seal(Plain, keys.validate(Plain), spec, " ; spf=pass"));
}

TEST(ArcSealerTest, ConsolidatesOurAuthResultsOnly) {
  Message m = split(
      "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=a.example\r\n"
      "Authentication-Results: other.example; dkim=fail\r\n"
      "Authentication-Results: MX.example.org; dkim=pass header.d=a.example (ok; really)\r\n" +
      Plain);
  auto ar = consolidatedAuthResults(m.fields, "mx.example.org");
  ASSERT_TRUE(ar);
  EXPECT_EQ(*ar,
            "mx.example.org; spf=pass smtp.mailfrom=a.example;\r\n"
            "  dkim=pass header.d=a.example (ok; really)");
  EXPECT_FALSE(consolidatedAuthResults(m.fields, "nobody.example"));
}

}  // namespace
}  // namespace petrel::arc
