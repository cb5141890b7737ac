// Tests for RestrictionList: parsing check names, each check's Postfix semantics and reply, and
// an open-relay battery over the built-in default set (permit_mynetworks,
// permit_sasl_authenticated, reject_unauth_destination): every combination of client address,
// authentication and recipient, with the implicit reject_unauth_destination fallback that keeps
// lists which forget it from relaying.
#include "petrel/policy/restrictions.h"

#include <gtest/gtest.h>

#include "petrel/config/config.h"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::policy {
namespace {

using Kind = Decision::Kind;
using Checks = std::vector<std::string>;

const Checks DefaultSet{"permit_mynetworks", "permit_sasl_authenticated",
                        "reject_unauth_destination"};
const Checks SubmissionSet{"reject_sender_login_mismatch", "permit_sasl_authenticated", "reject"};

CidrList networks(const std::vector<std::string_view>& blocks) {
  std::vector<Cidr> out;
  for (std::string_view b : blocks) {
    Result<Cidr> c = Cidr::parse(b);
    EXPECT_TRUE(c.ok()) << b;
    if (c.ok()) {
      out.push_back(*c);
    }
  }
  return CidrList(std::move(out));
}

// The config default: [127.0.0.1/32, "::1/128"].
CidrList defaultNetworks() { return networks({"127.0.0.1/32", "::1/128"}); }

RestrictionList list(Stage stage, const Checks& checks, CidrList mynetworks = defaultNetworks()) {
  Result<RestrictionList> r = RestrictionList::parse(stage, checks, std::move(mynetworks));
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? std::move(r).value() : RestrictionList();
}

// Local domain example.org; alice@example.org belongs to alice, shared@example.org to alice
// and bob, nobody@example.org to nobody.
PolicyContext context(std::string client_ip, std::string sasl_user, std::string recipient,
                      std::string sender = "someone@example.net") {
  PolicyContext ctx;
  ctx.client_ip = std::move(client_ip);
  ctx.helo = "client.example.net";
  ctx.sasl_user = std::move(sasl_user);
  ctx.sender = std::move(sender);
  ctx.recipient = std::move(recipient);
  ctx.is_our_destination = [](std::string_view domain) { return domain == "example.org"; };
  ctx.sender_owners = [](std::string_view sender) -> std::vector<std::string> {
    static const std::map<std::string, std::vector<std::string>, std::less<>> owners{
        {"alice@example.org", {"alice"}},
        {"shared@example.org", {"alice", " Bob"}},
    };
    auto it = owners.find(sender);
    return it == owners.end() ? std::vector<std::string>{} : it->second;
  };
  return ctx;
}

std::string describe(const Decision& d) {
  switch (d.kind) {
    case Kind::Permit:
      return "permit by " + d.rule;
    case Kind::Dunno:
      return "dunno" + (d.rule.empty() ? std::string() : " by " + d.rule);
    case Kind::Reject:
    case Kind::Defer:
      break;
  }
  return std::string(d.kind == Kind::Reject ? "reject" : "defer") + " by " + d.rule + ": " +
         std::to_string(d.code) + " " + d.enhanced + " " + d.text;
}

// Runs the list; with no blocking table and no offload every check answers in place.
Decision decide(const RestrictionList& l, const PolicyContext& ctx) {
  std::optional<Decision> out;
  l.evaluate(ctx, [&out](Decision d) { out = std::move(d); });
  EXPECT_TRUE(out.has_value()) << "the list did not answer in place";
  return out.value_or(Decision{});
}

std::string evaluate(const RestrictionList& l, const PolicyContext& ctx) {
  return describe(decide(l, ctx));
}

// Without a resolver (`petrel route`) the DNS checks decide nothing, in place; the client
// name checks decide nothing when no lookup was made (smtp.peername_lookup off).
TEST(RestrictionListTest, DnsChecksWithoutResolverDecideNothing) {
  RestrictionList l = list(Stage::Recipient,
                           {"reject_unknown_helo_hostname", "reject_unknown_sender_domain",
                            "reject_unknown_recipient_domain", "reject_unknown_client_hostname",
                            "reject_unknown_reverse_client_hostname", "permit_mx_backup", "permit"});
  PolicyContext ctx;
  ctx.client_ip = "192.0.2.1";
  ctx.helo = "nowhere.invalid";
  ctx.sender = "a@nowhere.invalid";
  ctx.recipient = "b@nowhere.invalid";
  EXPECT_EQ(evaluate(l, ctx), "permit by permit");
}

TEST(RestrictionListTest, ParsesKnownNamesOnly) {
  EXPECT_EQ(knownRestrictions(),
            (Checks{"permit_mynetworks", "permit_sasl_authenticated", "reject_unauth_destination",
                    "reject_sender_login_mismatch", "permit", "reject", "defer", "warn_if_reject",
                    "reject_invalid_helo_hostname", "reject_non_fqdn_helo_hostname",
                    "reject_non_fqdn_sender", "reject_non_fqdn_recipient",
                    "reject_unknown_helo_hostname", "reject_unknown_sender_domain",
                    "reject_unknown_recipient_domain", "reject_unknown_client_hostname",
                    "reject_unknown_reverse_client_hostname", "reject_unlisted_sender",
                    "reject_unlisted_recipient", "permit_mx_backup",
                    "reject_unauth_pipelining", "reject_multi_recipient_bounce", "reject_spf_fail",
                    "defer_spf_temperror", "reject_spf_permerror", "check_spf", "check_greylist"}));
  Result<RestrictionList> ok = RestrictionList::parse(Stage::Recipient, DefaultSet, {});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->checks(), DefaultSet);

