// The tag=value list of RFC 6376 3.2, shared by DKIM-Signature, the key records and (later)
// ARC's ARC-Seal and ARC-Message-Signature fields. Pure parsing: which tags are required and
// what their values mean is the caller's business.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"

namespace petrel::dkim {

struct Tag {
  std::string name;   // as written (tag names are case-sensitive, RFC 6376 3.2)
  std::string value;  // leading and trailing whitespace (FWS) removed, inner FWS kept
};

struct TagList {
  std::vector<Tag> tags;  // in the order written
  const Tag* find(std::string_view name) const;
};

// Upper bound on what is parsed: a tag list longer than this is refused (a DKIM-Signature or
// key record of 64 KiB is already absurd).
inline constexpr size_t MaxTagListSize = 65536;

// RFC 6376 3.2: tag-list = tag-spec *( ";" tag-spec ) [ ";" ]; a tag name is ALPHA followed by
// ALNUM or "_"; a value is printable ASCII except ";" with FWS inside. A duplicated tag is an
// error (3.2: "Tags with duplicate names MUST NOT occur"). Errors are permanent, with a text
// free of control characters.
Result<TagList> parseTagList(std::string_view text);

// The text without any SP, HTAB, CR or LF: the form of base64 values and colon lists.
std::string withoutWhitespace(std::string_view text);

// A colon-separated list ("from:to:subject") split and trimmed of whitespace.
std::vector<std::string> splitColonList(std::string_view text);

// A tag name or value (untrusted) for an error text: printable ASCII only (others become
// '?'), at most 40 octets.
std::string shown(std::string_view s);

}  // namespace petrel::dkim
