// DKIM signing (RFC 6376 5, RFC 8463) of one message, pure: the driver hands in the header
// fields as they will be delivered, feeds the body as it streams, and gets back the whole
// "DKIM-Signature: ...\r\n" field to put on top of the header. The body hash is computed on
// the fly; nothing of the body is kept.
//
//   Signer signer(spec, now);
//   for (chunk : body) signer.feedBody(chunk);
//   Result<std::string> field = signer.finish(fields);   // prepend it to the header
//
// Several signatures (key rotation: two selectors) are several Signers over the same input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/content/header_section.h"
#include "petrel/core/result.h"
#include "petrel/dkim/canonicalization.h"
#include "petrel/dkim/signature.h"
#include "petrel/tls/crypto.h"

namespace petrel::dkim {

// The fields signed when a SignSpec names none: as opendkim's default list (RFC 6376 5.4.1's
// recommendation), From signed one more time than it occurs ("oversigned") so that no From
// can be added later without breaking the signature.
const std::vector<std::string>& defaultSignedHeaders();

struct SignSpec {
  std::string domain;    // d=
  std::string selector;  // s=
  tls::PrivateKey key;
  Algorithm algorithm = Algorithm::RsaSha256;  // RsaSha256 or Ed25519Sha256
  // Field names to sign; empty: defaultSignedHeaders(). A name listed once is signed in every
  // instance the message has (and From once more, see above); list a name twice to oversign it.
  std::vector<std::string> headers;
  Canon header_canon = Canon::Relaxed;
  Canon body_canon = Canon::Relaxed;
  std::string identity;  // i=; empty leaves it out
};

// The key fits the algorithm (RSA for rsa-sha256 with >= 1024 bits, Ed25519 for
// ed25519-sha256): "" when it does, else the problem.
std::string keyProblem(const tls::PrivateKey& key, Algorithm algorithm);

class Signer {
 public:
  // `now`: unix seconds for t=.
  Signer(SignSpec spec, uint64_t now);

  void feedBody(std::string_view chunk);
  // After the last body chunk: the folded field, lines at most 78 columns, ending in CRLF.
  // Errors: the spec's key does not fit (keyProblem), or the library failed to sign.
  Result<std::string> finish(const std::vector<content::HeaderField>& fields);

 private:
  SignSpec spec_;
  uint64_t now_;
  BodyHasher body_;
};

// The DNS TXT record text for a key: "v=DKIM1; k=rsa; p=..." (k=ed25519 for Ed25519).
std::string keyRecordText(const tls::PublicKey& key);

}  // namespace petrel::dkim
