// The `smtp:` section: bare line endings, VRFY, the banner (which goes on the wire, so it may
// hold no control characters), the client name lookup, the greet pause (0 or a duration) and
// parent_domain_matches_subdomains (a list of Postfix's feature names, a main.cf string of them,
// or a bool) and permit_mx_backup_networks (a list of networks).
#include <fmt/format.h>

#include "loader.h"
#include "petrel/core/cidr.h"
#include "petrel/core/strings.h"

namespace petrel::config::detail {

void Loader::loadSmtp(const Section& top, Config& c) {
  const Field* f = top.find("smtp");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"bare_line_endings", "vrfy", "banner", "peername_lookup", "greet_pause",
               "parent_domain_matches_subdomains", "permit_mx_backup_networks"});
  if (const Field* b = s.find("bare_line_endings")) {
    constexpr std::string_view Expected = "reject or normalize";
    if (auto v = scalar(*b, Expected)) {
      if (*v == "reject") {
        c.smtp.bare_line_endings = BareLineEnding::Reject;
      } else if (*v == "normalize") {
        c.smtp.bare_line_endings = BareLineEnding::Normalize;
      } else {
        report(*b, fmt::format("expected {}, got '{}'", Expected, *v));
      }
    }
  }
  setBool(s, "vrfy", c.smtp.vrfy);
  setBool(s, "peername_lookup", c.smtp.peername_lookup);
  if (const Field* b = s.find("banner")) {
    if (auto v = text(*b)) {
      // It goes on the wire after "220 "; a CR or LF would inject a line.
      if (v->empty()) {
        report(*b, "must not be empty (leave it out for the default)");
      } else if (hasControlChars(*v)) {
        report(*b, "must not contain control characters");
      } else {
        c.smtp.banner = *v;
      }
    }
  }
  if (const Field* g = s.find("greet_pause")) {
    c.smtp.greet_pause = greetPause(*g).value_or(c.smtp.greet_pause);
  }
  if (const Field* p = s.find("parent_domain_matches_subdomains")) {
    loadParentDomainFeatures(*p, c.smtp);
  }
  if (const Field* m = s.find("permit_mx_backup_networks")) {
    if (!m->value.IsSequence()) {
      report(*m, fmt::format("expected a list of networks such as [192.0.2.0/24], got {}",
                             describe(m->value)));
      return;
    }
    size_t i = 0;
    for (const YAML::Node& node : m->value) {
      Field item = element(*m, node, i++);
      auto text = scalar(item, "a network such as 192.0.2.0/24");
      if (!text) continue;
      Result<Cidr> cidr = Cidr::parse(*text);
      if (!cidr) {
        report(item, cidr.error().message());
        continue;
      }
      c.smtp.permit_mx_backup_networks.push_back(cidr->toString());
    }
  }
}

void Loader::loadParentDomainFeatures(const Field& f, Smtp& smtp) {
  const auto& known = Smtp::ParentDomainFeatures;
  std::vector<std::string> names;
  bool ok = true;
  auto add = [&](const Field& where, std::string_view name) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      report(where, fmt::format("unknown feature '{}'{} (known: {})", name,
                                suggestion(name, known), fmt::join(known, ", ")));
      ok = false;
    } else if (std::find(names.begin(), names.end(), name) == names.end()) {
      names.emplace_back(name);
    }
  };
  if (f.value.IsSequence()) {
    size_t i = 0;
    for (const YAML::Node& node : f.value) {
      Field item = element(f, node, i++);
      if (auto v = text(item)) {
        add(item, *v);
      } else {
        ok = false;
      }
    }
  } else if (f.value.IsNull()) {
    // "parent_domain_matches_subdomains:" with nothing, as Postfix's empty value: none.
  } else {
    auto v = text(f);
    if (!v) {
      return;
    }
    std::string word = toLower(*v);
    if (word == "true" || word == "yes" || word == "on") {
      names.assign(known.begin(), known.end());
    } else if (word != "false" && word != "no" && word != "off") {
      // main.cf style: names separated by commas and/or white space.
      std::string spaced = *v;
      std::replace(spaced.begin(), spaced.end(), ',', ' ');
      std::replace(spaced.begin(), spaced.end(), '\t', ' ');
      for (std::string_view name : split(spaced, ' ')) {
        if (!trim(name).empty()) {
          add(f, trim(name));
        }
      }
    }
  }
  if (ok) {
    smtp.parent_domain_matches_subdomains = std::move(names);
  }
}

// 0 (off) or a duration; whole seconds, as postscreen_greet_wait.
std::optional<uint64_t> Loader::greetPause(const Field& f) {
  if (f.value.IsScalar() && f.value.Scalar() == "0") {
    return 0;
  }
  return duration(f);
}

}  // namespace petrel::config::detail
