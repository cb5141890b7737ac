// libFuzzer target for header address rewriting (source/delivery/header_rewrite.cc).
//
// Input: a message's start in wire format. Every address found is rewritten to a longer one
// ("x" + address, or a quoted local part for every third), so replacements shift offsets.
// Besides crashes and sanitizer reports it aborts when:
//   - a found address span lies outside its field body, or the address has CR/LF in it;
//   - the rewrite reports changes but its header equals the original bytes, or reports none
//     and differs from them;
//   - original_size exceeds the message or MaxRewrittenHeaderBytes, or the rewritten header
//     does not end in CRLF (when there is one);
//   - rewriting the result again with an identity map changes anything (the output must parse
//     as well as the input did: every address found again).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "petrel/delivery/header_rewrite.h"

namespace {

using namespace petrel;
using namespace petrel::delivery;

[[noreturn]] void fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "header_rewrite_fuzz: %s\ninput (%zu bytes):", what, input.size());
  for (unsigned char c : input) std::fprintf(stderr, " %02x", c);
  std::fprintf(stderr, "\n");
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view message(reinterpret_cast<const char*>(data), size);

  if (auto found = findHeaderAddresses(message)) {
    for (const HeaderAddress& a : *found) {
      if (a.offset > message.size() || a.length > message.size() - a.offset || a.length == 0) {
        fail("address span outside the body", message);
      }
      if (a.address.find_first_of("\r\n") != std::string::npos) {
        fail("address with a line break", message);
      }
    }
  }

  size_t calls = 0;
  auto longer = [&calls](HeaderAddressClass, std::string_view address) -> Result<std::string> {
    ++calls;
    if (calls % 3 == 0) return "first last." + std::string(address);
    return "x" + std::string(address);
  };
  auto r = rewriteHeaderAddresses(message, longer);
  if (!r) fail("rewrite failed without a failing map", message);
  if (r->original_size > message.size() || r->original_size > MaxRewrittenHeaderBytes) {
    fail("original_size out of range", message);
  }
  std::string_view original = message.substr(0, r->original_size);
  if ((r->changed > 0) == (r->header == original)) fail("changed count disagrees", message);
  if (!r->header.empty() && !r->header.ends_with("\r\n")) fail("header without CRLF", message);

  auto same = [](HeaderAddressClass, std::string_view address) -> Result<std::string> {
    return std::string(address);
  };
  auto again = rewriteHeaderAddresses(r->header, same);
  if (!again || again->changed != 0 || again->original_size != r->header.size()) {
    fail("the rewritten header does not read back whole", message);
  }
  return 0;
}
