// libFuzzer target: the SPF record parser and macro expansion (source/spf/record.cc,
// macro.cc). Input: a TXT record's text. It aborts when an invariant breaks:
// - parseRecord and isSpfRecord disagree, or a parsed record holds a domain-spec that
//   checkDomainSpec refuses, a CIDR length out of range, or an ip4/ip6 network of the wrong
//   family;
// - a checked domain-spec fails to expand, or expands to more than 253 characters when it has
//   a dot to drop labels at;
// - a checked explain-string fails to expand, or a permanent error's text carries a control
//   character (the reasons end up in logs and replies).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "petrel/spf/macro.h"
#include "petrel/spf/record.h"

using namespace petrel;
using namespace petrel::spf;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool printable(const std::string& s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return false;
  }
  return true;
}

MacroValues values() {
  MacroValues v;
  v.sender = "strong-bad@email.example.com";
  v.local_part = "strong-bad";
  v.sender_domain = "email.example.com";
  v.domain = std::string(60, 'x') + ".email.example.com";
  v.ip = *IpAddress::parse("2001:db8::cb01");
  v.helo = "mx.example.org";
  v.validated_name = "mx.example.org";
  v.timestamp = 1;
  return v;
}

void expandDomain(const std::string& spec, const MacroValues& v) {
  if (spec.empty()) return;
  check(checkDomainSpec(spec).ok());
  auto e = expandMacros(spec, v, false);
  check(e.ok());
  check(e->size() <= 253 || e->find('.') == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  static const MacroValues v = values();
  auto r = parseRecord(text);
  if (!isSpfRecord(text)) check(!r.ok());
  if (r) {
    for (const auto& m : r->mechanisms) {
      check(m.cidr4 >= 0 && m.cidr4 <= 32 && m.cidr6 >= 0 && m.cidr6 <= 128);
      if (m.kind == MechanismKind::Ip4) check(!m.network.v6);
      if (m.kind == MechanismKind::Ip6) check(m.network.v6);
      if (m.kind == MechanismKind::Include || m.kind == MechanismKind::Exists) {
        check(!m.domain_spec.empty());
      }
      expandDomain(m.domain_spec, v);
    }
    if (r->redirect) expandDomain(*r->redirect, v);
    if (r->exp) expandDomain(*r->exp, v);
  } else {
    check(printable(r.error().message()));
  }
  // The same bytes as an explanation TXT record.
  if (checkMacroString(text, true)) {
    check(expandMacros(text, v, true).ok());
  } else {
    check(printable(checkMacroString(text, true).error().message()));
  }
  return 0;
}
