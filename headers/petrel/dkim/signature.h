// The DKIM-Signature header field (RFC 6376 3.5) and the key record (3.6.1), parsed and
// validated as 6.1.1 and 3.6.1 ask. Pure: no DNS, no crypto, no clock (the caller passes the
// time for x=).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"
#include "petrel/dkim/canonicalization.h"
#include "petrel/dkim/tag_list.h"

namespace petrel::dkim {

enum class Algorithm { RsaSha256, Ed25519Sha256, RsaSha1 };

std::string_view algorithmName(Algorithm a);  // "rsa-sha256", "ed25519-sha256", "rsa-sha1"
std::optional<Algorithm> parseAlgorithm(std::string_view text);

struct Signature {
  Algorithm algorithm = Algorithm::RsaSha256;  // a=
  std::string signature;                       // b=, decoded
  std::string b_text;                          // b= as base64 without whitespace
  std::string body_hash;                       // bh=, decoded
  Canon header_canon = Canon::Simple;          // c= (default simple/simple)
  Canon body_canon = Canon::Simple;
  std::string domain;                          // d=, lower case
  std::vector<std::string> headers;            // h=, as written
  std::string identity;                        // i= (default "@" + d=), as written
  std::string identity_domain;                 // the domain of i=, lower case
  std::optional<uint64_t> length;              // l=
  std::string selector;                        // s=, lower case
  std::optional<uint64_t> timestamp;           // t=
  std::optional<uint64_t> expiration;          // x=

  // "selector._domainkey.domain": the name of the key record (3.6.2.1).
  std::string keyName() const;
};

// A domain name as d= and the domain of i= carry it (and s=, and ARC's d= and s=): labels of
// letters, digits, '-' and '_' (selectors use '_' too), dots between them.
bool plausibleDomain(std::string_view d);

// Largest DKIM-Signature / key record value parsed (MaxTagListSize) and the number of h=
// entries accepted (a list of thousands only costs the verifier).
inline constexpr size_t MaxSignedHeaders = 256;

// The value of a DKIM-Signature field (after the colon, folding included). Errors are the
// permerror reasons of 6.1.1 ("missing tag d=", "i= is not in d=", "h= does not include
// From", "x= before t=", "bad version", "unknown algorithm 'x'", ...): permanent, printable.
// rsa-sha1 is parsed (the verifier fails it with its own reason, RFC 8301).
Result<Signature> parseSignature(std::string_view value);

// Which field the tags come from: a DKIM-Signature, or an ARC-Message-Signature (RFC 8617
// 4.1.2: the same tags except that there is no v=, i= is the ARC instance (left to arc/, not
// read here; `identity` stays empty), h= may be empty, hold empty names and need not name
// From, and c= defaults to relaxed/relaxed).
enum class SignatureForm { Dkim, ArcMessage };

// parseSignature's checks over an already parsed tag list.
Result<Signature> parseSignatureTags(const TagList& tags, SignatureForm form);

// x= has passed at `now` (unix seconds)? 6.1.1: the signature is then treated as failed.
bool expired(const Signature& s, uint64_t now);

struct KeyRecord {
  enum class KeyType { Rsa, Ed25519 };
  KeyType key_type = KeyType::Rsa;   // k= (default rsa)
  std::vector<std::string> hashes;   // h= (empty: any)
  std::string public_key;            // p=, decoded; empty = revoked (3.6.1)
  bool testing = false;              // t=y
  bool strict = false;               // t=s: i= must be d= exactly, no subdomain
};

// A key record's TXT text (3.6.1): v=DKIM1 when present must come first; k= rsa or ed25519
// (others: error), s= must allow email, p= required. Errors are permanent and printable.
Result<KeyRecord> parseKeyRecord(std::string_view text);

}  // namespace petrel::dkim
