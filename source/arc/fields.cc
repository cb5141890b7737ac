// fields.h: the ARC field grammars over dkim's tag lists and signature checks, and the set
// grouping of RFC 8617 5.2 step 2.
#include "petrel/arc/fields.h"

#include <fmt/format.h>

#include <map>

#include "petrel/core/base64.h"
#include "petrel/core/strings.h"
#include "petrel/dkim/canonicalization.h"
#include "petrel/dkim/tag_list.h"
#include "petrel/dkim/verifier.h"

namespace petrel::arc {

namespace {

bool isFws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && isFws(s.front())) s.remove_prefix(1);
  while (!s.empty() && isFws(s.back())) s.remove_suffix(1);
  return s;
}

Result<int> instanceTag(const dkim::TagList& tags) {
  const dkim::Tag* i = tags.find("i");
  if (i == nullptr) return Error::permanent("missing tag i=");
  return parseInstance(i->value);
}

enum class Kind { AuthResults, MessageSignature, Seal };

std::optional<Kind> kindOf(std::string_view name) {
  if (iequals(name, AuthResultsName)) return Kind::AuthResults;
  if (iequals(name, MessageSignatureName)) return Kind::MessageSignature;
  if (iequals(name, SealName)) return Kind::Seal;
  return std::nullopt;
}

// The i= of any ARC field, read only as far as grouping needs.
Result<int> fieldInstance(Kind kind, std::string_view value) {
  if (kind == Kind::AuthResults) {
    auto aar = parseAuthResults(value);
    if (!aar) return aar.error();
    return aar->instance;
  }
  auto tags = dkim::parseTagList(value);
  if (!tags) return tags.error();
  return instanceTag(*tags);
}

}  // namespace

std::string_view chainStatusName(ChainStatus s) {
  switch (s) {
    case ChainStatus::None: return "none";
    case ChainStatus::Pass: return "pass";
    case ChainStatus::Fail: return "fail";
  }
  return "fail";
}

std::optional<ChainStatus> parseChainStatus(std::string_view text) {
  // Tag values are case-sensitive (RFC 6376 3.2); RFC 8617 4.1.3 writes them in lower case.
  if (text == "none") return ChainStatus::None;
  if (text == "pass") return ChainStatus::Pass;
  if (text == "fail") return ChainStatus::Fail;
  return std::nullopt;
}

Result<int> parseInstance(std::string_view text) {
  if (text.empty() || text.size() > 2) {
    return Error::permanent(fmt::format("bad instance i={}", dkim::shown(text)));
  }
  int n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return Error::permanent(fmt::format("bad instance i={}", dkim::shown(text)));
    n = n * 10 + (c - '0');
  }
  if (n < 1 || n > MaxInstance) return Error::permanent(fmt::format("instance i={} out of 1..50", n));
  return n;
}

Result<AuthResults> parseAuthResults(std::string_view value) {
  std::string_view v = trimmed(value);
  if (v.empty() || v.front() != 'i') return Error::permanent("ARC-Authentication-Results does not start with i=");
  v = trimmed(v.substr(1));
  if (v.empty() || v.front() != '=') return Error::permanent("ARC-Authentication-Results does not start with i=");
  v = trimmed(v.substr(1));
  size_t digits = 0;
  while (digits < v.size() && v[digits] >= '0' && v[digits] <= '9') ++digits;
  auto instance = parseInstance(v.substr(0, digits));
  if (!instance) return instance.error();
  v = trimmed(v.substr(digits));
  if (v.empty() || v.front() != ';') return Error::permanent("no ';' after the i= of ARC-Authentication-Results");
  AuthResults out;
  out.instance = *instance;
  out.payload = std::string(trimmed(v.substr(1)));
  size_t end = 0;
  while (end < out.payload.size() && out.payload[end] != ';' && !isFws(out.payload[end]) &&
         out.payload[end] != '(') {
    ++end;
  }
  out.authserv_id = out.payload.substr(0, end);
  if (out.authserv_id.empty()) return Error::permanent("ARC-Authentication-Results without authserv-id");
  for (char c : out.authserv_id) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) return Error::permanent("bad authserv-id in ARC-Authentication-Results");
  }
  return out;
}

Result<MessageSignature> parseMessageSignature(std::string_view value) {
  auto tags = dkim::parseTagList(value);
  if (!tags) return tags.error();
  auto instance = instanceTag(*tags);
  if (!instance) return instance.error();
  auto sig = dkim::parseSignatureTags(*tags, dkim::SignatureForm::ArcMessage);
  if (!sig) return sig.error();
  for (const auto& h : sig->headers) {
    if (iequals(h, SealName)) return Error::permanent("h= includes ARC-Seal");
  }
  return MessageSignature{*instance, std::move(*sig)};
}

std::string Seal::keyName() const { return fmt::format("{}._domainkey.{}", selector, domain); }

