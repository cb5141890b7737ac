// validator.h: RFC 8617 5.2 over the parsers of fields.h and dkim's canonicalization, key
// checks and signature check. The structure is decided in the constructor (no key is asked for
// a chain whose form already fails); the signatures when result() is read.
#include "petrel/arc/validator.h"

#include <fmt/format.h>

#include "petrel/core/strings.h"
#include "petrel/dkim/auth_results.h"
#include "petrel/tls/crypto.h"

namespace petrel::arc {

namespace {

dkim::SignatureResult reportOf(dkim::Algorithm a, const std::string& domain,
                               const std::string& selector, const std::string& b_text) {
  dkim::SignatureResult r;
  r.domain = domain;
  r.selector = selector;
  r.algorithm = std::string(dkim::algorithmName(a));
  r.b_prefix = b_text.substr(0, 12);
  return r;
}

dkim::SignatureResult with(dkim::SignatureResult r, dkim::Outcome o, std::string reason) {
  r.outcome = o;
  r.reason = std::move(reason);
  return r;
}

}  // namespace

Validator::Validator(const std::vector<content::HeaderField>& fields, ValidateOptions options)
    : options_(options) {
  Sets found = collectSets(fields);
  instances_ = found.highest;
  if (!found.error.empty()) {
    structure_error_ = found.error;
    return;
  }
  for (size_t k = 0; k < found.sets.size(); ++k) {
    const SetFields& f = found.sets[k];
    int i = f.instance;
    Set set;
    auto aar = parseAuthResults(f.auth_results.value());
    auto ams = parseMessageSignature(f.message_signature.value());
    auto seal = parseSeal(f.seal.value());
    if (!aar || !ams || !seal) {
      structure_error_ = !aar    ? fmt::format("{} i={}: {}", AuthResultsName, i, aar.error().message())
                         : !ams ? fmt::format("{} i={}: {}", MessageSignatureName, i, ams.error().message())
                                : fmt::format("{} i={}: {}", SealName, i, seal.error().message());
      sets_.clear();
      return;
    }
    set.authserv_id = aar->authserv_id;
    set.cv = seal->cv;

    const dkim::Signature& s = ams->sig;
    set.ams.algorithm = s.algorithm;
    set.ams.key_name = s.keyName();
    set.ams.signature = s.signature;
    set.ams.report = reportOf(s.algorithm, s.domain, s.selector, s.b_text);
    set.body_hash = s.body_hash;
    if (s.algorithm == dkim::Algorithm::RsaSha1) {
      set.ams.decided = true;
      set.ams.report = with(set.ams.report, dkim::Outcome::Fail, "rsa-sha1 is not accepted (RFC 8301)");
    } else if (dkim::expired(s, options_.now)) {
      set.ams.decided = true;
      set.ams.report = with(set.ams.report, dkim::Outcome::Fail, "signature expired (x=)");
    } else {
      set.ams.digest = tls::sha256(dkim::signedHeaderData(fields, s.headers, s.header_canon,
                                                          f.message_signature.name,
                                                          f.message_signature.raw));
      for (size_t b = 0; b < bodies_.size() && set.body < 0; ++b) {
        if (bodies_[b].canon == s.body_canon && bodies_[b].limit == s.length) set.body = static_cast<int>(b);
      }
      if (set.body < 0) {
        set.body = static_cast<int>(bodies_.size());
        bodies_.push_back(Body{s.body_canon, s.length, dkim::BodyHasher(s.body_canon, s.length), ""});
      }
    }

    set.seal.algorithm = seal->algorithm;
    set.seal.key_name = seal->keyName();
    set.seal.signature = seal->signature;
    set.seal.report = reportOf(seal->algorithm, seal->domain, seal->selector, seal->b_text);
    if (seal->algorithm == dkim::Algorithm::RsaSha1) {
      set.seal.decided = true;
      set.seal.report = with(set.seal.report, dkim::Outcome::Fail, "rsa-sha1 is not accepted (RFC 8301)");
    } else {
      std::vector<SetFields> covered(found.sets.begin(), found.sets.begin() + static_cast<long>(k) + 1);
      set.seal.digest = tls::sha256(sealedData(covered));
    }
    sets_.push_back(std::move(set));
  }
  if (sets_.empty()) return;
  // 5.2 step 2 and 5: the cv= values.
  if (sets_.back().cv == ChainStatus::Fail) {
    ended_ = true;
    structure_error_ = fmt::format("{} i={} says cv=fail", SealName, sets_.size());
  } else {
    for (size_t k = 0; k < sets_.size() && structure_error_.empty(); ++k) {
      ChainStatus want = k == 0 ? ChainStatus::None : ChainStatus::Pass;
      if (sets_[k].cv != want) {
        structure_error_ = fmt::format("{} i={} says cv={} (cv={} expected)", SealName, k + 1,
                                       chainStatusName(sets_[k].cv), chainStatusName(want));
      }
    }
  }
  if (!structure_error_.empty()) {
    sets_.clear();
    bodies_.clear();
  }
}

void Validator::feedBody(std::string_view chunk) {
  for (auto& b : bodies_) b.hasher.feed(chunk);
}

void Validator::endBody() {
  if (body_done_) return;
  body_done_ = true;
  for (auto& b : bodies_) b.digest = b.hasher.finish();
}

std::vector<std::string> Validator::keyNames() const {
  std::vector<std::string> names;
  auto add = [&names](const Signed& s) {
    if (s.decided) return;
    for (const auto& n : names) {
      if (n == s.key_name) return;
    }
    names.push_back(s.key_name);
  };
  for (const auto& set : sets_) {
    add(set.ams);
    add(set.seal);
  }
  return names;
}

void Validator::provideKey(const std::string& name, const dkim::KeyAnswer& answer) {
  for (const auto& n : keyNames()) {
    if (n == name) {
      keys_[name] = answer;
      return;
    }
  }
}

dkim::SignatureResult Validator::check(const Signed& s, const std::string* body_hash,
                                       const std::string* wanted) const {
  if (s.decided) return s.report;
  dkim::SignatureResult r = s.report;
  auto k = keys_.find(s.key_name);
  if (k == keys_.end()) return with(r, dkim::Outcome::TempError, "no key answer");
  dkim::KeyCheck key = dkim::checkKey(k->second, *s.algorithm, options_.min_rsa_bits);
  if (key.record) r.testing = key.record->testing;
  r.key_bits = key.key_bits;
  if (key.outcome != dkim::Outcome::Pass) return with(r, key.outcome, key.reason);
  if (body_hash != nullptr) {
    if (!body_done_) return with(r, dkim::Outcome::TempError, "body not complete");
    if (*body_hash != *wanted) return with(r, dkim::Outcome::Fail, "body hash mismatch");
  }
  if (!dkim::verifyDigest(*key.key, *s.algorithm, s.digest, s.signature)) {
    return with(r, dkim::Outcome::Fail, "signature verification failed");
  }
  return with(r, dkim::Outcome::Pass, "");
}

ChainResult Validator::result() const {
  ChainResult out;
  out.instances = instances_;
  out.ended = ended_;
  if (!structure_error_.empty()) {
    out.status = ChainStatus::Fail;
    out.reason = structure_error_;
    return out;
  }
  if (sets_.empty()) return out;  // cv=none
  for (size_t k = 0; k < sets_.size(); ++k) {
    const Set& set = sets_[k];
    SetReport rep;
    rep.instance = static_cast<int>(k + 1);
    rep.cv = set.cv;
    rep.authserv_id = set.authserv_id;
    const std::string* digest = set.body >= 0 ? &bodies_[static_cast<size_t>(set.body)].digest : nullptr;
    rep.message_signature = check(set.ams, digest, &set.body_hash);
    rep.seal = check(set.seal, nullptr, nullptr);
    out.sets.push_back(std::move(rep));
  }
  auto failed = [&out](const std::string& what, size_t k, const dkim::SignatureResult& r) {
    out.status = ChainStatus::Fail;
    out.reason = fmt::format("{} i={} did not verify: {}", what, k + 1, r.reason);
    out.temporary = r.outcome == dkim::Outcome::TempError;
  };
  size_t n = out.sets.size();
  if (out.sets[n - 1].message_signature.outcome != dkim::Outcome::Pass) {
    failed(std::string(MessageSignatureName), n - 1, out.sets[n - 1].message_signature);
    return out;
  }
  for (size_t k = n; k-- > 0;) {
    if (out.sets[k].seal.outcome != dkim::Outcome::Pass) {
      failed(std::string(SealName), k, out.sets[k].seal);
      return out;
    }
  }
  out.status = ChainStatus::Pass;
  for (size_t k = n - 1; k-- > 0;) {
    if (out.sets[k].message_signature.outcome != dkim::Outcome::Pass) {
      out.oldest_pass = static_cast<int>(k + 2);
      break;
    }
  }
  return out;
}

std::string authResultsArc(const ChainResult& r) {
  switch (r.status) {
    case ChainStatus::None: return "arc=none";
    case ChainStatus::Pass:
      return fmt::format("arc=pass (i={}) header.oldest-pass={}", r.instances, r.oldest_pass);
    case ChainStatus::Fail: break;
  }
  std::string out = "arc=fail";
  if (r.instances > 0) out += fmt::format(" (i={})", r.instances);
  if (!r.reason.empty()) out += " reason=" + dkim::authResultsValue(r.reason);
  return out;
}

}  // namespace petrel::arc
