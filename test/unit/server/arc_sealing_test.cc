// Tests for server/arc_sealing.cc: the chain as validated on receipt (from the header's form,
// else our Authentication-Results' arc=), the set made over a message (validated again here as
// a receiver would), which deliveries of the delivery job get it, and which mail made at
// delivery does (a Sieve redirect to a foreign domain only).
#include "petrel/server/arc_sealing.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "../inline_table.h"
#include "petrel/arc/validator.h"
#include "petrel/content/header_section.h"
#include "petrel/dkim/signer.h"
#include "petrel/server/generated_mail.h"
#include "petrel/server/stage_check.h"

namespace petrel::server {
namespace {

using petrel::test_support::inlineTable;

constexpr uint64_t Now = 1700000000;

std::vector<content::HeaderField> fieldsOf(const std::string& wire, size_t* header_size = nullptr) {
  content::HeaderSection h(1u << 20);
  size_t n = h.feed(wire);
  if (!h.complete()) h.end();
  if (header_size != nullptr) *header_size = n;
  return h.fields();
}

// Sealers and a receiver that knows their keys.
class Peers {
 public:
  ArcSealing sealing(const std::string& domain, const std::string& authserv_id) {
    ArcSealing s;
    s.spec.domain = domain;
    s.spec.selector = "arc";
    s.spec.key = *tls::PrivateKey::generateEd25519();
    s.spec.algorithm = dkim::Algorithm::Ed25519Sha256;
    s.authserv_id = authserv_id;
    s.key_loaded = true;
    txt_["arc._domainkey." + domain] = dkim::keyRecordText(s.spec.key.publicKey());
    return s;
  }
  arc::ChainResult validate(const std::string& wire) const {
    size_t n = 0;
    auto fields = fieldsOf(wire, &n);
    arc::Validator v(fields, {.now = Now});
    v.feedBody(std::string_view(wire).substr(n));
    v.endBody();
    for (const auto& name : v.keyNames()) {
      dkim::KeyAnswer a;
      auto it = txt_.find(name);
      a.status = it == txt_.end() ? dkim::KeyAnswer::Status::NotFound
                                  : dkim::KeyAnswer::Status::Found;
      if (it != txt_.end()) a.txt = {it->second};
      v.provideKey(name, a);
    }
    return v.result();
  }

 private:
  std::map<std::string, std::string> txt_;
};

const std::string Plain =
    "From: Alice <alice@example.net>\r\n"
    "To: team@example.test\r\n"
    "Subject: hello\r\n"
    "Date: Mon, 7 Dec 2026 16:00:00 +0000\r\n"
    "Message-ID: <m1@example.net>\r\n"
    "\r\n"
    "Hi team,\r\n  forwarded  to you.\r\n";

const std::string OurResults =
    "Authentication-Results: mx.example.test;\r\n\tspf=pass smtp.mailfrom=example.net;\r\n"
    "\tdkim=none\r\n";

// `wire` with a set on top as an upstream forwarder would add it.
std::string upstream(Peers& peers, const std::string& wire) {
  ArcSealing list = peers.sealing("list.example", "lists.example");
  auto set = arcSet(list, "Authentication-Results: lists.example; spf=pass\r\n" + wire, Now);
  EXPECT_TRUE(set) << set.error().message();
  return set ? set->text() + "Authentication-Results: lists.example; spf=pass\r\n" + wire : wire;
}

TEST(ArcSealingTest, ChainAtReceipt) {
  Peers peers;
  auto none = chainAtReceipt(fieldsOf(OurResults + Plain), "mx.example.test");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, arc::ChainStatus::None);
  std::string one = upstream(peers, Plain);
  // A sound chain needs the receipt's verdict: ours, not another authserv-id's.
  EXPECT_FALSE(chainAtReceipt(fieldsOf(one), "mx.example.test"));
  EXPECT_FALSE(chainAtReceipt(fieldsOf(one), "lists.example"));  // it says no arc=
  auto pass = chainAtReceipt(
      fieldsOf("Authentication-Results: mx.example.test; spf=fail;\r\n"
               "  arc=pass (i=1) header.oldest-pass=0\r\n" + one),
      "MX.example.test");
  ASSERT_TRUE(pass);
  EXPECT_EQ(pass->status, arc::ChainStatus::Pass);
  EXPECT_EQ(pass->instances, 1);
  auto fail = chainAtReceipt(
      fieldsOf("Authentication-Results: mx.example.test; arc=fail (i=1) reason=\"x; y\"\r\n" + one),
      "mx.example.test");
  ASSERT_TRUE(fail);
  EXPECT_EQ(fail->status, arc::ChainStatus::Fail);
  EXPECT_FALSE(fail->ended);
  // Broken sets are decided by their form, whatever was written.
  std::string broken = "ARC-Seal: i=2; cv=pass; a=rsa-sha256; d=x; s=y; b=AAAA\r\n" + one;
  auto form = chainAtReceipt(
      fieldsOf("Authentication-Results: mx.example.test; arc=pass (i=2)\r\n" + broken),
      "mx.example.test");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, arc::ChainStatus::Fail);
}

