// libFuzzer target: the DKIM key record parser (source/dkim/signature.cc parseKeyRecord, and
// tag_list.cc). Input: a TXT record's text. It aborts when an error text has a control
// character, when a record parses although v= is there but not first or not "DKIM1", or when a
// parsed record has no p= tag in the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "petrel/dkim/signature.h"
#include "petrel/dkim/tag_list.h"

using namespace petrel::dkim;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = parseKeyRecord(text);
  if (!r) {
    for (char c : r.error().message()) {
      auto u = static_cast<unsigned char>(c);
      check(u >= 0x20 && u < 0x7f);
    }
    return 0;
  }
  auto tags = parseTagList(text);
  check(tags.ok() && tags->find("p") != nullptr);
  if (const Tag* v = tags->find("v")) check(v->value == "DKIM1" && &tags->tags.front() == v);
  return 0;
}
