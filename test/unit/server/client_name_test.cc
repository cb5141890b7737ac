// ClientNameLookup against the FakeResolver: forward-confirmed reverse DNS as Postfix's
// smtpd_peer.c has it (PTR, then A/AAAA of the PTR name back to the address), the statuses
// reject_unknown_client_hostname and reject_unknown_reverse_client_hostname read, the warning
// Postfix logs, and the async rules (no answer inside start(), none after destruction).
#include "petrel/server/client_name.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "fakes/fake_resolver.h"

namespace petrel::server {
namespace {

using NS = policy::ClientFacts::NameStatus;

struct Outcome {
  std::optional<ClientName> name;
  std::vector<std::string> queries;
};

Outcome lookUp(std::string_view zone, std::string_view ip) {
  dns::FakeResolver resolver(zone);
  Outcome run;
  auto lookup = ClientNameLookup::start(resolver, ip, [&run](ClientName n) { run.name = n; });
  EXPECT_NE(lookup, nullptr);
  EXPECT_FALSE(run.name) << "answered inside start()";
  resolver.runPending();
  run.queries = resolver.queries();
  return run;
}

TEST(ClientNameLookup, ConfirmedName) {
  Outcome r = lookUp(R"(
2.0.0.127.in-addr.arpa PTR mail.example.org
mail.example.org A 192.0.2.9
mail.example.org A 127.0.0.2
)",
                 "127.0.0.2");
  ASSERT_TRUE(r.name);
  EXPECT_EQ(r.name->client_name, "mail.example.org");
  EXPECT_EQ(r.name->reverse_client_name, "mail.example.org");
  EXPECT_EQ(r.name->status, NS::Verified);
  EXPECT_EQ(r.name->warning, "");
  EXPECT_EQ(r.queries, (std::vector<std::string>{"2.0.0.127.in-addr.arpa PTR",
                                                 "mail.example.org A"}));
}

TEST(ClientNameLookup, NoPtrRecord) {
  Outcome r = lookUp("2.0.0.127.in-addr.arpa NXDOMAIN\n", "127.0.0.2");
  ASSERT_TRUE(r.name);
  EXPECT_EQ(r.name->client_name, "unknown");
  EXPECT_EQ(r.name->reverse_client_name, "unknown");
  EXPECT_EQ(r.name->status, NS::NoPtr);
  EXPECT_EQ(r.queries.size(), 1u);
}

TEST(ClientNameLookup, PtrTemporaryFailure) {
  Outcome r = lookUp("2.0.0.127.in-addr.arpa SERVFAIL\n", "127.0.0.2");
  ASSERT_TRUE(r.name);
  EXPECT_EQ(r.name->client_name, "unknown");
  EXPECT_EQ(r.name->reverse_client_name, "unknown");
  EXPECT_EQ(r.name->status, NS::TempFail);
}

TEST(ClientNameLookup, ForwardDoesNotMatch) {
  Outcome r = lookUp(R"(
2.0.0.127.in-addr.arpa PTR forged.example.org
forged.example.org A 192.0.2.66
)",
                 "127.0.0.2");
  ASSERT_TRUE(r.name);
  EXPECT_EQ(r.name->client_name, "unknown");
  EXPECT_EQ(r.name->reverse_client_name, "forged.example.org");
  EXPECT_EQ(r.name->status, NS::NotConfirmed);
  EXPECT_EQ(r.name->warning, "hostname forged.example.org does not resolve to address 127.0.0.2");
}

TEST(ClientNameLookup, ForwardNameMissing) {
  Outcome r = lookUp(R"(
2.0.0.127.in-addr.arpa PTR gone.example.org
gone.example.org NXDOMAIN
)",
                 "127.0.0.2");
  ASSERT_TRUE(r.name);
  EXPECT_EQ(r.name->status, NS::NotConfirmed);
  EXPECT_EQ(r.name->warning,
            "hostname gone.example.org does not resolve to address 127.0.0.2: Name or service "
            "not known");
}

TEST(ClientNameLookup, ForwardTemporaryFailure) {
  Outcome r = lookUp(R"(
2.0.0.127.in-addr.arpa PTR slow.example.org
slow.example.org TIMEOUT
)",
                 "127.0.0.2");
  ASSERT_TRUE(r.name);
  EXPECT_EQ(r.name->client_name, "unknown");
  EXPECT_EQ(r.name->reverse_client_name, "slow.example.org");
  EXPECT_EQ(r.name->status, NS::TempFail);
  EXPECT_EQ(r.name->warning,
            "hostname slow.example.org does not resolve to address 127.0.0.2: Temporary failure "
            "in name resolution");
}

// Several PTR names: the first that leads back wins; at most MaxPtrNames are tried.
TEST(ClientNameLookup, SecondPtrNameConfirms) {
  Outcome r = lookUp(R"(
2.0.0.127.in-addr.arpa PTR first.example.org
2.0.0.127.in-addr.arpa PTR second.example.org
first.example.org A 192.0.2.1
second.example.org A 127.0.0.2
)",
                 "127.0.0.2");
  ASSERT_TRUE(r.name);
  EXPECT_EQ(r.name->client_name, "second.example.org");
  EXPECT_EQ(r.name->reverse_client_name, "first.example.org");
  EXPECT_EQ(r.name->status, NS::Verified);
  EXPECT_EQ(r.name->warning, "");
}