TEST(ArcSealingTest, AFreshChainIsSealedWithOurResults) {
  Peers peers;
  ArcSealing ours = peers.sealing("example.test", "mx.example.test");
  std::string wire = "Delivered-To: team@example.test\r\n" + OurResults + Plain;
  auto set = arcSet(ours, wire, Now);
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(set->instance, 1);
  EXPECT_EQ(set->cv, arc::ChainStatus::None);
  EXPECT_EQ(set->auth_results,
            "ARC-Authentication-Results: i=1; mx.example.test; spf=pass smtp.mailfrom=example.net;"
            "\r\n  dkim=none\r\n");
  EXPECT_TRUE(set->seal.starts_with("ARC-Seal: a=ed25519-sha256; b=")) << set->seal;
  std::string unfolded = set->seal;  // folds stand where a space between tags would
  for (size_t at; (at = unfolded.find("\r\n\t")) != std::string::npos;) {
    unfolded.replace(at, 3, " ");
  }
  EXPECT_NE(unfolded.find("cv=none; d=example.test; i=1; s=arc; t=1700000000"), std::string::npos)
      << set->seal;
  arc::ChainResult r = peers.validate(set->text() + wire);
  EXPECT_EQ(r.status, arc::ChainStatus::Pass) << r.reason;
  EXPECT_EQ(r.instances, 1);
  // Without a result of ours the AAR says none (RFC 8601 2.2).
  auto bare = arcSet(ours, Plain, Now);
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->auth_results, "ARC-Authentication-Results: i=1; mx.example.test; none\r\n");
}

TEST(ArcSealingTest, AnUpstreamChainGetsTheNextSet) {
  Peers peers;
  ArcSealing ours = peers.sealing("example.test", "mx.example.test");
  std::string wire = "Authentication-Results: mx.example.test; dkim=fail;\r\n"
                     "  arc=pass (i=1) header.oldest-pass=0\r\n" + upstream(peers, Plain);
  auto set = arcSet(ours, wire, Now);
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(set->instance, 2);
  EXPECT_EQ(set->cv, arc::ChainStatus::Pass);
  arc::ChainResult r = peers.validate(set->text() + wire);
  EXPECT_EQ(r.status, arc::ChainStatus::Pass) << r.reason;
  EXPECT_EQ(r.instances, 2);
  // Unknown at receipt (no arc= of ours): no set.
  auto unknown = arcSet(ours, upstream(peers, Plain), Now);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message(), "the message's ARC chain was not validated on receipt");
  // A failed chain is sealed cv=fail (RFC 8617 5.1.2); after that it has ended.
  std::string failed = "Authentication-Results: mx.example.test; arc=fail (i=1)\r\n" +
                       upstream(peers, Plain);
  auto fail = arcSet(ours, failed, Now);
  ASSERT_TRUE(fail);
  EXPECT_EQ(fail->cv, arc::ChainStatus::Fail);
  EXPECT_FALSE(arcSet(ours, fail->text() + failed, Now));
  ArcSealing no_key = ours;
  no_key.key_loaded = false;
  EXPECT_FALSE(arcSet(no_key, Plain, Now));
}

