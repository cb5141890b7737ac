// The three ARC header fields (RFC 8617 4.1) parsed, and the ARC Sets of a message grouped by
// instance with the structure checks of 5.2 step 2. Pure: no DNS, no crypto, no clock.
//
// ARC-Message-Signature is a DKIM signature whose i= is the instance: its tags go through
// dkim::parseSignatureTags (the same checks as a DKIM-Signature, no v=). ARC-Seal uses dkim's
// tag-list grammar with its own tag set (a, b, cv, d, i, s, t; h= is forbidden).
// ARC-Authentication-Results is "i=N;" in front of an Authentication-Results payload.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/content/header_section.h"
#include "petrel/core/result.h"
#include "petrel/dkim/signature.h"

namespace petrel::arc {

// RFC 8617 4.2.1: instances run from 1 to 50.
inline constexpr int MaxInstance = 50;

// The cv= of an ARC-Seal and the result of a chain's validation.
enum class ChainStatus { None, Pass, Fail };
std::string_view chainStatusName(ChainStatus s);  // "none", "pass", "fail"
std::optional<ChainStatus> parseChainStatus(std::string_view text);

inline constexpr std::string_view SealName = "ARC-Seal";
inline constexpr std::string_view MessageSignatureName = "ARC-Message-Signature";
inline constexpr std::string_view AuthResultsName = "ARC-Authentication-Results";

// An i= value: 1*2DIGIT (4.2.1) in 1..MaxInstance.
Result<int> parseInstance(std::string_view text);

struct AuthResults {
  int instance = 0;
  std::string authserv_id;  // the first token of the payload
  std::string payload;      // after "i=N;", trimmed (authserv-id and results)
};
// ARC-Authentication-Results value: [FWS] "i" [FWS] "=" [FWS] instance [FWS] ";" payload, the
// payload starting with a non-empty authserv-id.
Result<AuthResults> parseAuthResults(std::string_view value);

struct MessageSignature {
  int instance = 0;
  dkim::Signature sig;
};
// ARC-Message-Signature value. Beyond parseSignatureTags: i= required, and h= must not name
// ARC-Seal (4.1.2).
Result<MessageSignature> parseMessageSignature(std::string_view value);

struct Seal {
  int instance = 0;
  ChainStatus cv = ChainStatus::None;
  dkim::Algorithm algorithm = dkim::Algorithm::RsaSha256;
  std::string signature;  // b=, decoded
  std::string b_text;     // b= without whitespace
  std::string domain;     // d=, lower case
  std::string selector;   // s=, lower case
  std::optional<uint64_t> timestamp;  // t=

  std::string keyName() const;  // "s._domainkey.d"
};
// ARC-Seal value: a, b, cv, d, i, s required, t= optional (a number when present), no h=.
Result<Seal> parseSeal(std::string_view value);

// One ARC Set as the message carries it: copies of the three fields.
struct SetFields {
  int instance = 0;
  content::HeaderField auth_results;
  content::HeaderField message_signature;
  content::HeaderField seal;
};

struct Sets {
  std::vector<SetFields> sets;  // instance 1..N, in order; empty: no ARC field at all
  int highest = 0;              // the highest valid i= seen (0 when none), even on error
  std::string error;            // "" when the sets are well formed (5.2 step 2)
};

// Finds the ARC fields among `fields` and groups them: every one must carry a readable i=, each
// instance 1..N exactly one field of each kind, N <= MaxInstance. At most 3 * MaxInstance + 3
// ARC fields are looked at (more is an error).
Sets collectSets(const std::vector<content::HeaderField>& fields);

// The canonical data the ARC-Seal of the last set in `sets` signs (RFC 8617 5.1.1): for each
// set in ascending instance order its AAR, AMS and AS, relaxed, the last AS with b= emptied and
// no final CRLF. `sets` must be 1..k in order (the caller's check).
std::string sealedData(const std::vector<SetFields>& sets);

}  // namespace petrel::arc
