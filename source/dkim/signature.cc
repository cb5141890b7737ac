// signature.h: DKIM-Signature and key record tags, validated as RFC 6376 6.1.1 and 3.6.1 say.
#include "petrel/dkim/signature.h"

#include <fmt/format.h>

#include "petrel/core/base64.h"
#include "petrel/core/strings.h"
#include "petrel/dkim/tag_list.h"

namespace petrel::dkim {

namespace {

// RFC 6376 3.5: t= and x= are at most 12 digits ("Implementations MAY ... 40 bits"); l= is
// 1*76DIGIT but anything past 2^63 is the same as no limit in practice: refused.
std::optional<uint64_t> number(std::string_view s, size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  return parseUnsigned(s);
}

}  // namespace

bool plausibleDomain(std::string_view d) {
  if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.') return false;
  size_t label = 0;
  for (char c : d) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return true;
}

namespace {

bool isSubdomainOrSame(std::string_view sub, std::string_view domain) {
  if (sub == domain) return true;
  return sub.size() > domain.size() && sub.substr(sub.size() - domain.size()) == domain &&
         sub[sub.size() - domain.size() - 1] == '.';
}

Result<std::string> base64Tag(const TagList& tags, std::string_view name, std::string* text) {
  const Tag* t = tags.find(name);
  if (t == nullptr) return Error::permanent(fmt::format("missing tag {}=", name));
  std::string compact = withoutWhitespace(t->value);
  auto decoded = base64Decode(compact, true);
  if (!decoded) return Error::permanent(fmt::format("{}= is not base64", name));
  if (text) *text = std::move(compact);
  return std::move(*decoded);
}

}  // namespace

std::string_view algorithmName(Algorithm a) {
  switch (a) {
    case Algorithm::RsaSha256: return "rsa-sha256";
    case Algorithm::Ed25519Sha256: return "ed25519-sha256";
    case Algorithm::RsaSha1: return "rsa-sha1";
  }
  return "?";
}

std::optional<Algorithm> parseAlgorithm(std::string_view text) {
  if (iequals(text, "rsa-sha256")) return Algorithm::RsaSha256;
  if (iequals(text, "ed25519-sha256")) return Algorithm::Ed25519Sha256;
  if (iequals(text, "rsa-sha1")) return Algorithm::RsaSha1;
  return std::nullopt;
}

std::string Signature::keyName() const { return fmt::format("{}._domainkey.{}", selector, domain); }

bool expired(const Signature& s, uint64_t now) { return s.expiration && *s.expiration < now; }

Result<Signature> parseSignature(std::string_view value) {
  auto parsed = parseTagList(value);
  if (!parsed) return parsed.error();
  return parseSignatureTags(*parsed, SignatureForm::Dkim);
}

Result<Signature> parseSignatureTags(const TagList& tags, SignatureForm form) {
  const bool dkim = form == SignatureForm::Dkim;
  Signature sig;
  for (std::string_view required : {"v", "a", "b", "bh", "d", "h", "s"}) {
    if (required == "v" && !dkim) continue;
    if (tags.find(required) == nullptr) {
      return Error::permanent(fmt::format("missing tag {}=", required));
    }
  }
  if (dkim && tags.find("v")->value != "1") {
    return Error::permanent(fmt::format("bad version v={}", shown(tags.find("v")->value)));
  }
  auto alg = parseAlgorithm(tags.find("a")->value);
  if (!alg) {
    return Error::permanent(fmt::format("unknown algorithm '{}'", shown(tags.find("a")->value)));
  }
  sig.algorithm = *alg;
  auto b = base64Tag(tags, "b", &sig.b_text);
  if (!b) return b.error();
  sig.signature = std::move(*b);
  if (sig.signature.empty()) return Error::permanent("empty b=");
  auto bh = base64Tag(tags, "bh", nullptr);
  if (!bh) return bh.error();
  sig.body_hash = std::move(*bh);
  if (!dkim) {
    // No c= in an AMS: relaxed/relaxed, what ARC signers write and the public ARC suite
    // expects (RFC 8617 leaves the default to DKIM's text; every implementation reads it so).
    sig.header_canon = Canon::Relaxed;
    sig.body_canon = Canon::Relaxed;
  }
  if (const Tag* c = tags.find("c")) {
    std::string_view v = c->value;
    size_t slash = v.find('/');
    std::string_view h = v.substr(0, slash);
    std::string_view bd = slash == std::string_view::npos ? "simple" : v.substr(slash + 1);
    auto canon = [](std::string_view s) -> std::optional<Canon> {
      if (iequals(s, "simple")) return Canon::Simple;
      if (iequals(s, "relaxed")) return Canon::Relaxed;
      return std::nullopt;
    };
    auto hc = canon(h);
    auto bc = canon(bd);
    if (!hc || !bc) return Error::permanent(fmt::format("unknown canonicalization c={}", shown(v)));
    sig.header_canon = *hc;
    sig.body_canon = *bc;
  }
  sig.domain = toLower(tags.find("d")->value);
  if (!plausibleDomain(sig.domain)) {
    return Error::permanent(fmt::format("bad domain d={}", shown(sig.domain)));
  }
  sig.selector = toLower(tags.find("s")->value);
  // The selector is a sub-domain (3.1): dot-separated labels.
  if (!plausibleDomain(sig.selector)) {
    return Error::permanent(fmt::format("bad selector s={}", shown(sig.selector)));
  }
  bool has_from = false;
  // ARC: an empty h= signs no header field (only the AMS itself); DKIM's needs From.
  std::vector<std::string> listed;
  if (dkim || !withoutWhitespace(tags.find("h")->value).empty()) {
    listed = splitColonList(tags.find("h")->value);
  }
  for (auto& h : listed) {
    // An empty name in an AMS's h= ("from::to") signs nothing, as a name not present would
    // (the ARC suite's ams_fields_h_mis_hdr); DKIM's grammar has no empty names.
    if (h.empty() && dkim) return Error::permanent("empty header name in h=");
    for (char c : h) {
      auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u >= 0x7f || c == ':') return Error::permanent("bad header name in h=");
    }
    if (iequals(h, "from")) has_from = true;
    sig.headers.push_back(std::move(h));
    if (sig.headers.size() > MaxSignedHeaders) return Error::permanent("h= lists too many fields");
  }
  if (dkim && !has_from) return Error::permanent("h= does not include From");
  if (!dkim) {
    sig.identity_domain = sig.domain;  // i= is the ARC instance, the caller's business
  } else if (const Tag* i = tags.find("i")) {
    sig.identity = i->value;
    size_t at = sig.identity.rfind('@');
    if (at == std::string::npos) return Error::permanent("i= has no '@'");
    sig.identity_domain = toLower(std::string_view(sig.identity).substr(at + 1));
    if (!isSubdomainOrSame(sig.identity_domain, sig.domain)) {
      return Error::permanent("i= is not in the domain of d=");
    }
  } else {
    sig.identity = "@" + sig.domain;
    sig.identity_domain = sig.domain;
  }
  if (const Tag* l = tags.find("l")) {
    sig.length = number(l->value, 18);
    if (!sig.length) return Error::permanent("bad l=");
  }
  if (const Tag* q = tags.find("q")) {
    bool dns = false;
    for (const auto& m : splitColonList(q->value)) {
      // "dns/txt", maybe with options after it (3.5: dns/txt is the only method defined).
      if (iequals(m, "dns/txt")) dns = true;
    }
    if (!dns) return Error::permanent(fmt::format("unsupported query method q={}", shown(q->value)));
  }
  if (const Tag* t = tags.find("t")) {
    sig.timestamp = number(t->value, 12);
    if (!sig.timestamp) return Error::permanent("bad t=");
  }
  if (const Tag* x = tags.find("x")) {
    sig.expiration = number(x->value, 12);
    if (!sig.expiration) return Error::permanent("bad x=");
    if (sig.timestamp && *sig.expiration < *sig.timestamp) {
      return Error::permanent("x= is before t=");
    }
  }
  return sig;
}

