// Tests for the keys the access maps (source/policy/checks/access_maps.cc) look up, in order,
// against Postfix's smtpd_check.c and mail_addr_find.c: the full address, the address without
// its extension, the domain, the parent domains (as "example.com" and ".example.com" with
// parent_domain_matches_subdomains naming smtpd_access_maps, else as ".example.com" only),
// "localpart@"; a client's name and parents, then its address and prefixes; a table of
// patterns (regexp, cidr) only ever sees the whole string. A recording table that finds nothing
// shows every key asked.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "petrel/policy/registry.h"
#include "petrel/policy/restrictions.h"

namespace petrel::policy {
namespace {

class RecordingTable final : public lookup::LookupTable {
 public:
  explicit RecordingTable(std::string description) : description_(std::move(description)) {}
  lookup::LookupResult lookup(std::string_view key) const override {
    keys.emplace_back(key);
    return lookup::LookupResult::notFound();
  }
  std::string describe() const override { return description_; }
  mutable std::vector<std::string> keys;

 private:
  std::string description_;
};

struct Asked {
  std::string check;
  std::string table = "inline:access";
  bool parent_matches = true;
  std::string delimiter;
};

std::vector<std::string> keysAsked(const Asked& a, const PolicyContext& ctx) {
  auto table = std::make_shared<RecordingTable>(a.table);
  CheckEnvironment env({}, [table](const std::string&) { return table; });
  env.parent_domain_matches_subdomains = a.parent_matches;
  env.recipient_delimiter = a.delimiter;
  auto list = RestrictionList::parse(Stage::Recipient, {a.check + " access"}, env);
  EXPECT_TRUE(list.ok()) << (list.ok() ? "" : list.error().message());
  if (!list.ok()) return {};
  std::optional<Decision> d;
  list->evaluate(ctx, [&d](Decision out) { d = std::move(out); });
  EXPECT_TRUE(d.has_value());
  return table->keys;
}

PolicyContext sender(std::string address) {
  PolicyContext ctx;
  ctx.client_ip = "192.0.2.7";
  ctx.sender = std::move(address);
  ctx.recipient = "bob@example.org";
  ctx.is_our_destination = [](std::string_view) { return true; };
  return ctx;
}

using Keys = std::vector<std::string>;

TEST(AccessMapsTest, AddressKeysWithParentDomainMatchingSubdomains) {
  // Postfix's default: parents as "example.com"; Petrel also asks ".example.com".
  EXPECT_EQ(keysAsked({"check_sender_access"}, sender("Zzz@Cs.Xxx.Poznan.PL")),
            (Keys{"zzz@cs.xxx.poznan.pl", "cs.xxx.poznan.pl", "xxx.poznan.pl", ".xxx.poznan.pl",
                  "poznan.pl", ".poznan.pl", "pl", ".pl", "zzz@"}));
}

TEST(AccessMapsTest, AddressKeysWithoutParentDomainMatching) {
  EXPECT_EQ(keysAsked({"check_sender_access", "inline:access", false}, sender("x@a.example.com")),
            (Keys{"x@a.example.com", "a.example.com", ".example.com", ".com", "x@"}));
}

TEST(AccessMapsTest, RecipientDelimiterAddsTheBareAddressAndLocalPart) {
  PolicyContext ctx = sender("");
  ctx.recipient = "bob+lists@example.org";
  EXPECT_EQ(keysAsked({"check_recipient_access", "inline:access", false, "+"}, ctx),
            (Keys{"bob+lists@example.org", "bob@example.org", "example.org", ".org", "bob+lists@",
                  "bob@"}));
}

TEST(AccessMapsTest, PatternTablesSeeTheWholeStringOnly) {
  // access(5), REGULAR EXPRESSION TABLES: no parent domains, no user@ / domain split.
  EXPECT_EQ(keysAsked({"check_sender_access", "regexp:/etc/petrel/access"}, sender("x@a.b.c")),
            (Keys{"x@a.b.c"}));
  PolicyContext ctx = sender("x@a.b.c");
  ctx.client.client_name = "mail.example.com";
  EXPECT_EQ(keysAsked({"check_client_access", "regexp:/etc/petrel/access"}, ctx),
            (Keys{"mail.example.com", "192.0.2.7"}));
  EXPECT_EQ(keysAsked({"check_client_access", "cidr:/etc/petrel/access"}, ctx),
            (Keys{"mail.example.com", "192.0.2.7"}));
  EXPECT_EQ(keysAsked({"check_client_access"}, ctx),
            (Keys{"mail.example.com", "example.com", ".example.com", "com", ".com", "192.0.2.7",
                  "192.0.2", "192.0", "192"}));
}

TEST(AccessMapsTest, NumericHeloHasNoParents) {
  PolicyContext ctx = sender("x@example.net");
  ctx.helo = "192.0.2.7";
  EXPECT_EQ(keysAsked({"check_helo_access"}, ctx), (Keys{"192.0.2.7"}));
  ctx.helo = "[192.0.2.7]";
  EXPECT_EQ(keysAsked({"check_helo_access"}, ctx), (Keys{"[192.0.2.7]"}));
  ctx.helo = "Mx.Example.NET.";
  EXPECT_EQ(keysAsked({"check_helo_access", "inline:access", false}, ctx),
            (Keys{"mx.example.net", ".example.net", ".net"}));
}

}  // namespace
}  // namespace petrel::policy
