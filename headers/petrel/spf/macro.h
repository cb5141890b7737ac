// SPF macro expansion (RFC 7208 7): %{s} %{l} %{o} %{d} %{i} %{p} %{v} %{h}, in explanations
// also %{c} %{r} %{t}; transformers (digits, "r"), delimiters, URL escaping for upper-case
// letters, and "%%", "%_", "%-".
//
// Pure: the values come in a MacroValues. The %{p} value needs DNS (the validated name of the
// client, RFC 7208 5.5); the evaluator finds it before it expands a string that uses it and
// puts it into `validated_name`. Syntax is checked by record.h's checkMacroString; expand()
// still refuses what that refuses, so it is safe on any text.
#pragma once

#include <string>
#include <string_view>

#include "petrel/core/cidr.h"
#include "petrel/core/result.h"

namespace petrel::spf {

struct MacroValues {
  std::string sender;         // %{s}: <sender>, "postmaster@" + domain when it had none
  std::string local_part;     // %{l}: "postmaster" when the sender had none
  std::string sender_domain;  // %{o}
  std::string domain;         // %{d}: the current <domain>
  IpAddress ip;               // %{i}, %{c}, %{v}
  std::string helo;           // %{h}
  std::string validated_name = "unknown";  // %{p}
  std::string receiver = "unknown";        // %{r}
  long long timestamp = 0;                 // %{t}, seconds since the epoch
};

// "192.0.2.1" or "2001:db8::1" (%{c}).
std::string ipText(const IpAddress& ip);
// "192.0.2.1" or "2.0.0.1.0.d.b.8...." (%{i}: IPv6 as dot-separated nibbles, RFC 7208 7.3).
std::string ipMacroText(const IpAddress& ip);

// Expands `text`. `explanation`: the text is an explain-string (spaces kept; c, r, t allowed),
// otherwise a domain-spec, whose result loses a trailing dot and, when longer than 253
// characters, its leftmost labels until it fits (RFC 7208 7.3). A permanent error for bad
// syntax.
Result<std::string> expandMacros(std::string_view text, const MacroValues& values,
                                 bool explanation);

}  // namespace petrel::spf
