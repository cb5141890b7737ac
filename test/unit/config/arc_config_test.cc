// Tests for the `arc:` section (source/config/arc.cc) and its key check
// (server/config_checks.cc): off by default, the seal entry, and errors with their positions.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "petrel/config/config.h"
#include "section_load.h"

namespace petrel::config {
namespace {

using section_test::Errors;

constexpr std::string_view Minimal =
    "listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
    "domains: {local: []}\n";

const std::string Keys = std::string(PETREL_SOURCE_ROOT) + "/test/testdata/dkim";

LoadResult load(std::string_view extra) { return section_test::loadAfter(Minimal, extra, Keys); }

Errors errorsWith(std::string_view extra) { return section_test::errorsOf(load(extra)); }

TEST(ArcConfigTest, OffByDefault) {
  LoadResult r = load("");
  ASSERT_TRUE(r.config);
  EXPECT_FALSE(r.config->arc.sealing());
  LoadResult empty = load("arc: {seal: null}\n");
  ASSERT_TRUE(empty.config);
  EXPECT_FALSE(empty.config->arc.sealing());
}

TEST(ArcConfigTest, TheSealEntry) {
  LoadResult r = load(
      "arc:\n"
      "  seal: {domain: Forward.Example, selector: ARC1, key: 2048_testkey.key,\n"
      "         headers: [From, To, Subject, DKIM-Signature]}\n");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].toString());
  const Dkim::SignEntry& s = r.config->arc.seal;
  EXPECT_TRUE(r.config->arc.sealing());
  EXPECT_EQ(s.domain, "forward.example");
  EXPECT_EQ(s.selector, "arc1");
  EXPECT_EQ(s.key, Keys + "/2048_testkey.key");
  EXPECT_EQ(s.algorithm, "rsa-sha256");
  EXPECT_EQ(s.headers, (std::vector<std::string>{"From", "To", "Subject", "DKIM-Signature"}));
  // An AMS need not sign From (RFC 8617 4.1.2), unlike a DKIM signature.
  LoadResult no_from =
      load("arc: {seal: {domain: f.example, selector: a, key: 2048_testkey.key, headers: [To]}}\n");
  EXPECT_TRUE(no_from.config);
}

TEST(ArcConfigTest, Errors) {
  EXPECT_EQ(errorsWith("arc: {seal: {domain: f.example, selector: a, key: 2048_testkey.key,"
                       " headers: [From, ARC-Seal]}}\n"),
            (Errors{"t.yaml:3:85: arc.seal.headers[1]: ARC-Seal must not be signed by the "
                    "ARC-Message-Signature (RFC 8617 4.1.2)"}));
  EXPECT_EQ(errorsWith("arc: {seal: {domain: f.example, selector: a, key: rsa512.key}}\n"),
            (Errors{"t.yaml:3:51: arc.seal: " + Keys +
                    "/rsa512.key: the RSA key has 512 bits; at least 1024 are needed (RFC 8301)"}));
  EXPECT_EQ(errorsWith("arc: {seal: [f.example]}\n"),
            (Errors{"t.yaml:3:13: arc.seal: expected a map (domain, selector, key), got a list"}));
  EXPECT_EQ(errorsWith("arc: {seal: {domain: f.example, key: 2048_testkey.key}}\n"),
            (Errors{"t.yaml:3:13: missing required key 'selector' in arc.seal"}));
  // Validation on receipt is dkim.verify's: arc has no switch of its own.
  EXPECT_EQ(errorsWith("arc: {verify: true}\n"),
            (Errors{"t.yaml:3:7: unknown key 'verify' in arc"}));
}

}  // namespace
}  // namespace petrel::config
