// Tests for the `checks:` section (source/config/checks.cc): defaults (mime_header and
// nested_header follow header, as in Postfix), every key, and the errors with their
// positions.
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
    "hostname: mx.example.org\n"
    "listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
    "domains: {local: []}\n";

LoadResult load(std::string_view extra) { return section_test::loadAfter(Minimal, extra); }

Errors errorsWith(std::string_view extra) { return section_test::errorsOf(load(extra)); }

TEST(ChecksConfigTest, DefaultsToNoChecks) {
  LoadResult r = load("");
  ASSERT_TRUE(r.config.has_value());
  EXPECT_FALSE(r.config->checks.any());
  EXPECT_EQ(r.config->checks.body_size_limit, 51200u);
}

TEST(ChecksConfigTest, MimeAndNestedFollowHeader) {
  LoadResult r = load("checks: {header: 'regexp:maps/header_checks'}\n");
  ASSERT_TRUE(r.config.has_value()) << r.errors[0].toString();
  const Checks& c = r.config->checks;
  ASSERT_TRUE(c.header && c.mime_header && c.nested_header);
  EXPECT_EQ(c.header->type, "regexp");
  EXPECT_EQ(c.header->path, "/etc/petrel/maps/header_checks");
  EXPECT_EQ(c.mime_header->path, c.header->path);
  EXPECT_EQ(c.nested_header->path, c.header->path);
  EXPECT_FALSE(c.body);
}

TEST(ChecksConfigTest, EveryKey) {
  LoadResult r = load(
      "checks:\n"
      "  header: 'pcre:/etc/petrel/h'\n"
      "  mime_header: 'regexp:/etc/petrel/m'\n"
      "  nested_header: ''\n"
      "  body: 'regexp:/etc/petrel/b'\n"
      "  body_size_limit: 100k\n");
  ASSERT_TRUE(r.config.has_value()) << r.errors[0].toString();
  const Checks& c = r.config->checks;
  EXPECT_EQ(c.header->type, "pcre");
  EXPECT_EQ(c.mime_header->path, "/etc/petrel/m");
  EXPECT_FALSE(c.nested_header);  // "" switches the default off
  EXPECT_EQ(c.body->path, "/etc/petrel/b");
  EXPECT_EQ(c.body_size_limit, 100u * 1024);
}

TEST(ChecksConfigTest, Errors) {
  EXPECT_EQ(errorsWith("checks: {header: 'nosuch:/x', bodi: 'regexp:/b'}\n"),
            (Errors{"t.yaml:4:18: checks.header: unknown table type 'nosuch' (known: inline, "
                    "file, regexp, pcre, cidr, sqlite, pgsql, mysql, ldap)",
                    "t.yaml:4:31: unknown key 'bodi' in checks (did you mean 'body'?)"}));
  Errors e = errorsWith(
      "tables: {db: {type: sqlite, path: /x.db, query: \"SELECT v FROM t WHERE k='%s'\"}}\n"
      "checks: {body: db}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0],
            "t.yaml:5:16: checks.body: a sqlite table would wait on its server in the "
            "content pass; use a regexp:, pcre:, file: or inline table");
}

}  // namespace
}  // namespace petrel::config
