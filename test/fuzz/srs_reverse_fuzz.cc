// libFuzzer target: srs::Rewriter::reverse, the parser of SRS0/SRS1 addresses that arrive in
// RCPT TO from anyone (source/srs/srs.cc), and forward on the same bytes. Byte 0 picks the
// time (days from a fixed day), the rest is the address. It aborts when an invariant breaks:
// - reverse answers Ok with an address without '@', with a control character, or longer
//   than its input (plus the SRS0 tag an SRS1 gives back);
// - a sender without an SRS tag, '=' in its domain or a control character, forwarded and
//   reversed on the same day, does not come back byte for byte;
// - the forwarded address is not at the forwarding domain, or reverse calls it NotSrs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "petrel/core/strings.h"
#include "petrel/srs/srs.h"

using namespace petrel;
using namespace petrel::srs;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

const Rewriter& rewriter() {
  static const Rewriter r([] {
    Options o;
    o.domain = "forward.example";
    o.secrets = {"fuzz-new", "fuzz-old"};
    return o;
  }());
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  int64_t now = 1765000000 + int64_t(data[0]) * 86400;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const Rewriter& r = rewriter();

  Reversal v = r.reverse(input, now);
  if (v.status == Reversal::Status::Ok) {
    check(v.address.find('@') != std::string::npos);
    check(!hasControlCharacter(v.address));
    check(v.address.size() <= input.size() + 4);
  }

  auto sent = r.forward(input, now);
  if (!sent) return 0;
  size_t at = input.rfind('@');
  std::string_view domain = input.substr(at + 1);
  if (iequals(domain, "forward.example")) {
    check(*sent == input);
    return 0;
  }
  check(toLower(*sent).ends_with("@forward.example"));
  check(r.reverse(*sent, now).status != Reversal::Status::NotSrs);
  if (!isSrsAddress(input) && domain.find('=') == std::string_view::npos &&
      !hasControlCharacter(input) && sent->size() <= MaxAddressLength) {
    Reversal back = r.reverse(*sent, now);
    check(back.status == Reversal::Status::Ok && back.address == input);
  }
  return 0;
}
