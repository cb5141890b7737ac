// The `srs:` section: the Sender Rewriting Scheme (docs/srs.md), with postsrsd's settings
// under its names (SRS_DOMAIN, SRS_SECRET, SRS_EXCLUDE_DOMAINS, SRS_HASHLENGTH, SRS_HASHMIN,
// SRS_SEPARATOR). The secrets come inline or from a file of lines, read here like
// relay.relayhost_auth's password file, so a reload picks up a rotated file. Secrets are
// never echoed in an error.
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "loader.h"
#include "petrel/core/strings.h"

namespace petrel::config::detail {

namespace {

constexpr uint64_t Day = 86400;

}  // namespace

void Loader::loadSrs(const Section& top, Config& c) {
  const Field* f = top.find("srs");
  if (f == nullptr || f->value.IsNull()) {
    return;
  }
  Section s(reporter_, *f);
  if (!s.isMapping()) {
    report(*f, fmt::format("expected a mapping such as {{domain: forward.example.com, "
                           "secrets_file: /etc/petrel/srs.secrets}}, got {}",
                           describe(f->value)));
    return;
  }
  s.allowOnly({"domain", "secrets", "secrets_file", "exclude_domains", "max_age", "hash_length",
               "hash_min", "separator"});
  Srs srs;
  if (const Field* d = s.require("domain", "(the forwarding domain SRS addresses are made at)")) {
    if (auto v = text(*d)) {
      if (!looksLikeDomain(*v)) {
        report(*d, fmt::format("'{}' is not a valid domain name", *v));
      } else {
        srs.domain = toLower(*v);
      }
    }
  }
  const Field* inline_secrets = s.find("secrets");
  const Field* file = s.find("secrets_file");
  if (inline_secrets != nullptr && file != nullptr) {
    report(*file, "give either secrets or secrets_file, not both");
  } else if (inline_secrets != nullptr) {
    if (!inline_secrets->value.IsSequence()) {
      report(*inline_secrets, fmt::format("expected a list of secrets (the first signs), got {}",
                                          describe(inline_secrets->value)));
    } else {
      size_t i = 0;
      for (const YAML::Node& node : inline_secrets->value) {
        Field item = element(*inline_secrets, node, i++);
        if (auto v = scalar(item, "a secret")) {
          if (v->empty() || hasControlChars(*v)) {
            report(item, "a secret must be non-empty text without control characters");
          } else {
            srs.secrets.push_back(std::move(*v));
          }
        }
      }
    }
  } else if (file != nullptr) {
    if (auto p = path(*file)) {
      srs.secrets_file = *p;
      // postsrsd's secret file: one secret a line, the first signs; empty lines are skipped.
      std::ifstream in(*p);
      if (!in) {
        report(*file, fmt::format("cannot read {}: {}", *p, strerror(errno)));
      } else {
        std::string line;
        while (std::getline(in, line)) {
          while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
          if (!line.empty()) srs.secrets.push_back(std::move(line));
        }
        if (srs.secrets.empty()) report(*file, fmt::format("{}: no secret in it", *p));
      }
    }
  } else {
    reporter_.add(s.mark(), "srs: needs secrets (a list) or secrets_file (a file of lines)");
  }
  if (const Field* x = s.find("exclude_domains")) {
    if (!x->value.IsSequence()) {
      report(*x, fmt::format("expected a list of domains, got {}", describe(x->value)));
    } else {
      size_t i = 0;
      for (const YAML::Node& node : x->value) {
        Field item = element(*x, node, i++);
        if (auto v = scalar(item, "a domain or .parent")) {
          std::string_view name = *v;
          if (!name.empty() && name.front() == '.') name.remove_prefix(1);
          if (!looksLikeDomain(name)) {
            report(item, fmt::format("'{}' is not a domain (or .domain for those below it)", *v));
          } else {
            srs.exclude_domains.push_back(toLower(*v));
          }
        }
      }
    }
  }
  setDuration(s, "max_age", srs.max_age);
  if (const Field* m = s.find("max_age");
      m != nullptr && (srs.max_age % Day != 0 || srs.max_age < Day || srs.max_age > 1000 * Day)) {
    // The timestamp counts days in a cycle of 1024.
    report(*m, "must be whole days between 1d and 1000d (SRS timestamps count days)");
    srs.max_age = 21 * Day;
  }
  if (const Field* h = s.find("hash_length")) {
    if (auto v = number(*h, 1, 27)) srs.hash_length = srs.hash_min = static_cast<uint32_t>(*v);
  }
  if (const Field* h = s.find("hash_min")) {
    if (auto v = number(*h, 1, 27)) srs.hash_min = static_cast<uint32_t>(*v);
  }
  if (const Field* sep = s.find("separator")) {
    if (auto v = text(*sep)) {
      if (*v != "=" && *v != "+" && *v != "-") {
        report(*sep, fmt::format("expected one of = + -, got '{}'", *v));
      } else {
        srs.separator = v->front();
      }
    }
  }
  if (!srs.domain.empty() && !srs.secrets.empty()) {
    c.srs = std::move(srs);
  }
}

}  // namespace petrel::config::detail
