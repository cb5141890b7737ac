// libFuzzer target: Maildir file names and their delivery key (parseMaildirName,
// maildirDeliveryKey in source/delivery/maildir.cc), as recovery reads them from new/ and cur/.
// It aborts when an invariant breaks:
// - a key found is not "K<upper hex>R<digits>" or is not in the name's part before ':';
// - a host found contains ':' or '/' (the name is one path component; ':' starts the info);
// - a name made of a key from maildirDeliveryKey() and the input as host does not give that key
//   back (when the input is a host a name can carry: no '.', ',', ':', '/' or NUL).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "petrel/delivery/maildir.h"

using namespace petrel::delivery;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool isKey(std::string_view k) {
  if (k.size() < 4 || k[0] != 'K') return false;
  size_t r = k.find('R');
  if (r == std::string_view::npos || r < 2 || r + 1 >= k.size()) return false;
  for (size_t i = 1; i < r; ++i) {
    check((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'A' && k[i] <= 'F'));
  }
  for (size_t i = r + 1; i < k.size(); ++i) check(k[i] >= '0' && k[i] <= '9');
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto name = parseMaildirName(text)) {
    std::string_view base = text.substr(0, text.find(':'));
    if (!name->key.empty()) {
      check(isKey(name->key));
      check(base.find(name->key) != std::string_view::npos);
    }
    check(name->host.find(':') == std::string::npos);
  }
  if (text.find_first_of(".,:/", 0) == std::string_view::npos &&
      text.find('\0') == std::string_view::npos) {
    std::string key = maildirDeliveryKey("0123456789AB", int64_t(size));
    std::string made = "1765148889.M1P2Q3" + key + "." + std::string(text) + ",S=10:2,S";
    auto parsed = parseMaildirName(made);
    check(parsed.has_value() && parsed->key == key && parsed->host == text && parsed->size == 10);
  }
  return 0;
}