Result<Seal> parseSeal(std::string_view value) {
  auto parsed = dkim::parseTagList(value);
  if (!parsed) return parsed.error();
  const dkim::TagList& tags = *parsed;
  for (std::string_view required : {"a", "b", "cv", "d", "i", "s"}) {
    if (tags.find(required) == nullptr) return Error::permanent(fmt::format("missing tag {}=", required));
  }
  if (tags.find("h") != nullptr) return Error::permanent("h= is not allowed in ARC-Seal");
  Seal seal;
  auto instance = instanceTag(tags);
  if (!instance) return instance.error();
  seal.instance = *instance;
  auto cv = parseChainStatus(tags.find("cv")->value);
  if (!cv) return Error::permanent(fmt::format("bad cv={}", dkim::shown(tags.find("cv")->value)));
  seal.cv = *cv;
  auto alg = dkim::parseAlgorithm(tags.find("a")->value);
  if (!alg) return Error::permanent(fmt::format("unknown algorithm '{}'", dkim::shown(tags.find("a")->value)));
  seal.algorithm = *alg;
  seal.b_text = dkim::withoutWhitespace(tags.find("b")->value);
  auto b = base64Decode(seal.b_text, true);
  if (!b) return Error::permanent("b= is not base64");
  if (b->empty()) return Error::permanent("empty b=");
  seal.signature = std::move(*b);
  seal.domain = toLower(tags.find("d")->value);
  if (!dkim::plausibleDomain(seal.domain)) return Error::permanent(fmt::format("bad domain d={}", dkim::shown(seal.domain)));
  seal.selector = toLower(tags.find("s")->value);
  if (!dkim::plausibleDomain(seal.selector)) {
    return Error::permanent(fmt::format("bad selector s={}", dkim::shown(seal.selector)));
  }
  if (const dkim::Tag* t = tags.find("t")) {
    if (t->value.empty() || t->value.size() > 12) return Error::permanent("bad t=");
    seal.timestamp = parseUnsigned(t->value);
    if (!seal.timestamp) return Error::permanent("bad t=");
  }
  return seal;
}

Sets collectSets(const std::vector<content::HeaderField>& fields) {
  Sets out;
  struct Found {
    const content::HeaderField* aar = nullptr;
    const content::HeaderField* ams = nullptr;
    const content::HeaderField* seal = nullptr;
  };
  std::map<int, Found> by_instance;
  size_t seen = 0;
  for (const auto& f : fields) {
    auto kind = kindOf(f.name);
    if (!kind) continue;
    if (++seen > 3 * MaxInstance + 3) {
      if (out.error.empty()) out.error = "too many ARC header fields";
      break;
    }
    auto instance = fieldInstance(*kind, f.value());
    if (!instance) {
      if (out.error.empty()) {
        out.error = fmt::format("{}: {}", dkim::shown(f.name), instance.error().message());
      }
      continue;
    }
    out.highest = std::max(out.highest, *instance);
    Found& slot = by_instance[*instance];
    const content::HeaderField*& p = *kind == Kind::AuthResults        ? slot.aar
                                     : *kind == Kind::MessageSignature ? slot.ams
                                                                       : slot.seal;
    if (p != nullptr && out.error.empty()) {
      out.error = fmt::format("two {} fields for i={}", dkim::shown(f.name), *instance);
    }
    p = &f;
  }
  if (seen == 0) return out;
  if (!out.error.empty()) return out;
  for (int i = 1; i <= out.highest; ++i) {
    auto it = by_instance.find(i);
    const Found* s = it == by_instance.end() ? nullptr : &it->second;
    std::string_view missing = s == nullptr || s->aar == nullptr ? AuthResultsName
                               : s->ams == nullptr               ? MessageSignatureName
                               : s->seal == nullptr              ? SealName
                                                                 : std::string_view();
    if (!missing.empty()) {
      out.error = fmt::format("no {} for i={}", missing, i);
      out.sets.clear();
      return out;
    }
    out.sets.push_back(SetFields{i, *s->aar, *s->ams, *s->seal});
  }
  return out;
}

std::string sealedData(const std::vector<SetFields>& sets) {
  // dkim::signedHeaderData picks each name bottom-up, so the fields are laid out newest first
  // and named oldest first: every set's three fields come out in ascending instance order.
  std::vector<content::HeaderField> laid;
  std::vector<std::string> names;
  for (size_t k = sets.size(); k-- > 0;) {
    if (k + 1 < sets.size()) laid.push_back(sets[k].seal);
    laid.push_back(sets[k].message_signature);
    laid.push_back(sets[k].auth_results);
  }
  for (size_t k = 0; k < sets.size(); ++k) {
    names.emplace_back(AuthResultsName);
    names.emplace_back(MessageSignatureName);
    if (k + 1 < sets.size()) names.emplace_back(SealName);
  }
  const content::HeaderField& last = sets.back().seal;
  return dkim::signedHeaderData(laid, names, dkim::Canon::Relaxed, last.name, last.raw);
}

}  // namespace petrel::arc
