// Where mail is accepted and how addresses map to mailboxes: `domains:` (local and relay,
// as lists or table references), `mailboxes:`, `aliases:`, `recipient_delimiter:` and
// `canonical:` (address rewriting). The tables themselves are declared in tables.cc.
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "loader.h"
#include "petrel/core/strings.h"

namespace petrel::config::detail {

void Loader::loadDomains(const Section& top, Config& c) {
  constexpr std::string_view Hint = "(an empty list, local: [], means no local mailboxes)";
  const Field* f = top.require("domains", Hint);
  if (f == nullptr) {
    return;
  }
  Section domains(reporter_, *f);
  domains.allowOnly({"local", "relay"});
  if (const Field* local = domains.require("local", Hint)) {
    if (local->value.IsScalar()) {
      c.local_domains_table = tableRef(*local, c);
    } else {
      c.local_domains = domainList(*local, {});
      for (const Field& item : domain_fields_) {
        c.local_domain_origins.push_back(reporter_.where(item.mark()));
      }
    }
  }
  if (const Field* relay = domains.find("relay"); relay != nullptr && !relay->value.IsNull()) {
    if (relay->value.IsScalar()) {
      c.relay_domains_table = tableRef(*relay, c);
    } else {
      c.relay_domains = domainList(*relay, c.local_domains);
    }
  }
}

// A list of domains, lower-cased; duplicates and domains already in `taken` are errors.
// domain_fields_ gets the field of each domain returned.
std::vector<std::string> Loader::domainList(const Field& f, const std::vector<std::string>& taken) {
  std::vector<std::string> out;
  domain_fields_.clear();
  if (!f.value.IsSequence()) {
    report(f, fmt::format("expected a list of domains, got {}", describe(f.value)));
    return out;
  }
  size_t i = 0;
  for (const YAML::Node& node : f.value) {
    Field item = element(f, node, i++);
    auto name = scalar(item, "a domain");
    if (!name) {
      continue;
    }
    std::string domain = toLower(*name);
    if (!looksLikeDomain(domain)) {
      report(item, fmt::format("'{}' is not a valid domain name", *name));
    } else if (std::find(out.begin(), out.end(), domain) != out.end()) {
      report(item, fmt::format("duplicate domain '{}'", domain));
    } else if (std::find(taken.begin(), taken.end(), domain) != taken.end()) {
      report(item,
             fmt::format("'{}' is a local domain; a domain is either local or relayed", domain));
    } else {
      out.push_back(std::move(domain));
      domain_fields_.push_back(item);
    }
  }
  return out;
}

void Loader::loadMailboxes(const Section& top, Config& c) {
  const Field* f = top.find("mailboxes");
  if (f != nullptr && !f->value.IsNull()) {
    c.mailboxes = tableRef(*f, c);
  } else if (!c.local_domains.empty() || c.local_domains_table) {
    reporter_.add(top.mark(),
                  "missing required key 'mailboxes' (domains.local is not empty, "
                  "so local mail needs a mailbox table)");
  }
}

void Loader::loadAliases(const Section& top, Config& c) {
  const Field* f = top.find("aliases");
  if (f == nullptr || f->value.IsNull()) {
    return;
  }
  if (f->value.IsScalar()) {
    if (auto spec = tableRef(*f, c)) {
      c.aliases.push_back(std::move(*spec));
    }
    return;
  }
  if (!f->value.IsSequence()) {
    report(*f,
           fmt::format("expected a table reference or a list of them, got {}", describe(f->value)));
    return;
  }
  size_t i = 0;
  for (const YAML::Node& node : f->value) {
    if (auto spec = tableRef(element(*f, node, i++), c)) {
      c.aliases.push_back(std::move(*spec));
    }
  }
}

void Loader::loadRecipientDelimiter(const Section& top, Config& c) {
  const Field* f = top.find("recipient_delimiter");
  if (f == nullptr) {
    return;
  }
  auto s = text(*f);
  if (!s) {
    return;
  }
  if (s->size() > 1 || (s->size() == 1 && static_cast<unsigned char>((*s)[0]) >= 0x80)) {
    report(*f, fmt::format("must be a single ASCII character or empty, got '{}'", *s));
  } else if (*s == "@" || *s == " " || hasControlChars(*s)) {
    report(*f, fmt::format("'{}' cannot separate an address extension", *s));
  } else {
    c.recipient_delimiter = *s;
  }
}

// canonical.sender / canonical.recipient: tables; canonical.headers: whose headers are rewritten.
void Loader::loadCanonical(const Section& top, Config& c) {
  const Field* f = top.find("canonical");
  if (f == nullptr || f->value.IsNull()) {
    return;
  }
  Section cs(reporter_, *f);
  cs.allowOnly({"sender", "recipient", "headers"});
  if (const Field* t = cs.find("sender"); t != nullptr && !t->value.IsNull()) {
    c.canonical_sender = tableRef(*t, c);
  }
  if (const Field* t = cs.find("recipient"); t != nullptr && !t->value.IsNull()) {
    c.canonical_recipient = tableRef(*t, c);
  }
  if (const Field* h = cs.find("headers")) {
    using Clients = Config::HeaderRewriteClients;
    if (auto v = oneOf<Clients>(
            *h, {{"local", Clients::Local}, {"all", Clients::All}, {"none", Clients::None}})) {
      c.canonical_headers = *v;
    }
  }
}

}  // namespace petrel::config::detail
