// Tests for the `dkim:` section (source/config/dkim.cc) and its key check
// (server/config_checks.cc): defaults, entries, and the errors with their positions.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "petrel/config/config.h"
#include "section_load.h"
#include "petrel/server/config_checks.h"

namespace petrel::config {
namespace {

using section_test::Errors;

constexpr std::string_view Minimal =
    "listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
    "domains: {local: []}\n";

const std::string Keys = std::string(PETREL_SOURCE_ROOT) + "/test/testdata/dkim";

LoadResult load(std::string_view extra) { return section_test::loadAfter(Minimal, extra, Keys); }

Errors errorsWith(std::string_view extra) { return section_test::errorsOf(load(extra)); }

TEST(DkimConfigTest, DefaultsAndEntries) {
  LoadResult none = load("");
  ASSERT_TRUE(none.config);
  EXPECT_TRUE(none.config->dkim.verify);
  EXPECT_TRUE(none.config->dkim.sign.empty());
  LoadResult r = load(
      "dkim:\n"
      "  verify: false\n"
      "  sign:\n"
      "    - {domain: Example.COM, selector: s1, key: 2048_testkey.key}\n"
      "    - {domain: example.com, selector: s2, key: 1024_testkey.key,\n"
      "       algorithm: rsa-sha256, headers: [From, Subject]}\n");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].toString());
  const Dkim& d = r.config->dkim;
  EXPECT_FALSE(d.verify);
  ASSERT_EQ(d.sign.size(), 2u);
  EXPECT_EQ(d.sign[0].domain, "example.com");
  EXPECT_EQ(d.sign[0].key, Keys + "/2048_testkey.key");
  EXPECT_EQ(d.sign[0].algorithm, "rsa-sha256");
  EXPECT_EQ(d.sign[1].headers, (std::vector<std::string>{"From", "Subject"}));
}

TEST(DkimConfigTest, Errors) {
  EXPECT_EQ(errorsWith("dkim:\n  sign:\n    - {domain: example.com, selector: s, key: rsa512.key}\n"),
            Errors{"t.yaml:5:47: dkim.sign: " + Keys +
                   "/rsa512.key: the RSA key has 512 bits; at least 1024 are needed (RFC 8301)"});
  EXPECT_EQ(errorsWith("dkim:\n  sign:\n    - {domain: example.com, selector: s, key: 2048_testkey.key,"
                       " algorithm: ed25519-sha256}\n"),
            Errors{"t.yaml:5:47: dkim.sign: " + Keys +
                   "/2048_testkey.key: the key is not an Ed25519 key (algorithm ed25519-sha256)"});
  Errors missing = errorsWith("dkim:\n  sign:\n    - {domain: example.com, selector: s, key: nothere.key}\n");
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_NE(missing[0].find("t.yaml:5:47: dkim.sign: " + Keys + "/nothere.key"), std::string::npos);
  Errors bad = errorsWith(
      "dkim:\n  sign:\n"
      "    - {domain: 'not a domain', selector: s, key: 2048_testkey.key}\n"
      "    - {domain: example.com, selector: s, key: 2048_testkey.key, algorithm: rsa-sha1}\n"
      "    - {domain: example.com, selector: s, key: 2048_testkey.key, headers: [Subject]}\n"
      "    - {domain: example.com, key: 2048_testkey.key}\n");
  ASSERT_EQ(bad.size(), 4u);
  EXPECT_NE(bad[0].find("'not a domain' is not a domain name"), std::string::npos) << bad[0];
  EXPECT_NE(bad[1].find("expected rsa-sha256 or ed25519-sha256, got 'rsa-sha1'"), std::string::npos)
      << bad[1];
  EXPECT_NE(bad[2].find("the list must include From"), std::string::npos) << bad[2];
  EXPECT_NE(bad[3].find("selector"), std::string::npos) << bad[3];
}

}  // namespace
}  // namespace petrel::config