TEST(ClientNameLookup, AtMostThreePtrNames) {
  Outcome r = lookUp(R"(
2.0.0.127.in-addr.arpa PTR a.example.org
2.0.0.127.in-addr.arpa PTR b.example.org
2.0.0.127.in-addr.arpa PTR c.example.org
2.0.0.127.in-addr.arpa PTR d.example.org
d.example.org A 127.0.0.2
)",
                 "127.0.0.2");
  ASSERT_TRUE(r.name);
  EXPECT_EQ(r.name->status, NS::NotConfirmed);
  EXPECT_EQ(r.queries.size(), 1u + ClientNameLookup::MaxPtrNames);
}

// A forward lookup that failed temporarily is a temporary failure unless another name confirms.
TEST(ClientNameLookup, TemporaryFailureThenConfirmation) {
  Outcome r = lookUp(R"(
2.0.0.127.in-addr.arpa PTR slow.example.org
2.0.0.127.in-addr.arpa PTR good.example.org
slow.example.org SERVFAIL
good.example.org A 127.0.0.2
)",
                 "127.0.0.2");
  ASSERT_TRUE(r.name);
  EXPECT_EQ(r.name->status, NS::Verified);
  EXPECT_EQ(r.name->client_name, "good.example.org");
}

// A numeric or malformed PTR name never becomes the client's name (it would pass for an
// address in an access map).
TEST(ClientNameLookup, UnusablePtrNames) {
  Outcome r = lookUp(R"(
2.0.0.127.in-addr.arpa PTR 127.0.0.2
)",
                 "127.0.0.2");
  ASSERT_TRUE(r.name);
  EXPECT_EQ(r.name->status, NS::NoPtr);
  EXPECT_EQ(r.name->reverse_client_name, "unknown");
  EXPECT_EQ(r.name->warning, "malformed or numeric hostname 127.0.0.2 for address 127.0.0.2: ignored");
  EXPECT_EQ(r.queries.size(), 1u);
}

TEST(ClientNameLookup, Ipv6AsksAaaa) {
  Outcome r = lookUp(R"(
1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa PTR v6.example.org
v6.example.org A 192.0.2.1
v6.example.org AAAA 2001:db8::1
)",
                 "2001:db8::1");
  ASSERT_TRUE(r.name);
  EXPECT_EQ(r.name->status, NS::Verified);
  EXPECT_EQ(r.name->client_name, "v6.example.org");
  ASSERT_EQ(r.queries.size(), 2u);
  EXPECT_EQ(r.queries[1], "v6.example.org AAAA");
}

// An IPv4 client seen on a dual-stack socket is looked up as IPv4.
TEST(ClientNameLookup, MappedIpv4) {
  Outcome r = lookUp(R"(
2.0.0.127.in-addr.arpa PTR mail.example.org
mail.example.org A 127.0.0.2
)",
                 "::ffff:127.0.0.2");
  ASSERT_TRUE(r.name);
  EXPECT_EQ(r.name->status, NS::Verified);
  EXPECT_EQ(r.queries[0], "2.0.0.127.in-addr.arpa PTR");
}

TEST(ClientNameLookup, NotAnAddress) {
  dns::FakeResolver resolver;
  EXPECT_EQ(ClientNameLookup::start(resolver, "unknown", [](ClientName) { FAIL(); }), nullptr);
  EXPECT_TRUE(resolver.queries().empty());
}

// Destroying the lookup (a timeout, a closed connection) cancels it: no callback afterwards.
TEST(ClientNameLookup, DestroyCancels) {
  dns::FakeResolver resolver("2.0.0.127.in-addr.arpa PTR mail.example.org\n");
  bool called = false;
  auto lookup = ClientNameLookup::start(resolver, "127.0.0.2", [&](ClientName) { called = true; });
  ASSERT_NE(lookup, nullptr);
  lookup.reset();
  EXPECT_EQ(resolver.runPending(), 0u);
  EXPECT_FALSE(called);
}

// The callback may destroy the lookup that calls it (the session driver does).
TEST(ClientNameLookup, CallbackMayDestroyTheLookup) {
  dns::FakeResolver resolver("2.0.0.127.in-addr.arpa NXDOMAIN\n");
  std::unique_ptr<ClientNameLookup> lookup;
  bool called = false;
  lookup = ClientNameLookup::start(resolver, "127.0.0.2", [&](ClientName) {
    called = true;
    lookup.reset();
  });
  resolver.runPending();
  EXPECT_TRUE(called);
  EXPECT_EQ(lookup, nullptr);
}

// The hosts file answers first, as the C library's resolver does for Postfix: a listed
// address is named and confirmed without a query; an unlisted one is left to DNS.
TEST(ClientNameFromHosts, AListedAddressIsNamedAndConfirmed) {
  dns::HostsFile hosts = dns::HostsFile::parse("127.0.0.1 localhost\n127.0.1.1 mx.example.test\n");
  auto name = nameFromHosts(hosts, "127.0.0.1");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->client_name, "localhost");
  EXPECT_EQ(name->reverse_client_name, "localhost");
  EXPECT_EQ(name->status, NS::Verified);
  EXPECT_EQ(nameFromHosts(hosts, "::ffff:127.0.1.1")->client_name, "mx.example.test");
  EXPECT_FALSE(nameFromHosts(hosts, "127.0.0.2"));
  EXPECT_FALSE(nameFromHosts(hosts, "not an address"));
  // A name that is no host name (numeric) is not taken from the file either.
  EXPECT_FALSE(nameFromHosts(dns::HostsFile::parse("192.0.2.1 192.0.2.1\n"), "192.0.2.1"));
}

}  // namespace
}  // namespace petrel::server
