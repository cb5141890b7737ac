// libFuzzer target for the AUTH decoder (source/auth/sasl.cc): SASL PLAIN and LOGIN exchanges
// and strict base64. Input: 1 flag byte (bit 0: LOGIN instead of PLAIN, bit 1: the first line
// is an initial response), then client lines separated by '\n'.
// Invariants: strict base64 round-trips; a finished exchange has a user and a password and
// came from valid base64; failures are 5xx with an enhanced code; nothing is asked after Done.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/auth/sasl.h"
#include "petrel/core/base64.h"

using namespace petrel;
using namespace petrel::auth;

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t flags = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);

  if (auto decoded = base64Decode(rest)) check(base64Encode(*decoded) == rest);

  auto mech = makeMechanism(flags & 1 ? "LOGIN" : "PLAIN");
  check(mech != nullptr);
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= rest.size()) {
    size_t nl = rest.find('\n', start);
    if (nl == std::string_view::npos) nl = rest.size();
    lines.push_back(rest.substr(start, nl - start));
    start = nl + 1;
  }
  size_t i = 0;
  Step step = (flags & 2) && !lines.empty() ? mech->start(lines[i++]) : mech->start(std::nullopt);
  for (;;) {
    if (auto* d = std::get_if<Done>(&step)) {
      check(!d->credentials.authcid.empty() && !d->credentials.password.empty());
      break;
    }
    if (auto* f = std::get_if<Failed>(&step)) {
      check(f->code >= 500 && f->code < 600 && !f->enhanced.empty() && f->enhanced[0] == '5');
      break;
    }
    if (i >= lines.size()) break;
    step = mech->respond(lines[i++]);
  }
  return 0;
}