TEST(ArcSealingTest, OnlyForwardedDeliveriesAreSealed) {
  Peers peers;
  ArcSealing ours = peers.sealing("example.test", "mx.example.test");
  queue::StoredMessage stored;
  stored.id = "4A1B2C3D4E5F";
  delivery::MessageDeliveries m;
  m.message.stored = &stored;
  m.message.content = std::make_shared<const std::string>(OurResults + Plain);
  delivery::DeliveryTarget forwarded;
  forwarded.transport = delivery::Transport::Smtp;
  forwarded.transport_name = "smtp";
  forwarded.next_hop.host = "remote.test";
  forwarded.arc_seal = true;
  delivery::DeliveryTarget relayed = forwarded;  // a local user's own outbound mail
  relayed.arc_seal = false;
  delivery::DeliveryTarget other = forwarded;
  other.next_hop.host = "elsewhere.test";
  m.add(forwarded, 0);
  m.add(relayed, 1);
  m.add(other, 2);
  m.add(forwarded, 3);
  ASSERT_EQ(m.deliveries.size(), 3u);  // arc_seal makes a delivery of its own
  std::vector<delivery::MessageDeliveries*> all{&m};
  sealForwardedDeliveries(ours, all, Now);
  EXPECT_TRUE(m.deliveries[0].top_fields.starts_with("ARC-Seal: ")) << m.deliveries[0].top_fields;
  EXPECT_EQ(m.deliveries[1].top_fields, "");
  EXPECT_EQ(m.deliveries[2].top_fields, m.deliveries[0].top_fields);  // one set per message
  EXPECT_EQ(peers.validate(m.deliveries[0].top_fields + *m.message.content).status,
            arc::ChainStatus::Pass);
  // A delivery already reported (its content could not be read) is left alone.
  delivery::MessageDeliveries failed;
  failed.message.stored = &stored;
  failed.add(forwarded, 0);
  failed.deliveries[0].reports.resize(1);
  std::vector<delivery::MessageDeliveries*> one{&failed};
  sealForwardedDeliveries(ours, one, Now);
  EXPECT_EQ(failed.deliveries[0].top_fields, "");
}

TEST(ArcSealingTest, ARedirectToAForeignDomainIsSealedWhenQueued) {
  config::Config cfg;
  cfg.hostname = "mx.example.test";
  cfg.mail_root = "/var/lib/petrel/mail";
  cfg.local_domains = {"example.test"};
  cfg.mailboxes = inlineTable("boxes", {{"alice@example.test", "example.test/alice/"}});
  auto snap = routingSnapshot(cfg, [](const std::string&) {});
  ASSERT_TRUE(snap) << snap.error().message();
  Peers peers;
  snap->arc_seal = std::make_shared<const ArcSealing>(peers.sealing("example.test", cfg.hostname));
  std::string copy = "Delivered-To: alice@example.test\r\n" + OurResults + Plain;
  auto queued = [&](std::string kind, std::string target) {
    delivery::GeneratedMessage g;
    g.kind = std::move(kind);
    g.sender = "alice@example.net";
    g.recipients = {std::move(target)};
    g.content = copy;
    return queueGenerated(std::move(g), *snap).message.body;
  };
  std::string foreign = queued("sieve redirect", "carol@example.org");
  EXPECT_TRUE(foreign.starts_with("ARC-Seal: ")) << foreign;
  EXPECT_TRUE(foreign.ends_with(copy));
  arc::ChainResult r = peers.validate(foreign);
  EXPECT_EQ(r.status, arc::ChainStatus::Pass) << r.reason;
  EXPECT_EQ(r.instances, 1);
  EXPECT_EQ(queued("sieve redirect", "alice@example.test"), copy);  // local: not forwarding
  EXPECT_EQ(queued("vacation reply", "bob@example.org"), copy);     // our own mail
}

}  // namespace
}  // namespace petrel::server
