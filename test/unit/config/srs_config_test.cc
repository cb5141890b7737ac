// Tests for the `srs:` section (source/config/srs.cc): off by default, every key, the secrets
// file (lines, the first signs), and the exact text and position of errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "petrel/config/config.h"
#include "section_load.h"

namespace petrel::config {
namespace {

using section_test::Errors;

constexpr std::string_view Minimal =
    "listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
    "domains: {local: []}\n";

LoadResult load(std::string_view extra) { return section_test::loadAfter(Minimal, extra); }

Errors errorsWith(std::string_view extra) { return section_test::errorsOf(load(extra)); }

TEST(SrsConfigTest, OffByDefault) {
  LoadResult r = load("");
  ASSERT_TRUE(r.config.has_value());
  EXPECT_FALSE(r.config->srs.enabled());
}

TEST(SrsConfigTest, EveryKey) {
  LoadResult r = load(
      "srs:\n"
      "  domain: Forward.Example\n"
      "  secrets: [new-one, old-one]\n"
      "  exclude_domains: [partner.example, .Corp.Example]\n"
      "  max_age: 30d\n"
      "  hash_length: 6\n"
      "  hash_min: 4\n"
      "  separator: '+'\n");
  ASSERT_TRUE(r.config.has_value()) << section_test::errorsOf(r).front();
  const Srs& s = r.config->srs;
  EXPECT_TRUE(s.enabled());
  EXPECT_EQ(s.domain, "forward.example");
  EXPECT_EQ(s.secrets, (std::vector<std::string>{"new-one", "old-one"}));
  EXPECT_EQ(s.exclude_domains, (std::vector<std::string>{"partner.example", ".corp.example"}));
  EXPECT_EQ(s.max_age, 30u * 86400);
  EXPECT_EQ(s.hash_length, 6u);
  EXPECT_EQ(s.hash_min, 4u);
  EXPECT_EQ(s.separator, '+');
}

TEST(SrsConfigTest, DefaultsAndHashMinFollowsHashLength) {
  LoadResult r = load("srs: {domain: f.example, secrets: [s], hash_length: 5}\n");
  ASSERT_TRUE(r.config.has_value());
  EXPECT_EQ(r.config->srs.max_age, 21u * 86400);
  EXPECT_EQ(r.config->srs.hash_min, 5u);
  EXPECT_EQ(r.config->srs.separator, '=');
}

TEST(SrsConfigTest, SecretsFileOfLines) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "petrel-srs-config-test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "srs.secrets") << "first secret\r\n\nsecond\n";
  LoadResult r = section_test::loadAfter(
      Minimal, "srs: {domain: f.example, secrets_file: srs.secrets}\n", dir.string());
  ASSERT_TRUE(r.config.has_value()) << section_test::errorsOf(r).front();
  EXPECT_EQ(r.config->srs.secrets, (std::vector<std::string>{"first secret", "second"}));
  EXPECT_EQ(r.config->srs.secrets_file, (dir / "srs.secrets").string());
  std::ofstream(dir / "empty.secrets") << "\n";
  EXPECT_EQ(section_test::errorsOf(section_test::loadAfter(
                Minimal, "srs: {domain: f.example, secrets_file: empty.secrets}\n", dir.string())),
            (Errors{"t.yaml:3:40: srs.secrets_file: " + (dir / "empty.secrets").string() +
                    ": no secret in it"}));
  std::filesystem::remove_all(dir);
}

TEST(SrsConfigTest, Errors) {
  EXPECT_EQ(errorsWith("srs: {secrets: [s]}\n"),
            (Errors{"t.yaml:3:6: missing required key 'domain' in srs (the forwarding domain "
                    "SRS addresses are made at)"}));
  EXPECT_EQ(errorsWith("srs: {domain: f.example}\n"),
            (Errors{"t.yaml:3:6: srs: needs secrets (a list) or secrets_file (a file of lines)"}));
  EXPECT_EQ(
      errorsWith("srs: {domain: f.example, secrets: [s], secrets_file: /x}\n"),
      (Errors{"t.yaml:3:54: srs.secrets_file: give either secrets or secrets_file, not both"}));
  EXPECT_EQ(errorsWith("srs: {domain: f.example, secrets: [s], max_age: 36h}\n"),
            (Errors{"t.yaml:3:49: srs.max_age: must be whole days between 1d and 1000d (SRS "
                    "timestamps count days)"}));
  EXPECT_EQ(errorsWith("srs: {domain: f.example, secrets: [s], separator: '#'}\n"),
            (Errors{"t.yaml:3:51: srs.separator: expected one of = + -, got '#'"}));
  EXPECT_EQ(errorsWith("srs: {domain: f.example, secrets: [s], exclude_domains: [-x-]}\n"),
            (Errors{"t.yaml:3:58: srs.exclude_domains[0]: '-x-' is not a domain (or .domain "
                    "for those below it)"}));
  EXPECT_EQ(errorsWith("srs: {domain: f.example, secret: [s]}\n").size(), 2u);
}

}  // namespace
}  // namespace petrel::config
