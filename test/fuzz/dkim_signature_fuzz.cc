// libFuzzer target: the DKIM-Signature parser and the tag-list grammar under it
// (source/dkim/signature.cc, tag_list.cc). Input: a DKIM-Signature field's value. It aborts
// when an invariant breaks:
// - a parsed signature lacks d=, s= or a From in h=, has an i= outside d=, x= before t=, or
//   more than MaxSignedHeaders names;
// - d=, s= or the b= text carry a character that could break a header field or a DNS name
//   (control characters, space, ';'), or an error text has a control character (reasons end
//   up in Authentication-Results and logs).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "petrel/core/strings.h"
#include "petrel/dkim/signature.h"

using namespace petrel;
using namespace petrel::dkim;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool printable(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return false;
  }
  return true;
}

bool clean(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == ';') return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = parseSignature(text);
  if (!r) {
    check(printable(r.error().message()));
    return 0;
  }
  check(!r->domain.empty() && !r->selector.empty() && !r->signature.empty());
  check(clean(r->domain) && clean(r->selector) && clean(r->b_text));
  bool from = false;
  for (const auto& h : r->headers) from = from || iequals(h, "from");
  check(from && r->headers.size() <= MaxSignedHeaders);
  const std::string& id = r->identity_domain;
  check(id == r->domain ||
        (id.size() > r->domain.size() && id.compare(id.size() - r->domain.size(), r->domain.size(),
                                                    r->domain) == 0 &&
         id[id.size() - r->domain.size() - 1] == '.'));
  if (r->timestamp && r->expiration) check(*r->expiration >= *r->timestamp);
  check(r->keyName() == r->selector + "._domainkey." + r->domain);
  return 0;
}
