// DKIM verification (RFC 6376 6, RFC 8463, RFC 8301) of one message, pure: no DNS, no clock,
// no I/O. The driver builds a Verifier from the message's header fields, feeds the body as it
// streams (the body hashes are computed on the fly, never over a buffered body), asks
// keyNames() which key records it needs, hands in each answer with provideKey() (or a
// lookup failure), and reads results(): one SignatureResult per DKIM-Signature checked.
//
//   Verifier v(fields, {.now = unix_time});
//   for (chunk : body) v.feedBody(chunk);
//   v.endBody();
//   for (name : v.keyNames()) v.provideKey(name, lookupOf(name));   // any order, any time
//   v.results();                                                      // after all keys
//
// Limits: at most `max_signatures` signatures are checked (the rest are ignored and counted),
// RSA keys shorter than `min_rsa_bits` fail, rsa-sha1 fails (RFC 8301), every signature's
// header list is bounded (signature.h). The verifier keeps no body; its memory is the header
// fields given and one hash state per signature.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/content/header_section.h"
#include "petrel/dkim/canonicalization.h"
#include "petrel/dkim/signature.h"
#include "petrel/dns/resolver.h"
#include "petrel/tls/crypto.h"

namespace petrel::dkim {

// RFC 8601 2.7.1 result names.
enum class Outcome { Pass, Fail, Neutral, Policy, TempError, PermError };
std::string_view outcomeName(Outcome o);  // "pass", "fail", ...

struct SignatureResult {
  Outcome outcome = Outcome::PermError;
  std::string reason;     // why, for anything but pass ("body hash mismatch", "no key", ...)
  std::string domain;     // d= (lower case), "" when the field did not parse that far
  std::string selector;   // s=
  std::string algorithm;  // a= as parsed ("rsa-sha256"), "" when unknown
  std::string identity;   // i= (or "@d")
  std::string b_prefix;   // the first 12 characters of b= (header.b, RFC 6008)
  bool testing = false;   // the key record says t=y
  int key_bits = 0;       // size of the key used, 0 when none was
};

// What the DNS said about one key name.
struct KeyAnswer {
  enum class Status { Found, NotFound, TempFail };
  Status status = Status::TempFail;
  std::vector<std::string> txt;  // the TXT records (each one's strings concatenated)
  std::string error;             // for TempFail

  static KeyAnswer fromDns(const dns::Answer& a);
};

// A key answer made usable for one signature (RFC 6376 6.1.2, RFC 8301 3.2): the first TXT
// record that parses as a key record, not revoked, its k= and h= fitting `algorithm`, the key
// data readable, an RSA key of at least `min_rsa_bits`. Pass: `key` is set. Shared by the
// Verifier and arc/ (the ARC-Message-Signature and ARC-Seal use the same key records).
struct KeyCheck {
  Outcome outcome = Outcome::PermError;
  std::string reason;               // for anything but pass
  std::optional<KeyRecord> record;  // when one parsed (t=y, t=s for the caller)
  std::optional<tls::PublicKey> key;
  int key_bits = 0;
};
KeyCheck checkKey(const KeyAnswer& answer, Algorithm algorithm, int min_rsa_bits);

// The signature over a 32-byte SHA-256 `digest` of the canonical header data: RSASSA-PKCS1-v1_5
// for rsa-sha256, Ed25519 over the digest itself for ed25519-sha256 (RFC 8463 3).
bool verifyDigest(const tls::PublicKey& key, Algorithm algorithm, std::string_view digest,
                  std::string_view signature);

struct VerifyOptions {
  uint64_t now = 0;          // unix seconds, for x=
  size_t max_signatures = 5;
  int min_rsa_bits = 1024;   // RFC 8301 3.2
};

class Verifier {
 public:
  // Finds and parses the DKIM-Signature fields among `fields` (top first: the order they are
  // checked in). The fields are copied; nothing of the caller's is kept.
  Verifier(const std::vector<content::HeaderField>& fields, VerifyOptions options = {});

  // Signatures being checked (parsed or not); 0 means dkim=none.
  size_t signatureCount() const { return checks_.size(); }
  // DKIM-Signature fields beyond max_signatures, not checked.
  size_t ignoredSignatures() const { return ignored_; }

  void feedBody(std::string_view chunk);
  void endBody();

  // The distinct key record names ("sel._domainkey.example.com") the parsed signatures need.
  std::vector<std::string> keyNames() const;
  // The answer for one of keyNames(); a name not asked for is ignored.
  void provideKey(const std::string& name, const KeyAnswer& answer);

  // One result per checked signature, in header order. A key not provided (yet) reads as
  // temperror "no key answer"; results before endBody() have no body check and should not be
  // used.
  std::vector<SignatureResult> results() const;

 private:
  struct Check {
    std::optional<Signature> sig;
    SignatureResult early;  // set when the signature cannot pass whatever the key says
    bool decided = false;
    std::string header_hash;  // SHA-256 of the canonical header fields + this signature
    std::optional<BodyHasher> body;
    std::string body_hash;  // after endBody()
  };

  SignatureResult evaluate(const Check& c) const;

  VerifyOptions options_;
  std::vector<Check> checks_;
  size_t ignored_ = 0;
  bool body_done_ = false;
  std::map<std::string, KeyAnswer> keys_;
};

// The DKIM-Signature field's raw text with the value of its b= tag removed (RFC 6376 3.7: as
// it enters the header hash), everything else byte for byte.
std::string withEmptyB(std::string_view raw);

// The canonical header data a signature covers (RFC 6376 3.7): the fields h= names, picked
// bottom-up, each canonicalized, then the signature field itself (withEmptyB, no final CRLF).
// Used by the verifier and the signer.
std::string signedHeaderData(const std::vector<content::HeaderField>& fields,
                             const std::vector<std::string>& names, Canon canon,
                             std::string_view signature_name, std::string_view signature_raw);

}  // namespace petrel::dkim
