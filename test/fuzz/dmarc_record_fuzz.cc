// libFuzzer target: the DMARC record parser and the From: domain reader (source/dmarc/
// record.cc, from_domain.cc). Input: 1 selector byte (even: a _dmarc TXT record's text; odd:
// From: field bodies separated by LF), then the text. It aborts when an invariant breaks:
// - parseRecord accepts what isDmarcRecord refuses, or a parsed record is out of range (pct,
//   more than MaxReportUris URIs), or formatRecord's text does not parse back to itself;
// - an error text or warning carries a control character (they end up in logs and headers);
// - fromDomains returns domains with a problem, more than MaxFromDomains, or a domain that is
//   not lower-case DNS text (letters, digits, '-', '_', '.') of at most 253 octets.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/dmarc/from_domain.h"
#include "petrel/dmarc/record.h"

using namespace petrel;
using namespace petrel::dmarc;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool printable(const std::string& s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

void record(std::string_view text) {
  auto r = parseRecord(text);
  if (!r) {
    check(printable(r.error().message()));
    return;
  }
  check(isDmarcRecord(text));
  check(r->percent >= 0 && r->percent <= 100);
  check(r->aggregate.size() <= MaxReportUris && r->failure.size() <= MaxReportUris);
  for (const auto& w : r->warnings) check(printable(w));
  std::string canonical = formatRecord(*r);
  auto again = parseRecord(canonical);
  check(again.ok());
  check(formatRecord(*again) == canonical);
}

void from(std::string_view text) {
  std::vector<std::string_view> values;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '\n') {
      values.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  FromDomains f = fromDomainsOfValues(values);
  check(printable(f.problem));
  check(f.problem.empty() || f.domains.empty());
  check(f.domains.size() <= MaxFromDomains);
  for (const auto& d : f.domains) {
    check(!d.empty() && d.size() <= 253);
    for (char c : d) {
      check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.');
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    from(text);
  } else {
    record(text);
  }
  return 0;
}
