// verifier.h: RFC 6376 6.1 per signature: parse (6.1.1), key record (6.1.2), body hash and
// header hash (6.1.3), then the signature check with the key (RSA over the SHA-256 digest,
// Ed25519 over the same digest as RFC 8463 3 says).
#include "petrel/dkim/verifier.h"

#include <fmt/format.h>

#include <map>

#include "petrel/core/base64.h"
#include "petrel/core/strings.h"
#include "petrel/dkim/tag_list.h"
#include "petrel/tls/crypto.h"

namespace petrel::dkim {

namespace {

bool isFws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && isFws(s.front())) s.remove_prefix(1);
  while (!s.empty() && isFws(s.back())) s.remove_suffix(1);
  return s;
}

SignatureResult resultOf(const Signature& s) {
  SignatureResult r;
  r.domain = s.domain;
  r.selector = s.selector;
  r.algorithm = std::string(algorithmName(s.algorithm));
  r.identity = s.identity;
  r.b_prefix = s.b_text.substr(0, 12);
  return r;
}

SignatureResult with(SignatureResult r, Outcome o, std::string reason) {
  r.outcome = o;
  r.reason = std::move(reason);
  return r;
}

}  // namespace

std::string_view outcomeName(Outcome o) {
  switch (o) {
    case Outcome::Pass: return "pass";
    case Outcome::Fail: return "fail";
    case Outcome::Neutral: return "neutral";
    case Outcome::Policy: return "policy";
    case Outcome::TempError: return "temperror";
    case Outcome::PermError: return "permerror";
  }
  return "permerror";
}

KeyAnswer KeyAnswer::fromDns(const dns::Answer& a) {
  KeyAnswer k;
  switch (a.status) {
    case dns::Answer::Status::Found:
      k.status = Status::Found;
      k.txt = a.txt;
      break;
    case dns::Answer::Status::NxDomain:
    case dns::Answer::Status::NoData: k.status = Status::NotFound; break;
    case dns::Answer::Status::TempFail:
      k.status = Status::TempFail;
      k.error = a.error.empty() ? "DNS failure" : a.error;
      break;
  }
  return k;
}

std::string withEmptyB(std::string_view raw) {
  std::string out;
  size_t colon = raw.find(':');
  if (colon == std::string_view::npos) return std::string(raw);
  out.append(raw.substr(0, colon + 1));
  size_t pos = colon + 1;
  while (pos <= raw.size()) {
    size_t end = raw.find(';', pos);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view spec = raw.substr(pos, end - pos);
    size_t eq = spec.find('=');
    if (eq != std::string_view::npos && trimmed(spec.substr(0, eq)) == "b") {
      out.append(spec.substr(0, eq + 1));
      // The value and its surrounding whitespace go; a final CRLF of the field stays.
      if (end == raw.size() && spec.size() >= 2 && spec.substr(spec.size() - 2) == "\r\n") {
        out.append("\r\n");
      }
    } else {
      out.append(spec);
    }
    if (end == raw.size()) break;
    out += ';';
    pos = end + 1;
  }
  return out;
}

std::string signedHeaderData(const std::vector<content::HeaderField>& fields,
                             const std::vector<std::string>& names, Canon canon,
                             std::string_view signature_name, std::string_view signature_raw) {
  std::string data;
  // How many instances of each (lower-case) name are used already, counted from the bottom.
  std::map<std::string, size_t> used;
  for (const auto& name : names) {
    std::string key = toLower(name);
    size_t& n = used[key];
    size_t seen = 0;
    for (auto it = fields.rbegin(); it != fields.rend(); ++it) {
      if (!iequals(it->name, key)) continue;
      if (seen++ == n) {
        data += canonicalizeHeader(canon, it->name, it->raw);
        break;
      }
    }
    // A name with no instance left adds nothing (3.5 h=: "nonexistent header field").
    ++n;
  }
  std::string sig = canonicalizeHeader(canon, signature_name, withEmptyB(signature_raw));
  if (sig.size() >= 2 && sig.substr(sig.size() - 2) == "\r\n") sig.resize(sig.size() - 2);
  data += sig;
  return data;
}

KeyCheck checkKey(const KeyAnswer& answer, Algorithm algorithm, int min_rsa_bits) {
  KeyCheck out;
  auto fail = [&out](Outcome o, std::string reason) {
    out.outcome = o;
    out.reason = std::move(reason);
    return std::move(out);
  };
  if (answer.status == KeyAnswer::Status::TempFail) {
    return fail(Outcome::TempError, "key lookup failed: " + answer.error);
  }
  if (answer.status == KeyAnswer::Status::NotFound || answer.txt.empty()) {
    return fail(Outcome::PermError, "no key");
  }
  // Several TXT records at the name: the first that reads as a key record (6.1.2 leaves the
  // choice to the verifier; records of other kinds may share the name).
  std::string key_error;
  for (const auto& txt : answer.txt) {
    auto parsed = parseKeyRecord(txt);
    if (parsed) {
      out.record = std::move(*parsed);
      break;
    }
    if (key_error.empty()) key_error = parsed.error().message();
  }
  if (!out.record) return fail(Outcome::PermError, "bad key record: " + key_error);
  const KeyRecord& key = *out.record;
  if (key.public_key.empty()) return fail(Outcome::PermError, "key revoked");
  bool ed = algorithm == Algorithm::Ed25519Sha256;
  if (ed != (key.key_type == KeyRecord::KeyType::Ed25519)) {
    return fail(Outcome::PermError, "key type does not match a=");
  }
  if (!key.hashes.empty()) {
    bool ok = false;
    for (const auto& h : key.hashes) ok = ok || h == "sha256";
    if (!ok) return fail(Outcome::PermError, "key record h= does not allow sha256");
  }
  auto pub = ed ? tls::PublicKey::fromEd25519Raw(key.public_key)
                : tls::PublicKey::fromDer(key.public_key);
  if (!pub) return fail(Outcome::PermError, "bad key data: " + pub.error().message());
  if (!ed && pub->type() != tls::KeyType::Rsa) {
    return fail(Outcome::PermError, "key type does not match a=");
  }
  out.key_bits = pub->bits();
  if (!ed && out.key_bits < min_rsa_bits) {
    return fail(Outcome::Fail,
                fmt::format("RSA key of {} bits is too short (RFC 8301)", out.key_bits));
  }
  out.key = std::move(*pub);
  out.outcome = Outcome::Pass;
  return out;
}

