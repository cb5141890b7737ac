// libFuzzer target for the dashboard's request heads and escaping (source/status/web.cc).
//
// Input: an HTTP request head as the status endpoint hands it over (up to the empty line).
// Besides crashes and sanitizer reports it aborts when:
//   - a parsed request has a method other than GET, HEAD and POST, or a path not starting
//     with '/' or containing '?';
//   - a header name is not lower case;
//   - the CSRF check passes without the token in the request (as written or %-encoded);
//   - htmlEscape of any parsed value (and of the whole input) leaves '<', '>', '"', '\'' or a
//     control character other than tab and newline, or a '&' that does not start an entity.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "petrel/status/web.h"

namespace {

using namespace petrel::status;

[[noreturn]] void fail(const char* what, std::string_view in) {
  std::fprintf(stderr, "http_request_fuzz: %s\ninput (%zu bytes):", what, in.size());
  for (unsigned char c : in) std::fprintf(stderr, " %02x", c);
  std::fprintf(stderr, "\n");
  std::abort();
}

void checkEscaped(std::string_view value, std::string_view in) {
  std::string e = htmlEscape(value);
  for (size_t i = 0; i < e.size(); ++i) {
    unsigned char c = e[i];
    if (c == '<' || c == '>' || c == '"' || c == '\'') fail("markup character left", in);
    if ((c < 32 && c != '\t' && c != '\n') || c == 127) fail("control character left", in);
    if (c == '&') {
      std::string_view rest = std::string_view(e).substr(i);
      if (!rest.starts_with("&amp;") && !rest.starts_with("&lt;") && !rest.starts_with("&gt;") &&
          !rest.starts_with("&quot;") && !rest.starts_with("&#39;")) {
        fail("bare '&'", in);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  checkEscaped(in, in);
  checkEscaped(urlDecode(in), in);
  auto r = parseHttpRequest(in);
  if (!r) return 0;
  if (r->method != "GET" && r->method != "HEAD" && r->method != "POST") fail("method", in);
  if (r->path.empty() || r->path[0] != '/' || r->path.find('?') != std::string::npos) {
    fail("path", in);
  }
  for (const auto& [k, v] : r->query) {
    checkEscaped(k, in);
    checkEscaped(v, in);
  }
  for (const auto& [k, v] : r->headers) {
    for (char c : k) {
      if (c >= 'A' && c <= 'Z') fail("header name not lower case", in);
    }
    checkEscaped(v, in);
  }
  const std::string token = "0123456789abcdef0123456789abcdef";
  if (csrfAllowed(*r, token) && in.find(token) == std::string_view::npos &&
      urlDecode(in).find(token) == std::string::npos) {
    fail("CSRF check passed without the token", in);
  }
  return 0;
}
