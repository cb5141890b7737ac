// ARC sealing of forwarded mail; see headers/petrel/server/arc_sealing.h.
#include "petrel/server/arc_sealing.h"

#include <fmt/format.h>

#include "petrel/arc/validator.h"
#include "petrel/content/header_section.h"
#include "petrel/core/strings.h"
#include "petrel/log/mail_log.h"
#include "petrel/tls/crypto.h"

namespace petrel::server {

namespace {

// What a header section may be for us to seal it: the SMTP path's own bound on what it holds
// is lower, so only mail made larger later (a redirect's Delivered-To) could come near it.
constexpr size_t MaxSealedHeader = 1u << 20;

// The arc= result among our consolidated Authentication-Results ("id; r1;\r\n  r2; ..."):
// consolidation joins the results with ";\r\n  " and drops every other CR and LF, so a line
// is one result. "" when there is none.
std::string_view arcResultOf(std::string_view consolidated) {
  size_t at = consolidated.find(';');
  std::string_view rest = at == std::string_view::npos ? "" : consolidated.substr(at + 1);
  while (!rest.empty()) {
    size_t eol = rest.find("\r\n");
    std::string_view line = trim(rest.substr(0, eol));
    rest = eol == std::string_view::npos ? "" : rest.substr(eol + 2);
    if (!line.empty() && line.back() == ';') line.remove_suffix(1);
    if (line.size() > 4 && iequals(line.substr(0, 4), "arc=")) {
      std::string_view value = line.substr(4);
      size_t end = 0;
      while (end < value.size() && value[end] != ' ' && value[end] != '(') ++end;
      return value.substr(0, end);
    }
  }
  return "";
}

}  // namespace

ArcSealingPtr loadArcSealing(const config::Config& cfg,
                             const std::function<void(const std::string&)>& warn) {
  if (!cfg.arc.sealing()) return nullptr;
  const config::Dkim::SignEntry& e = cfg.arc.seal;
  auto s = std::make_shared<ArcSealing>();
  s->authserv_id = cfg.hostname;
  s->spec.domain = e.domain;
  s->spec.selector = e.selector;
  s->spec.headers = e.headers;
  if (auto alg = dkim::parseAlgorithm(e.algorithm)) s->spec.algorithm = *alg;
  if (auto key = tls::PrivateKey::fromPemFile(e.key)) {
    s->spec.key = std::move(*key);
    s->key_loaded = true;
  } else if (warn) {
    warn(fmt::format("arc.seal: {}: {}: forwarded mail goes unsealed", e.origin,
                     key.error().message()));
  }
  return s;
}

std::optional<arc::ChainResult> chainAtReceipt(const std::vector<content::HeaderField>& fields,
                                               std::string_view authserv_id) {
  // The form of the chain is decided by the header alone, as it was on receipt: no ARC field
  // (none), broken sets, the newest ARC-Seal saying cv=fail (ended). No key is needed then.
  arc::Validator form(fields);
  form.endBody();
  if (form.keyNames().empty()) return form.result();
  // The signatures were checked on receipt, with DNS: our Authentication-Results say how.
  auto ours = arc::consolidatedAuthResults(fields, authserv_id);
  if (!ours) return std::nullopt;
  std::string_view result = arcResultOf(*ours);
  arc::ChainResult chain;
  if (iequals(result, "pass")) {
    chain.status = arc::ChainStatus::Pass;
  } else if (iequals(result, "fail")) {
    chain.status = arc::ChainStatus::Fail;
  } else {
    return std::nullopt;
  }
  chain.instances = arc::collectSets(fields).highest;
  return chain;
}

Result<arc::SealedSet> arcSet(const ArcSealing& sealing, std::string_view message, uint64_t now) {
  if (!sealing.key_loaded) return Error::config("the arc.seal key could not be read");
  content::HeaderSection header(MaxSealedHeader);
  size_t header_size = header.feed(message);
  if (!header.complete()) header.end();
  if (header.truncated()) return Error::permanent("the header section is too long");
  const auto& fields = header.fields();
  auto chain = chainAtReceipt(fields, sealing.authserv_id);
  if (!chain) {
    return Error::permanent("the message's ARC chain was not validated on receipt");
  }
  // RFC 8601 2.2: "none" when receipt wrote no result of ours (dkim.verify off, our own mail).
  auto ours = arc::consolidatedAuthResults(fields, sealing.authserv_id);
  std::string auth_results = ours ? *ours : sealing.authserv_id + "; none";
  arc::Sealer sealer(sealing.spec, now);
  sealer.feedBody(message.substr(header_size));
  return sealer.finish(fields, auth_results, *chain);
}

std::string arcSealFields(const ArcSealing& sealing, std::string_view message,
                          std::string_view queue_id, uint64_t now) {
  auto set = arcSet(sealing, message, now);
  if (!set) {
    log::mail::warning(log::Program::Cleanup,
                       fmt::format("{}: not ARC-sealed: {}", queue_id, set.error().message()));
    return {};
  }
  log::mail::arcSealAdded(queue_id, set->instance, arc::chainStatusName(set->cv),
                          sealing.spec.selector, sealing.spec.domain);
  return set->text();
}

void sealForwardedDeliveries(const ArcSealing& sealing,
                             const std::vector<delivery::MessageDeliveries*>& messages,
                             uint64_t now) {
  for (delivery::MessageDeliveries* m : messages) {
    std::optional<std::string> set;  // made at the first forwarded delivery of the message
    for (delivery::Delivery& d : m->deliveries) {
      if (!d.target.arc_seal || d.reported() || !m->message.content) continue;
      if (!set) set = arcSealFields(sealing, *m->message.content, m->message.stored->id, now);
      d.top_fields = *set;
    }
  }
}

}  // namespace petrel::server
