// ARC sealing (RFC 8617 5.1) of one message, pure: the driver hands in the header fields as
// the message will be forwarded, feeds the body as it streams, and gets back the three fields of
// ARC Set N+1 to put on top of the header:
//
//   Sealer sealer(spec, now);
//   for (chunk : body) sealer.feedBody(chunk);
//   Result<SealedSet> set = sealer.finish(fields, our_auth_results, chain_result);
//   // prepend set->text(): ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results
//
// The fields come out in the tag order and form of the public ARC test suite's signing cases
// (tags sorted, one space after each ';', lower-case values but b= and bh=), folded between
// tags and inside b= at 78 columns unless `fold` is off (the suite's unfolded form). Folding
// only where a space stands (and inside b=, which no own hash covers) keeps the signed data
// the same either way, except that the ARC-Seal covers the ARC-Message-Signature as written.
//
// No set is added (an Error) when the newest ARC-Seal says cv=fail (the chain has ended),
// when N is 50 already, or when the key does not fit the algorithm. With a failed chain
// (cv=fail) the new ARC-Seal covers only the new set (5.1.2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/arc/validator.h"
#include "petrel/content/header_section.h"
#include "petrel/core/result.h"
#include "petrel/dkim/canonicalization.h"
#include "petrel/dkim/signature.h"
#include "petrel/tls/crypto.h"

namespace petrel::arc {

struct SealSpec {
  std::string domain;    // d= of the AMS and the AS
  std::string selector;  // s=
  tls::PrivateKey key;
  dkim::Algorithm algorithm = dkim::Algorithm::RsaSha256;  // or Ed25519Sha256
  // The AMS's h=, as written (lower-cased); empty: the names of dkim::defaultSignedHeaders()
  // the message has, each once per instance present.
  std::vector<std::string> headers;
  bool fold = true;
};

struct SealedSet {
  int instance = 0;
  ChainStatus cv = ChainStatus::None;
  std::string seal;               // "ARC-Seal: ...\r\n"
  std::string message_signature;  // "ARC-Message-Signature: ...\r\n"
  std::string auth_results;       // "ARC-Authentication-Results: ...\r\n"
  std::string text() const { return seal + message_signature + auth_results; }
};

class Sealer {
 public:
  // `now`: unix seconds for t=.
  Sealer(SealSpec spec, uint64_t now);

  void feedBody(std::string_view chunk);
  // After the last body chunk. `auth_results`: the Authentication-Results payload that our
  // authserv-id wrote for this message ("mx.example.org; spf=pass ...; arc=pass ..."), copied
  // into the AAR (control characters dropped, refolded). `chain`: the Validator's result for
  // the chain as it arrived; its status becomes cv=.
  Result<SealedSet> finish(const std::vector<content::HeaderField>& fields,
                           std::string_view auth_results, const ChainResult& chain);

 private:
  SealSpec spec_;
  uint64_t now_;
  dkim::BodyHasher body_;
};

// The Authentication-Results fields among `fields` whose authserv-id is `authserv_id`, merged
// into one payload in header order: "authserv-id; result1;\r\n  result2; ..." (the suite's
// consolidation rule). Results of the method `drop_method` ("arc": a stale arc= to be replaced)
// are left out. nullopt when there is no such field.
std::optional<std::string> consolidatedAuthResults(const std::vector<content::HeaderField>& fields,
                                                   std::string_view authserv_id,
                                                   std::string_view drop_method = {});

}  // namespace petrel::arc
