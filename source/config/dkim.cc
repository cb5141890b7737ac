// The `dkim:` section: verification on receipt (verify) and the signing entries (sign), each
// a domain, a selector, a key file, an algorithm and optionally the fields to sign. The key
// files themselves are read by server/config_checks.cc (config/ has no crypto).
#include <fmt/format.h>

#include "loader.h"
#include "petrel/core/strings.h"

namespace petrel::config::detail {

// One signing entry (dkim.sign's, arc.seal's): domain, selector, key, algorithm, headers.
// `for_arc`: an ARC-Message-Signature's list need not name From but must not name ARC-Seal
// (RFC 8617 4.1.2); a DKIM list must name From (RFC 6376 5.4). False when something was
// reported.
bool Loader::loadSigningEntry(const Field& entry, Dkim::SignEntry& out, bool for_arc) {
  Section e(reporter_, entry);
  e.allowOnly({"domain", "selector", "key", "algorithm", "headers"});
  out.origin = reporter_.where(entry.mark());
  bool ok = true;
  if (const Field* d = e.require("domain")) {
    if (auto v = text(*d); v && looksLikeDomain(*v)) {
      out.domain = toLower(*v);
    } else {
      if (v) report(*d, fmt::format("'{}' is not a domain name", *v));
      ok = false;
    }
  } else {
    ok = false;
  }
  if (const Field* sel = e.require("selector")) {
    // A selector is one or more DNS labels (RFC 6376 3.1); '_' is common in practice.
    auto v = text(*sel);
    bool good = v && !v->empty() && v->size() <= 63 && v->front() != '.' && v->back() != '.';
    if (good) {
      for (char ch : *v) {
        good = good && (isAsciiAlnum(ch) || ch == '-' || ch == '_' || ch == '.');
      }
    }
    if (good) {
      out.selector = toLower(*v);
    } else {
      if (v) report(*sel, fmt::format("'{}' is not a valid selector", *v));
      ok = false;
    }
  } else {
    ok = false;
  }
  if (const Field* k = e.require("key")) {
    if (auto v = path(*k)) {
      out.key = *v;
      out.key_origin = reporter_.where(k->mark());
    } else {
      ok = false;
    }
  } else {
    ok = false;
  }
  if (const Field* a = e.find("algorithm")) {
    if (auto v = oneOf<std::string>(*a, {{"rsa-sha256", "rsa-sha256"},
                                        {"ed25519-sha256", "ed25519-sha256"}})) {
      out.algorithm = *v;
    } else {
      ok = false;
    }
  }
  if (const Field* h = e.find("headers")) {
    if (!h->value.IsSequence()) {
      report(*h, fmt::format("expected a list of header field names, got {}", describe(h->value)));
      ok = false;
    } else {
      bool has_from = false;
      size_t j = 0;
      for (const YAML::Node& hn : h->value) {
        Field item = element(*h, hn, j++);
        auto v = text(item);
        if (!v) {
          ok = false;
          continue;
        }
        bool name_ok = !v->empty();
        for (char ch : *v) {
          auto u = static_cast<unsigned char>(ch);
          name_ok = name_ok && u > 0x20 && u < 0x7f && ch != ':';
        }
        if (!name_ok) {
          report(item, fmt::format("'{}' is not a header field name", *v));
          ok = false;
          continue;
        }
        if (for_arc && iequals(*v, "arc-seal")) {
          report(item, "ARC-Seal must not be signed by the ARC-Message-Signature (RFC 8617 4.1.2)");
          ok = false;
          continue;
        }
        has_from = has_from || iequals(*v, "from");
        out.headers.push_back(*v);
      }
      if (!has_from && !for_arc) {
        // RFC 6376 5.4: From must be signed.
        report(*h, "the list must include From (RFC 6376 5.4)");
        ok = false;
      }
    }
  }
  return ok;
}

void Loader::loadDkim(const Section& top, Config& c) {
  const Field* f = top.find("dkim");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"verify", "sign"});
  setBool(s, "verify", c.dkim.verify);
  const Field* sign = s.find("sign");
  if (sign == nullptr || sign->value.IsNull()) {
    return;
  }
  if (!sign->value.IsSequence()) {
    report(*sign, fmt::format("expected a list of signing entries, got {}", describe(sign->value)));
    return;
  }
  std::set<std::string> seen;  // domain + selector
  size_t i = 0;
  for (const YAML::Node& node : sign->value) {
    Field entry = element(*sign, node, i++);
    Dkim::SignEntry out;
    bool ok = loadSigningEntry(entry, out, false);
    if (ok && !seen.insert(out.domain + "/" + out.selector).second) {
      report(entry, fmt::format("domain {} with selector {} is listed twice", out.domain,
                                out.selector));
      ok = false;
    }
    if (ok) {
      c.dkim.sign.push_back(std::move(out));
    }
  }
}

}  // namespace petrel::config::detail
