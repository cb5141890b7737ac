// Comparators (RFC 4790 i;octet, i;ascii-casemap, i;ascii-numeric) and match types (RFC 5228
// 2.7.1 :is, :contains, :matches; RFC 5231 :value), and the message pieces tests look at:
// header values unfolded and RFC 2047-decoded, addresses out of address fields, the body as
// :raw, :text or :content parts. Private to source/sieve/.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/content/header_section.h"
#include "petrel/sieve/addresses.h"

namespace petrel::sieve {

// Whether `value` matches `key` (match "is", "contains", "matches" or "value" with `relation`).
// For :matches, `captures` receives ${0}..: the whole value, then each wildcard's text.
// The work done is charged to `budget`; a match that runs out of it answers false and leaves
// budget.exhausted() set (the run then fails).
struct Budget {
  uint64_t used = 0;
  uint64_t max = 0;
  bool exhausted() const { return used > max; }
  bool charge(uint64_t n = 1) {
    used += n;
    return used <= max;
  }
};

bool matchValue(std::string_view comparator, std::string_view match, std::string_view relation,
                std::string_view value, std::string_view key, std::vector<std::string>* captures,
                Budget& budget);

// RFC 5231 :count: the number compared with the key through `comparator` and `relation`.
bool matchCount(std::string_view comparator, std::string_view relation, uint64_t count,
                std::string_view key);

enum class BodyTransform { Raw, Text, Content };

// The body texts a body test compares against (RFC 5173 5): Raw, the undecoded body; Text, the
// decoded text/* parts; Content, the decoded parts whose type matches one of `types`.
std::vector<std::string> bodyTexts(std::span<const content::HeaderField> fields,
                                   std::string_view body, BodyTransform transform,
                                   const std::vector<std::string>& types);

}  // namespace petrel::sieve
