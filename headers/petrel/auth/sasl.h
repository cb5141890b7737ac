// SASL for SMTP AUTH (RFC 4954): the server side of PLAIN (RFC 4616) and LOGIN, as plain
// state machines. Lines in (base64 as the client sent them), challenges or a verdict out.
// No I/O and no password checking: credentials go to an Authenticator.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace petrel::auth {

struct Credentials {
  std::string authzid;   // authorization identity; empty or equal to authcid for us
  std::string authcid;   // the user name
  std::string password;  // never logged
};

// What the mechanism wants next.
struct Challenge {
  std::string base64;  // text after "334 "
};
struct Done {
  Credentials credentials;
};
struct Failed {
  int code;              // 501 (bad base64 / syntax, or "*" cancel) or 504 (unknown mechanism)
  std::string enhanced;  // "5.5.2", "5.7.0", "5.5.4"
  std::string text;
};
using Step = std::variant<Challenge, Done, Failed>;

class Mechanism {
 public:
  virtual ~Mechanism() = default;
  // `initial` is the initial response from "AUTH PLAIN <ir>" ("=" means empty), if any.
  virtual Step start(std::optional<std::string_view> initial) = 0;
  // One client line (without CRLF). "*" cancels (501 5.7.0).
  virtual Step respond(std::string_view line) = 0;
};

// nullptr for mechanisms we do not offer. Names are case-insensitive ("PLAIN", "LOGIN").
std::unique_ptr<Mechanism> makeMechanism(std::string_view name);

}  // namespace petrel::auth