Result<KeyRecord> parseKeyRecord(std::string_view text) {
  auto parsed = parseTagList(text);
  if (!parsed) return parsed.error();
  const TagList& tags = *parsed;
  KeyRecord key;
  if (const Tag* v = tags.find("v")) {
    if (v->value != "DKIM1") return Error::permanent(fmt::format("bad key record version v={}", shown(v->value)));
    if (&tags.tags.front() != v) return Error::permanent("v= is not the first tag of the key record");
  }
  if (const Tag* h = tags.find("h")) {
    for (auto& a : splitColonList(h->value)) key.hashes.push_back(toLower(a));
  }
  if (const Tag* k = tags.find("k")) {
    if (iequals(k->value, "rsa")) {
      key.key_type = KeyRecord::KeyType::Rsa;
    } else if (iequals(k->value, "ed25519")) {
      key.key_type = KeyRecord::KeyType::Ed25519;
    } else {
      return Error::permanent(fmt::format("unknown key type k={}", shown(k->value)));
    }
  }
  if (const Tag* s = tags.find("s")) {
    bool email = false;
    for (const auto& t : splitColonList(s->value)) {
      if (t == "*" || iequals(t, "email")) email = true;
    }
    if (!email) return Error::permanent("key record not for email (s=)");
  }
  if (const Tag* t = tags.find("t")) {
    for (const auto& f : splitColonList(t->value)) {
      if (f == "y") key.testing = true;
      if (f == "s") key.strict = true;
    }
  }
  const Tag* p = tags.find("p");
  if (p == nullptr) return Error::permanent("key record without p=");
  auto decoded = base64Decode(withoutWhitespace(p->value), true);
  if (!decoded) return Error::permanent("p= is not base64");
  key.public_key = std::move(*decoded);
  return key;
}

}  // namespace petrel::dkim
