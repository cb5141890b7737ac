// The `checks:` section: Postfix's header_checks, mime_header_checks, nested_header_checks,
// body_checks and body_checks_size_limit (config.h's Checks; docs/checks.md). Each check is a
// table reference; mime_header and nested_header default to header, as in Postfix. The
// tables are read in the content pass, on the session's loop, so only tables that answer
// from memory are taken here (a database table would stall every session of the loop).
#include <fmt/format.h>

#include "loader.h"

namespace petrel::config::detail {

namespace {

bool answersFromMemory(std::string_view type) {
  return type == "inline" || type == "file" || type == "regexp" || type == "pcre" || type == "cidr";
}

}  // namespace

void Loader::loadChecks(const Section& top, Config& c) {
  const Field* f = top.find("checks");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"header", "mime_header", "nested_header", "body", "body_size_limit"});
  auto table = [&](std::string_view key, std::optional<TableSpec>& out) {
    const Field* t = s.find(key);
    if (t == nullptr) return;
    if (t->value.IsScalar() && t->value.Scalar().empty()) return;  // "": off, as in Postfix
    std::optional<TableSpec> spec = tableRef(*t, c);
    if (!spec) return;
    if (!answersFromMemory(spec->type)) {
      report(*t, fmt::format("a {} table would wait on its server in the content pass; use a "
                             "regexp:, pcre:, file: or inline table",
                             spec->type));
      return;
    }
    if (spec->origin.empty()) spec->origin = reporter_.where(t->mark());
    out = std::move(spec);
  };
  table("header", c.checks.header);
  table("mime_header", c.checks.mime_header);
  table("nested_header", c.checks.nested_header);
  table("body", c.checks.body);
  // Postfix: mime_header_checks and nested_header_checks default to $header_checks.
  if (!s.find("mime_header")) c.checks.mime_header = c.checks.header;
  if (!s.find("nested_header")) c.checks.nested_header = c.checks.header;
  setSize(s, "body_size_limit", c.checks.body_size_limit);
}

}  // namespace petrel::config::detail
