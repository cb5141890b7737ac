// The Sender Rewriting Scheme as Shevek's libraries define it (libsrs2, Mail::SRS, python3-srs,
// and postsrsd, which embeds libsrs2): the "Guarded" scheme, so the same secret gives the same
// address as those implementations on the same day. docs/srs.md explains the format.
//
//   SRS0=HHHH=TT=orig.example=alice@forwarder.example        forward of alice@orig.example
//   SRS1=HHHH=first.example==HHHH=TT=orig.example=alice@...  forward of an SRS0 of first.example
//
// HHHH is the first hash_length characters of base64(HMAC-SHA1(secret, the lower-cased data)),
// compared case-insensitively on the way back (a relay may smash the case of a local part);
// TT is the day number modulo 1024 in two base32 characters, valid for max_age days.
//
// What it owns: the address arithmetic, the hash and the timestamp, the secret list (the first
// signs, every one verifies: rotation). What it does not do: decide whether an address should
// be rewritten (the sender's domain being ours, the recipient being forwarded: delivery/ does
// that), read files, or log. Pure code: time comes in as an argument.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"

namespace petrel::srs {

constexpr int DefaultHashLength = 4;   // postsrsd SRS_HASHLENGTH
constexpr int DefaultMaxAgeDays = 21;  // postsrsd's validity of a timestamp
constexpr int MaxHashLength = 27;      // base64 of 20 bytes, before its padding
// An address longer than this is not reversed (bounded work on input from the network; RFC
// 5321 4.5.3.1.3 allows a path of 256 octets, an SRS1 of a long address may be longer).
constexpr size_t MaxAddressLength = 1024;

struct Options {
  std::string domain;                // the forwarding domain the addresses are made at
  std::vector<std::string> secrets;  // the first signs; all verify. At least one.
  int hash_length = DefaultHashLength;
  int hash_min = DefaultHashLength;  // shortest hash accepted on the way back (postsrsd -N)
  int max_age_days = DefaultMaxAgeDays;
  char separator = '=';  // after SRS0/SRS1 only: '=', '+' or '-'; the rest is always '='
};

// The outcome of reversing one address.
struct Reversal {
  enum class Status {
    Ok,         // `address` is where the mail goes back to
    NotSrs,     // the local part does not start with SRS0/SRS1 and a separator
    BadSyntax,  // an SRS tag, but not the fields that follow it
    BadHash,    // no secret gives this hash
    Expired,    // a good hash, but the timestamp is too old (or from the future, or not base32)
  };
  Status status = Status::NotSrs;
  std::string address;
};
// Words for the log: "ok", "not an SRS address", "bad syntax", "invalid hash", "expired
// timestamp".
std::string_view toString(Reversal::Status status);

// Day stamps: `unix_seconds` / 86400, modulo 1024, as two base32 characters (RFC 4648 alphabet).
std::string timestamp(int64_t unix_seconds);
// Whether a (case-insensitive) stamp is at most `max_age_days` days old at `unix_seconds`
// (today counts as 0; a stamp from the future wraps around and is almost always too old).
bool timestampValid(std::string_view stamp, int64_t unix_seconds, int max_age_days);

// Whether the local part of `address` starts with SRS0 or SRS1 and one of "=+-" (any case).
bool isSrsAddress(std::string_view address);

class Rewriter {
 public:
  explicit Rewriter(Options options);

  const Options& options() const { return options_; }

  // The SRS address at options().domain for the envelope sender `sender` (local@domain) at
  // time `unix_seconds`: SRS0 for a plain address, SRS1 for one that is SRS0 or SRS1 of
  // another forwarder. A sender already at options().domain is returned unchanged (as the
  // libraries do). Errors (permanent): no '@', an empty part, a malformed SRS1 sender, no
  // secret.
  Result<std::string> forward(std::string_view sender, int64_t unix_seconds) const;

  // The address an SRS address stands for: the original sender for SRS0, the first
  // forwarder's SRS0 address for SRS1 (its own secret checks the rest). The domain of
  // `address` is not checked here (the router only asks for addresses at options().domain).
  Reversal reverse(std::string_view address, int64_t unix_seconds) const;

  // The hash of `pieces` (each lower-cased, concatenated) under `secret`: the first
  // `length` characters of base64(HMAC-SHA1). Exposed for tests.
  static std::string hash(std::string_view secret, const std::vector<std::string_view>& pieces,
                          size_t length);

 private:
  std::string sign(const std::vector<std::string_view>& pieces) const;
  bool verify(std::string_view hash, const std::vector<std::string_view>& pieces) const;

  Options options_;
};

}  // namespace petrel::srs
