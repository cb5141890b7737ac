// libFuzzer target: the Maildir++ quota formats (source/delivery/maildirsize.cc): a
// maildirsize file's text, its first line, and a quota table's value ("bytes[,messages]").
// It aborts when an invariant breaks:
// - a parsed file's limit line does not format and parse back to the same limits;
// - a file with a NUL byte or without a LF parses;
// - a quota value parses though it holds something other than digits, spaces and one comma,
//   or its error text has a control character (trailing CR LF, as a database may give, is
//   allowed).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "petrel/delivery/maildirsize.h"

using namespace petrel::delivery;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto contents = parseMaildirsize(text)) {
    check(text.find('\0') == std::string_view::npos && text.find('\n') != std::string_view::npos);
    auto again = parseMaildirsizeLimit(formatMaildirsizeLimit(contents->limit));
    check(again.has_value() && *again == contents->limit);
  }
  if (auto limit = parseMaildirsizeLimit(text.substr(0, text.find('\n')))) {
    check(*parseMaildirsizeLimit(formatMaildirsizeLimit(*limit)) == *limit);
  }
  auto value = parseQuotaValue(text);
  if (value) {
    size_t commas = 0;
    for (char c : text) {
      check((c >= '0' && c <= '9') || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',');
      commas += c == ',';
    }
    check(commas <= 1);
  } else {
    for (char c : value.error().message()) check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  }
  return 0;
}
