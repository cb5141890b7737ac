// libFuzzer target: the Public Suffix List parser and lookups (source/dmarc/public_suffix.cc,
// punycode included). Input: a list's text, then 0xFF, then domain names separated by LF
// (without 0xFF: the list is the input and its own lines are looked up). It aborts when an
// invariant breaks:
// - a parsed rule is empty or not lower case;
// - a lookup's public suffix is not a suffix of the lower-cased name, or the registrable
//   domain is not the suffix plus one label, or the organizational domain is neither;
// - toALabel gives a label longer than 63 octets.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "petrel/core/strings.h"
#include "petrel/dmarc/public_suffix.h"

using namespace petrel;
using namespace petrel::dmarc;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool endsWithLabels(const std::string& name, const std::string& suffix) {
  if (suffix.size() > name.size()) return false;
  if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  return suffix.size() == name.size() || name[name.size() - suffix.size() - 1] == '.';
}

void lookup(const PublicSuffixList& psl, std::string_view name) {
  std::string lower = toLower(name);
  if (!lower.empty() && lower.back() == '.') lower.pop_back();
  auto suffix = psl.publicSuffix(name);
  auto registrable = psl.registrableDomain(name);
  std::string org = psl.organizationalDomain(name);
  if (!suffix) {
    check(!registrable);
    return;
  }
  check(endsWithLabels(lower, *suffix));
  if (registrable) {
    check(endsWithLabels(*registrable, *suffix) && registrable->size() > suffix->size());
    check(endsWithLabels(lower, *registrable));
    check(org == *registrable);
  } else {
    check(org == lower);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t sep = input.find('\xff');
  std::string_view list = input.substr(0, sep);
  std::string_view names = sep == std::string_view::npos ? list : input.substr(sep + 1);
  for (std::string_view line : split(list, '\n')) {
    if (auto rule = PublicSuffixList::parseRule(line)) {
      check(!rule->name.empty() && rule->name == toLower(rule->name));
    }
    if (auto a = toALabel(line.substr(0, 80))) check(a->size() <= 63);
  }
  auto psl = PublicSuffixList::parse(list, "fuzz");
  if (!psl) return 0;
  for (std::string_view name : split(names, '\n')) lookup(*psl, name);
  return 0;
}
