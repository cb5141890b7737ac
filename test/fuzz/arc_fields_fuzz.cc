// libFuzzer target: the ARC field parsers and the set grouping (source/arc/fields.cc) over
// dkim's tag lists, and the Validator's structure pass (source/arc/validator.cc). Byte 0
// picks what the rest is: 0 an ARC-Authentication-Results value, 1 an ARC-Message-Signature
// value, 2 an ARC-Seal value, anything else a header section (and body) for the Validator. It
// aborts when an invariant breaks:
// - a parsed field has an instance outside 1..50, an AAR an authserv-id with whitespace or
//   ';', a seal a d=, s= or b= text with a character that could break a field or a DNS name,
//   an AMS an h= naming ARC-Seal; an error text has a control character;
// - the Validator, given no key at all, passes a chain, says none while ARC fields are there,
//   or reports sets that are not 1..N;
// - server::chainAtReceipt (the chain a forwarded message is sealed over, read back from our
//   Authentication-Results' arc=) says none while ARC fields are there, pass over sets that
//   are not well formed, or an instance count other than the highest i= seen.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "petrel/arc/fields.h"
#include "petrel/arc/validator.h"
#include "petrel/content/header_section.h"
#include "petrel/core/strings.h"
#include "petrel/server/arc_sealing.h"

using namespace petrel;
using namespace petrel::arc;

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

bool inRange(int i) { return i >= 1 && i <= MaxInstance; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0]) {
    case 0: {
      auto r = parseAuthResults(text);
      if (!r) {
        check(printable(r.error().message()));
        return 0;
      }
      check(inRange(r->instance) && !r->authserv_id.empty() && clean(r->authserv_id));
      return 0;
    }
    case 1: {
      auto r = parseMessageSignature(text);
      if (!r) {
        check(printable(r.error().message()));
        return 0;
      }
      check(inRange(r->instance));
      check(clean(r->sig.domain) && clean(r->sig.selector) && clean(r->sig.b_text));
      for (const auto& h : r->sig.headers) check(!iequals(h, "arc-seal"));
      return 0;
    }
    case 2: {
      auto r = parseSeal(text);
      if (!r) {
        check(printable(r.error().message()));
        return 0;
      }
      check(inRange(r->instance) && !r->signature.empty());
      check(clean(r->domain) && clean(r->selector) && clean(r->b_text));
      return 0;
    }
    default: break;
  }
  content::HeaderSection h(1u << 20);
  size_t n = h.feed(text);
  if (!h.complete()) h.end();
  bool any = false;
  for (const auto& f : h.fields()) {
    any = any || iequals(f.name, "arc-seal") || iequals(f.name, "arc-message-signature") ||
          iequals(f.name, "arc-authentication-results");
  }
  Validator v(h.fields(), {.now = 1700000000});
  v.feedBody(text.substr(n));
  v.endBody();
  ChainResult r = v.result();
  check(r.status != ChainStatus::Pass);
  check((r.status == ChainStatus::None) == !any);
  check(printable(r.reason));
  for (size_t i = 0; i < r.sets.size(); ++i) check(r.sets[i].instance == static_cast<int>(i + 1));
  if (auto receipt = server::chainAtReceipt(h.fields(), "mx.example.org")) {
    Sets sets = collectSets(h.fields());
    check((receipt->status == ChainStatus::None) == !any);
    check(receipt->status != ChainStatus::Pass || (sets.error.empty() && sets.highest > 0));
    check(receipt->status == ChainStatus::None || receipt->instances == sets.highest);
  }
  return 0;
}