bool verifyDigest(const tls::PublicKey& key, Algorithm algorithm, std::string_view digest,
                  std::string_view signature) {
  return algorithm == Algorithm::Ed25519Sha256 ? key.verifyEd25519(digest, signature)
                                               : key.verifyRsaSha256(digest, signature);
}

Verifier::Verifier(const std::vector<content::HeaderField>& fields, VerifyOptions options)
    : options_(options) {
  for (const auto& field : fields) {
    if (!iequals(field.name, "DKIM-Signature")) continue;
    if (checks_.size() >= options_.max_signatures) {
      ++ignored_;
      continue;
    }
    Check c;
    auto parsed = parseSignature(field.value());
    if (!parsed) {
      c.decided = true;
      c.early = with({}, Outcome::PermError, parsed.error().message());
      // What could be read of it still helps the report.
      if (auto tags = parseTagList(field.value())) {
        if (const Tag* d = tags->find("d")) c.early.domain = toLower(d->value);
        if (const Tag* s = tags->find("s")) c.early.selector = toLower(s->value);
      }
      checks_.push_back(std::move(c));
      continue;
    }
    const Signature& s = *parsed;
    c.early = resultOf(s);
    if (s.algorithm == Algorithm::RsaSha1) {
      c.decided = true;
      c.early = with(c.early, Outcome::Fail, "rsa-sha1 is not accepted (RFC 8301)");
    } else if (expired(s, options_.now)) {
      c.decided = true;
      c.early = with(c.early, Outcome::Fail, "signature expired (x=)");
    } else {
      c.header_hash = tls::sha256(
          signedHeaderData(fields, s.headers, s.header_canon, field.name, field.raw));
      c.body.emplace(s.body_canon, s.length);
    }
    c.sig = std::move(*parsed);
    checks_.push_back(std::move(c));
  }
}

void Verifier::feedBody(std::string_view chunk) {
  for (auto& c : checks_) {
    if (c.body) c.body->feed(chunk);
  }
}

void Verifier::endBody() {
  if (body_done_) return;
  body_done_ = true;
  for (auto& c : checks_) {
    if (c.body) c.body_hash = c.body->finish();
  }
}

std::vector<std::string> Verifier::keyNames() const {
  std::vector<std::string> names;
  for (const auto& c : checks_) {
    if (c.decided || !c.sig) continue;
    std::string n = c.sig->keyName();
    bool have = false;
    for (const auto& x : names) have = have || x == n;
    if (!have) names.push_back(std::move(n));
  }
  return names;
}

void Verifier::provideKey(const std::string& name, const KeyAnswer& answer) {
  for (const auto& n : keyNames()) {
    if (n == name) {
      keys_[name] = answer;
      return;
    }
  }
}

SignatureResult Verifier::evaluate(const Check& c) const {
  if (c.decided) return c.early;
  const Signature& s = *c.sig;
  SignatureResult r = c.early;
  auto k = keys_.find(s.keyName());
  if (k == keys_.end()) return with(r, Outcome::TempError, "no key answer");
  KeyCheck key = checkKey(k->second, s.algorithm, options_.min_rsa_bits);
  if (key.record) r.testing = key.record->testing;
  r.key_bits = key.key_bits;
  if (key.outcome != Outcome::Pass) return with(r, key.outcome, key.reason);
  if (key.record->strict && s.identity_domain != s.domain) {
    return with(r, Outcome::PermError, "key t=s forbids i= in a subdomain of d=");
  }
  if (!body_done_) return with(r, Outcome::TempError, "body not complete");
  if (s.length && c.body && c.body->canonicalLength() < *s.length) {
    return with(r, Outcome::Fail, "body shorter than l=");
  }
  if (c.body_hash != s.body_hash) return with(r, Outcome::Fail, "body hash mismatch");
  if (!verifyDigest(*key.key, s.algorithm, c.header_hash, s.signature)) {
    return with(r, Outcome::Fail, "signature verification failed");
  }
  return with(r, Outcome::Pass, "");
}

std::vector<SignatureResult> Verifier::results() const {
  std::vector<SignatureResult> out;
  out.reserve(checks_.size());
  for (const auto& c : checks_) out.push_back(evaluate(c));
  return out;
}

}  // namespace petrel::dkim
