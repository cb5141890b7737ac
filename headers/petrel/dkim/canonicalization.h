// Canonicalization (RFC 6376 3.4): "simple" and "relaxed" for header fields, and the body hash
// computed while the body streams (BodyHasher), for DKIM and later ARC.
//
// BodyHasher takes the body in chunks of any size (a CRLF or a run of whitespace may be split
// across chunks) and holds only what it cannot decide yet: the count of empty lines seen at the
// current end (they are dropped if nothing follows, RFC 6376 3.4.3/3.4.4), a pending CR and a
// pending whitespace run; never the body itself. Feeding a body byte by byte gives the same
// hash as feeding it at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "petrel/tls/crypto.h"

namespace petrel::dkim {

enum class Canon { Simple, Relaxed };

std::string_view canonName(Canon c);  // "simple" / "relaxed"

// One header field as it enters the header hash. `name` and `raw` as content::HeaderField holds
// them (raw: the whole field with its folding and final CRLF). Simple: raw unchanged. Relaxed:
// the name lower-cased, the value unfolded, whitespace runs made one SP, whitespace at the end
// of the value and around the colon removed, then CRLF.
std::string canonicalizeHeader(Canon c, std::string_view name, std::string_view raw);

class BodyHasher {
 public:
  // `limit`: l= (hash at most that many canonical octets); nullopt hashes everything.
  BodyHasher(Canon canon, std::optional<uint64_t> limit = std::nullopt);

  void feed(std::string_view chunk);
  // The message ended; the 32-byte SHA-256 of the canonical body (its first `limit` octets).
  std::string finish();

  // After finish(): octets of the whole canonical body (beyond any limit).
  uint64_t canonicalLength() const { return length_; }
  Canon canon() const { return canon_; }
  std::optional<uint64_t> limit() const { return limit_; }

 private:
  void emit(std::string_view bytes);
  void emitChar(char c) { emit(std::string_view(&c, 1)); }
  void flushEmptyLines();
  void content(char c);
  void flushOut();

  Canon canon_;
  std::optional<uint64_t> limit_;
  tls::Sha256 sha_;
  std::string out_;            // canonical octets waiting to be hashed (bounded, flushed)
  uint64_t length_ = 0;        // canonical octets produced
  uint64_t empty_lines_ = 0;   // empty lines held back (dropped at the end of the body)
  bool at_line_start_ = true;  // nothing of the current line produced yet
  bool pending_cr_ = false;
  bool pending_wsp_ = false;  // relaxed: a whitespace run not yet written
  bool finished_ = false;
  std::string digest_;
};

}  // namespace petrel::dkim
