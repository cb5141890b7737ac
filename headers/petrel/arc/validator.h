// ARC chain validation on receipt (RFC 8617 5.2), pure like dkim::Verifier: no DNS, no clock,
// no I/O. The driver builds a Validator from the message's header fields, feeds the body as it
// streams, hands in the key records keyNames() asks for (lookupKeys in key_lookup.h does that
// over dns::Resolver), and reads result():
//
//   Validator v(fields, {.now = unix_time});
//   for (chunk : body) v.feedBody(chunk);
//   v.endBody();
//   for (name : v.keyNames()) v.provideKey(name, answerFor(name));
//   ChainResult r = v.result();   // r.status: none / pass / fail, r.oldest_pass
//
// The algorithm: no ARC field is cv=none; sets that are not 1..N with exactly one field of
// each kind, or a field that does not parse, fail; the highest ARC-Seal saying cv=fail fails
// (and ends the chain: nobody seals after it); ARC-Seal 1 must say cv=none and every other
// cv=pass; the ARC-Message-Signature of instance N must verify (body hash and signature); then
// every ARC-Seal from N down to 1. The lower AMSs are verified too, only to find oldest-pass:
// the lowest instance whose AMS and every newer one verify (0 when all of them do).
//
// Key records and crypto rules are dkim's (dkim::checkKey): RSA keys of 1024 bits and more,
// rsa-sha256 or ed25519-sha256 (rsa-sha1 fails). Memory: the ARC fields (at most 153), one body
// hash per distinct (canonicalization, l=) among the AMSs, a digest per signature.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "petrel/arc/fields.h"
#include "petrel/content/header_section.h"
#include "petrel/dkim/canonicalization.h"
#include "petrel/dkim/verifier.h"

namespace petrel::arc {

struct ValidateOptions {
  uint64_t now = 0;  // unix seconds, for an AMS's x=
  int min_rsa_bits = 1024;
};

// What was found for one ARC Set (sets are reported only when the structure is sound).
struct SetReport {
  int instance = 0;
  ChainStatus cv = ChainStatus::None;  // what its ARC-Seal claims
  dkim::SignatureResult message_signature;
  dkim::SignatureResult seal;
  std::string authserv_id;  // of its ARC-Authentication-Results
};

struct ChainResult {
  ChainStatus status = ChainStatus::None;
  std::string reason;   // why, for fail ("ARC-Seal i=2 did not verify: ...")
  bool temporary = false;  // the fail comes from a DNS failure (a retry might pass)
  bool ended = false;      // the newest ARC-Seal says cv=fail: no set may be added (5.1.2)
  int instances = 0;       // N, the highest instance found (0: none)
  int oldest_pass = 0;     // for pass
  std::vector<SetReport> sets;  // 1..N
};

class Validator {
 public:
  Validator(const std::vector<content::HeaderField>& fields, ValidateOptions options = {});

  void feedBody(std::string_view chunk);
  void endBody();

  // The distinct key record names the signatures need (none when the chain is decided already
  // by its structure).
  std::vector<std::string> keyNames() const;
  void provideKey(const std::string& name, const dkim::KeyAnswer& answer);

  // After endBody() and the keys (a key not provided reads as a DNS failure).
  ChainResult result() const;

 private:
  struct Signed {
    std::optional<dkim::Algorithm> algorithm;
    std::string key_name;
    std::string signature;
    std::string digest;  // SHA-256 of the canonical header data
    dkim::SignatureResult report;
    bool decided = false;  // report is final (a parse failure, rsa-sha1, x= passed)
  };
  struct Set {
    ChainStatus cv = ChainStatus::None;
    std::string authserv_id;
    Signed ams;
    Signed seal;
    std::string body_hash;   // bh= wanted
    int body = -1;           // index into bodies_
  };

  dkim::SignatureResult check(const Signed& s, const std::string* body_hash,
                              const std::string* wanted) const;

  ValidateOptions options_;
  std::string structure_error_;
  bool ended_ = false;
  int instances_ = 0;
  std::vector<Set> sets_;  // [0] is instance 1
  struct Body {
    dkim::Canon canon;
    std::optional<uint64_t> limit;
    dkim::BodyHasher hasher;
    std::string digest;
  };
  std::vector<Body> bodies_;
  bool body_done_ = false;
  std::map<std::string, dkim::KeyAnswer> keys_;
};

// The arc= resinfo for Authentication-Results (RFC 8617 7.2, RFC 8601): "arc=pass (i=2)
// header.oldest-pass=0", "arc=fail reason=\"...\"", "arc=none"; values made safe as dkim's are.
std::string authResultsArc(const ChainResult& r);

}  // namespace petrel::arc