  Result<RestrictionList> bad =
      RestrictionList::parse(Stage::Client, {"permit", "check_client_access"}, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind(), Error::Kind::Config);
  EXPECT_EQ(bad.error().message(), "check_client_access: no table ''");
  Result<RestrictionList> unknown = RestrictionList::parse(Stage::Client, {"permit", "reject_all"}, {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message(),
            "unknown restriction 'reject_all' (known: permit_mynetworks, "
            "permit_sasl_authenticated, reject_unauth_destination, reject_sender_login_mismatch, "
            "permit, reject, defer, warn_if_reject, "
            "reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname, "
            "reject_non_fqdn_sender, reject_non_fqdn_recipient, "
            "reject_unknown_helo_hostname, reject_unknown_sender_domain, "
            "reject_unknown_recipient_domain, reject_unknown_client_hostname, "
            "reject_unknown_reverse_client_hostname, reject_unlisted_sender, "
            "reject_unlisted_recipient, permit_mx_backup, reject_unauth_pipelining, "
            "reject_multi_recipient_bounce, reject_spf_fail, defer_spf_temperror, "
            "reject_spf_permerror, check_spf, check_greylist)");
  EXPECT_FALSE(RestrictionList::parse(Stage::Client, {"PERMIT"}, {}).ok());
  EXPECT_FALSE(RestrictionList::parse(Stage::Client, {""}, {}).ok());
}

// The open-relay battery: the default recipient set must let through exactly mynetworks and
// authenticated clients to any destination, and everybody else only to our domains.
TEST(RestrictionListTest, DefaultSetIsNotAnOpenRelay) {
  RestrictionList rcpt = list(Stage::Recipient, DefaultSet);
  struct Client {
    std::string ip;
    bool insider;
  };
  const std::vector<Client> clients{
      {"127.0.0.1", true},
      {"127.0.0.2", false},
      {"::1", true},
      {"::2", false},
      {"::ffff:127.0.0.1", true},
      {"::ffff:127.0.0.2", false},
      {"203.0.113.5", false},
      {"2001:db8::25", false},
      {"", false},
      {"not-an-address", false},
      {"::127.0.0.1", false},
  };
  struct Recipient {
    std::string address;
    bool ours;
  };
  const std::vector<Recipient> recipients{
      {"bob@example.org", true},
      {"Bob@EXAMPLE.ORG", true},
      {"postmaster", true},  // no domain: local, as in Postfix
      {"bob@example.net", false},
      {"bob@sub.example.org", false},
      {"bob@example.org.", false},
      {"bob@example.org@example.net", false},
      {"bob%example.net@example.org", true},  // the router decides; the domain is ours
      {"bob@[127.0.0.1]", false},
      {"bob@", false},
  };
  for (const Client& client : clients) {
    for (const std::string& user : {std::string(), std::string("alice")}) {
      for (const Recipient& r : recipients) {
        SCOPED_TRACE("client=" + client.ip + " user=" + user + " rcpt=" + r.address);
        Decision d = decide(rcpt, context(client.ip, user, r.address));
        if (client.insider) {
          EXPECT_EQ(describe(d), "permit by permit_mynetworks");
        } else if (!user.empty()) {
          EXPECT_EQ(describe(d), "permit by permit_sasl_authenticated");
        } else if (r.ours) {
          EXPECT_EQ(describe(d), "dunno");
        } else {
          EXPECT_EQ(describe(d), "reject by reject_unauth_destination: 554 5.7.1 <" + r.address +
                                     ">: Relay access denied");
        }
      }
    }
  }
}

TEST(RestrictionListTest, RelayAccessDeniedReply) {
  Decision d = decide(list(Stage::Recipient, DefaultSet), context("127.0.0.2", "", "x@y.z"));
  EXPECT_EQ(d.kind, Kind::Reject);
  EXPECT_EQ(d.code, 554);
  EXPECT_EQ(d.enhanced, "5.7.1");
  EXPECT_EQ(d.text, "<x@y.z>: Relay access denied");
  EXPECT_EQ(d.rule, "reject_unauth_destination");
}

TEST(RestrictionListTest, WithoutDestinationCallbackNothingIsOurs) {
  PolicyContext ctx = context("127.0.0.2", "", "bob@example.org");
  ctx.is_our_destination = nullptr;
  EXPECT_EQ(evaluate(list(Stage::Recipient, {"reject_unauth_destination"}), ctx),
            "reject by reject_unauth_destination: 554 5.7.1 <bob@example.org>: Relay access "
            "denied");
  ctx.recipient = "postmaster";
  EXPECT_EQ(evaluate(list(Stage::Recipient, {"reject_unauth_destination"}), ctx), "dunno");
}

TEST(RestrictionListTest, ImplicitRejectUnauthDestination) {
  // An empty recipient list still refuses to relay.
  RestrictionList empty = list(Stage::Recipient, {});
  EXPECT_EQ(evaluate(empty, context("127.0.0.2", "", "bob@example.net")),
            "reject by (implicit) reject_unauth_destination: 554 5.7.1 <bob@example.net>: Relay "
            "access denied");
  EXPECT_EQ(evaluate(empty, context("127.0.0.1", "alice", "bob@example.net")),
            "reject by (implicit) reject_unauth_destination: 554 5.7.1 <bob@example.net>: Relay "
            "access denied");
  EXPECT_EQ(evaluate(empty, context("127.0.0.2", "", "bob@example.org")), "dunno");

  // Only permit_sasl_authenticated: authenticated clients relay, mynetworks no longer does.
  RestrictionList sasl = list(Stage::Recipient, {"permit_sasl_authenticated"});
  EXPECT_EQ(evaluate(sasl, context("127.0.0.2", "alice", "bob@example.net")),
            "permit by permit_sasl_authenticated");
  EXPECT_EQ(evaluate(sasl, context("127.0.0.1", "", "bob@example.net")),
            "reject by (implicit) reject_unauth_destination: 554 5.7.1 <bob@example.net>: Relay "
            "access denied");
  EXPECT_EQ(evaluate(sasl, context("127.0.0.2", "", "bob@example.org")), "dunno");

  // Only permit_mynetworks.
  RestrictionList mynet = list(Stage::Recipient, {"permit_mynetworks"});
  EXPECT_EQ(evaluate(mynet, context("::1", "", "bob@example.net")), "permit by permit_mynetworks");
  EXPECT_EQ(evaluate(mynet, context("127.0.0.2", "alice", "bob@example.net")),
            "reject by (implicit) reject_unauth_destination: 554 5.7.1 <bob@example.net>: Relay "
            "access denied");
}

TEST(RestrictionListTest, OtherStagesEndInDunno) {
  for (Stage stage : {Stage::Client, Stage::Helo, Stage::Sender}) {
    // No fallback outside the recipient stage; an explicit reject_unauth_destination applies
    // (every list runs at RCPT time, as with Postfix's smtpd_delay_reject).
    EXPECT_EQ(evaluate(list(stage, {}), context("127.0.0.2", "", "bob@example.net")), "dunno");
    EXPECT_EQ(evaluate(list(stage, {"reject_unauth_destination"}),
                       context("127.0.0.2", "", "bob@example.net")),
              "reject by reject_unauth_destination: 554 5.7.1 <bob@example.net>: Relay access "
              "denied");
    EXPECT_EQ(evaluate(list(stage, {"permit_mynetworks", "reject"}), context("127.0.0.2", "", "")),
              "reject by reject: 554 5.7.1 Access denied");
  }
}

TEST(RestrictionListTest, PermitRejectDefer) {
  EXPECT_EQ(evaluate(list(Stage::Recipient, {"permit"}), context("203.0.113.5", "", "x@y.z")),
            "permit by permit");
  EXPECT_EQ(evaluate(list(Stage::Recipient, {"reject"}), context("127.0.0.1", "", "x@y.z")),
            "reject by reject: 554 5.7.1 Access denied");
  EXPECT_EQ(evaluate(list(Stage::Client, {"defer"}), context("127.0.0.1", "", "")),
            "defer by defer: 450 4.7.1 Try again later");
  // First decisive answer wins.
  EXPECT_EQ(evaluate(list(Stage::Client, {"permit_mynetworks", "defer", "reject"}),
                     context("127.0.0.1", "", "")),
            "permit by permit_mynetworks");
  EXPECT_EQ(evaluate(list(Stage::Client, {"permit_mynetworks", "defer", "reject"}),
                     context("127.0.0.2", "", "")),
            "defer by defer: 450 4.7.1 Try again later");
}

TEST(RestrictionListTest, Ipv6Mynetworks) {
  RestrictionList rcpt =
      list(Stage::Recipient, DefaultSet, networks({"2001:db8:10::/48", "192.0.2.0/24"}));
  EXPECT_EQ(evaluate(rcpt, context("2001:db8:10:ffff::9", "", "x@example.net")),
            "permit by permit_mynetworks");
  EXPECT_EQ(evaluate(rcpt, context("2001:db8:11::9", "", "x@example.net")),
            "reject by reject_unauth_destination: 554 5.7.1 <x@example.net>: Relay access denied");
  EXPECT_EQ(evaluate(rcpt, context("::ffff:192.0.2.44", "", "x@example.net")),
            "permit by permit_mynetworks");
  EXPECT_EQ(evaluate(rcpt, context("192.0.2.44", "", "x@example.net")),
            "permit by permit_mynetworks");
  // The defaults are gone when mynetworks is replaced.
  EXPECT_EQ(evaluate(rcpt, context("127.0.0.1", "", "x@example.net")),
            "reject by reject_unauth_destination: 554 5.7.1 <x@example.net>: Relay access denied");
  // Empty mynetworks: nobody relays by address.
  EXPECT_EQ(evaluate(list(Stage::Recipient, DefaultSet, CidrList()),
                     context("127.0.0.1", "", "x@example.net")),
            "reject by reject_unauth_destination: 554 5.7.1 <x@example.net>: Relay access denied");
}

TEST(RestrictionListTest, SenderLoginMismatch) {
  RestrictionList check = list(Stage::Sender, {"reject_sender_login_mismatch"});
  auto sender = [&](std::string user, std::string from) {
    return evaluate(check, context("203.0.113.5", std::move(user), "", std::move(from)));
  };
  // Authenticated.
  EXPECT_EQ(sender("alice", "alice@example.org"), "dunno");
  EXPECT_EQ(sender("ALICE", "alice@example.org"), "dunno");  // login names ignore case
  EXPECT_EQ(sender("alice", "shared@example.org"), "dunno");
  EXPECT_EQ(sender("bob", "shared@example.org"), "dunno");  // owner list entries are trimmed
  EXPECT_EQ(sender("bob", "alice@example.org"),
            "reject by reject_sender_login_mismatch: 553 5.7.1 <alice@example.org>: Sender "
            "address rejected: not owned by user bob");
  // Nobody owns it: an authenticated user may not use it either.
  EXPECT_EQ(sender("alice", "stranger@example.net"),
            "reject by reject_sender_login_mismatch: 553 5.7.1 <stranger@example.net>: Sender "
            "address rejected: not owned by user alice");
  // Not authenticated: owned addresses need a login, others are not this check's business.
  EXPECT_EQ(sender("", "alice@example.org"),
            "reject by reject_sender_login_mismatch: 553 5.7.1 <alice@example.org>: Sender "
            "address rejected: not logged in");
  EXPECT_EQ(sender("", "stranger@example.net"), "dunno");
  // The null sender (bounces) is never checked.
  EXPECT_EQ(sender("bob", ""), "dunno");
  EXPECT_EQ(sender("", ""), "dunno");

  // Without an owner callback nothing is owned.
  PolicyContext ctx = context("203.0.113.5", "alice", "", "alice@example.org");
  ctx.sender_owners = nullptr;
  EXPECT_EQ(evaluate(check, ctx),
            "reject by reject_sender_login_mismatch: 553 5.7.1 <alice@example.org>: Sender "
            "address rejected: not owned by user alice");
}

TEST(RestrictionListTest, SubmissionSet) {
  RestrictionList rcpt = list(Stage::Recipient, SubmissionSet);
  EXPECT_EQ(evaluate(rcpt, context("203.0.113.5", "alice", "x@example.net", "alice@example.org")),
            "permit by permit_sasl_authenticated");
  EXPECT_EQ(evaluate(rcpt, context("203.0.113.5", "bob", "x@example.net", "alice@example.org")),
            "reject by reject_sender_login_mismatch: 553 5.7.1 <alice@example.org>: Sender "
            "address rejected: not owned by user bob");
  // Unauthenticated, even from mynetworks and to a local domain: the explicit reject decides.
  EXPECT_EQ(evaluate(rcpt, context("127.0.0.1", "", "bob@example.org", "x@example.net")),
            "reject by reject: 554 5.7.1 Access denied");
  EXPECT_EQ(evaluate(rcpt, context("127.0.0.1", "", "bob@example.org", "alice@example.org")),
            "reject by reject_sender_login_mismatch: 553 5.7.1 <alice@example.org>: Sender "
            "address rejected: not logged in");
}

// Access maps (Postfix access(5)) over inline tables.
lookup::TablePtr accessTable(std::map<std::string, std::string> entries) {
  config::TableSpec spec;
  spec.name = "access";
  spec.type = "inline";
  spec.entries = std::move(entries);
  return lookup::makeTable(spec, nullptr);
}

RestrictionList accessList(const Checks& checks, lookup::TablePtr table) {
  Result<RestrictionList> r = RestrictionList::parse(
      Stage::Recipient, checks, defaultNetworks(),
      [table](const std::string& ref) { return ref == "access" ? table : nullptr; });
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? std::move(r).value() : RestrictionList();
}

TEST(RestrictionListTest, ClientAccessMatchesAddressesAndPrefixes) {
  auto table = accessTable({{"192.0.2.7", "REJECT no spam from you"},
                            {"198.51.100", "OK"},
                            {"203.0.113.9", "450 4.7.9 try later"},
                            {"203.0.113.10", "DUNNO"},
                            {"203.0.113.11", "FROBNICATE"}});
  RestrictionList l = accessList({"check_client_access access", "permit_mynetworks",
                                  "reject_unauth_destination"},
                                 table);
  EXPECT_EQ(describe(decide(l, context("192.0.2.7", "", "bob@example.org"))),
            "reject by check_client_access access: 554 5.7.1 <unknown[192.0.2.7]>: Client host rejected: no spam from you");
  // "198.51.100" is a prefix entry: it permits the whole /24, even relaying (Postfix's OK).
  EXPECT_EQ(describe(decide(l, context("198.51.100.23", "", "x@elsewhere.test"))),
            "permit by check_client_access access");
  EXPECT_EQ(describe(decide(l, context("203.0.113.9", "", "bob@example.org"))),
            "defer by check_client_access access: 450 4.7.9 <unknown[203.0.113.9]>: Client host rejected: try later");
  // DUNNO: the next checks decide (here the implicit destination check lets it in).
  EXPECT_EQ(decide(l, context("203.0.113.10", "", "bob@example.org")).kind, Kind::Dunno);
  EXPECT_EQ(describe(decide(l, context("203.0.113.11", "", "bob@example.org"))),
            "defer by check_client_access access: 451 4.3.5 <unknown[203.0.113.11]>: Client host rejected: Server configuration error");
}

TEST(RestrictionListTest, SenderAndRecipientAccessUseAddressDomainAndParents) {
  auto table = accessTable({{"spammer@example.net", "REJECT"},
                            {"bad.example", "550 5.7.2 go away"},
                            {".evil.example", "REJECT subdomain"},
                            {"postmaster@", "OK"}});
  RestrictionList senders = accessList({"check_sender_access access"}, table);
  EXPECT_EQ(describe(decide(senders, context("192.0.2.1", "", "bob@example.org",
                                              "Spammer@Example.NET"))),
            "reject by check_sender_access access: 554 5.7.1 <Spammer@Example.NET>: Sender address rejected: Access denied");
  EXPECT_EQ(describe(decide(senders, context("192.0.2.1", "", "bob@example.org",
                                              "x@bad.example"))),
            "reject by check_sender_access access: 550 5.7.2 <x@bad.example>: Sender address rejected: go away");
  EXPECT_EQ(describe(decide(senders, context("192.0.2.1", "", "bob@example.org",
                                              "x@a.b.evil.example"))),
            "reject by check_sender_access access: 554 5.7.1 <x@a.b.evil.example>: Sender address rejected: subdomain");
  // evil.example itself is not matched by ".evil.example".
  EXPECT_EQ(decide(senders, context("192.0.2.1", "", "bob@example.org", "x@evil.example")).kind,
            Kind::Dunno);
  // The null sender is not looked up.
  EXPECT_EQ(decide(senders, context("192.0.2.1", "", "bob@example.org", "")).kind, Kind::Dunno);

  RestrictionList recipients = accessList({"check_recipient_access access"}, table);
  EXPECT_EQ(describe(decide(recipients, context("192.0.2.1", "", "postmaster@elsewhere.test"))),
            "permit by check_recipient_access access");
}

TEST(RestrictionListTest, AFailingAccessTableDefers) {
  config::TableSpec spec;
  spec.name = "file:/nonexistent/access";
  spec.type = "file";
  spec.path = "/nonexistent/access";
  auto table = lookup::makeTable(spec, nullptr);
  RestrictionList l = accessList({"check_client_access access"}, table);
  EXPECT_EQ(describe(decide(l, context("192.0.2.7", "", "bob@example.org"))),
            "defer by check_client_access access: 451 4.3.0 <unknown[192.0.2.7]>: Client host rejected: Temporary lookup failure");
}

TEST(RestrictionListTest, MynetworksFromATable) {
  RestrictionList l = list(Stage::Recipient, DefaultSet, networks({}));
  l.setMynetworksTable(accessTable({{"10.0.4.7", "yes"}}));
  EXPECT_EQ(describe(decide(l, context("10.0.4.7", "", "x@elsewhere.test"))),
            "permit by permit_mynetworks");
  EXPECT_EQ(decide(l, context("10.0.4.8", "", "x@elsewhere.test")).kind, Kind::Reject);
  config::TableSpec broken;
  broken.name = "file:/nonexistent/mynetworks";
  broken.type = "file";
  broken.path = "/nonexistent/mynetworks";
  l.setMynetworksTable(lookup::makeTable(broken, nullptr));
  EXPECT_EQ(describe(decide(l, context("10.0.4.7", "", "x@elsewhere.test"))),
            "defer by permit_mynetworks: 451 4.3.0 <x@elsewhere.test>: Temporary lookup failure");
}

// Restriction classes: the lists hold the classes, the classes' checks only see them, so
// dropping the lists frees everything (no ownership cycle through a class naming a class).
TEST(RestrictionClassesTest, ListsOwnTheClassesAndNothingLeaks) {
  config::TableSpec spec;
  spec.name = "t";
  spec.type = "inline";
  spec.entries = {{"bob@example.org", "inner"}, {"carol@example.org", "outer"}};
  lookup::TablePtr table = lookup::makeTable(spec, nullptr);
  CheckEnvironment env(defaultNetworks(), [table](const std::string& ref) {
    return ref == "t" ? table : nullptr;
  });
  std::weak_ptr<const RestrictionClasses> watch;
  {
    auto classes = RestrictionClasses::build(
        {{"inner", {"reject"}}, {"outer", {"check_recipient_access t", "permit"}}}, env);
    ASSERT_TRUE(classes.ok()) << classes.error().message();
    watch = *classes;
    env.classes = *classes;
    auto parsed = RestrictionList::parse(Stage::Recipient, {"check_recipient_access t"}, env);
    ASSERT_TRUE(parsed.ok());
    env.classes.reset();
    classes->reset();
    EXPECT_FALSE(watch.expired()) << "the list keeps its classes";
    EXPECT_EQ(evaluate(*parsed, context("192.0.2.1", "", "bob@example.org")),
              "reject by reject: 554 5.7.1 Access denied");
    // carol -> outer -> (carol again) -> outer ... bounded: 451 4.3.5.
    EXPECT_EQ(evaluate(*parsed, context("192.0.2.1", "", "carol@example.org")),
              "defer by check_recipient_access t: 451 4.3.5 <carol@example.org>: Recipient "
              "address rejected: Server configuration error");
  }
  EXPECT_TRUE(watch.expired()) << "the classes outlived every list";
}

TEST(RestrictionClassesTest, NamesThatAreChecksOrActionsAreRefused) {
  for (std::string name : {"permit", "check_client_access", "DUNNO", "ok", "a b", ""}) {
    auto classes = RestrictionClasses::build({{name, {"permit"}}}, CheckEnvironment());
    EXPECT_FALSE(classes.ok()) << name;
  }
  auto bad = RestrictionClasses::build({{"c", {"frobnicate"}}}, CheckEnvironment());
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().message().starts_with("restriction class 'c': unknown restriction"))
      << bad.error().message();
}

}  // namespace
}  // namespace petrel::policy
