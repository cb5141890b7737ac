// Value types that several sections share: listen endpoints, next hops, milter and proxy
// endpoints, transport references and the TLS and AUTH modes. Pure data and their parsers
// (source/config/endpoint.cc); part of config.h, which includes every settings header.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "petrel/core/result.h"

namespace petrel::config {

// "host:port" or "[v6]:port", already split.
struct Endpoint {
  std::string host;  // an IP address literal; IPv6 without brackets, in canonical form
  uint16_t port = 0;
  std::string toString() const;  // "127.0.0.1:25", "[::1]:25"
  bool operator==(const Endpoint&) const = default;
};

// Parses "192.0.2.1:25" or "[2001:db8::1]:25". The host must be an IP address literal
// (listeners bind to it, so no name resolution happens here); the port must be 1..65535.
Result<Endpoint> parseEndpoint(std::string_view text);

// A next hop as Postfix writes it (relayhost, transport entries): "[host]:port" or "[host]"
// connects to host itself; "host:port" or "host" looks up host's MX records first. An
// optional "smtp:" prefix is accepted. The port defaults to 25.
struct NextHop {
  std::string host;  // lower-cased domain, or an IP literal (IPv6 without brackets)
  uint16_t port = 25;
  bool mx_lookup = true;  // false for the bracketed form
  std::string toString() const;  // "[10.0.0.5]:25", "example.org"
  bool operator==(const NextHop&) const = default;
};
Result<NextHop> parseNextHop(std::string_view text);

// Outbound STARTTLS policy per destination, as Postfix's smtp_tls_security_level.
enum class TlsPolicy { None, May, Encrypt, Verify };
std::optional<TlsPolicy> parseTlsPolicy(std::string_view word);  // "none" | "may" | ...
std::string_view toString(TlsPolicy policy);

// STARTTLS policy of a listener (RFC 3207, RFC 8314).
enum class TlsMode {
  None,      // no STARTTLS
  Optional,  // STARTTLS offered (port 25 style)
  Required,  // STARTTLS offered; MAIL/AUTH refused before it (530 5.7.0)
  Implicit,  // TLS from the first byte (port 465)
};

enum class AuthMode {
  None,      // AUTH not offered
  Optional,  // AUTH offered (over TLS unless auth_plaintext)
  Required,  // MAIL refused before AUTH (530 5.7.0)
};

// A Sendmail milter (protocol version 6) that sees every message at its end of data (Postfix
// smtpd_milters; docs/milter.md).
struct MilterEndpoint {
  enum class Kind : uint8_t { Inet, Unix };
  Kind kind = Kind::Inet;
  std::string host;  // Inet: an IP literal (IPv6 without brackets)
  uint16_t port = 0;
  std::string path;  // Unix
  std::string text;  // as written: "inet:127.0.0.1:8891", "unix:/run/opendkim/opendkim.sock"
  bool operator==(const MilterEndpoint&) const = default;
};
// "inet:host:port" (host an IP literal, IPv6 in brackets) or "unix:/path"; Postfix's syntax.
Result<MilterEndpoint> parseMilterEndpoint(std::string_view text);

// A before-queue content filter (Postfix smtpd_proxy_filter, SMTPD_PROXY_README;
// docs/filters.md): every transaction of the listener is relayed to it as it arrives, and the
// filter hands the mail to another listener. The endpoint uses the milter syntax's kinds.
struct ProxyFilter {
  MilterEndpoint endpoint;  // "127.0.0.1:10025", "inet:127.0.0.1:10025" or "unix:/path"
  // smtpd_proxy_timeout: each wait for the filter (connect, each reply); Default: 100s
  uint64_t timeout = 100;
  // smtpd_proxy_ehlo: the name we give in EHLO to the filter; Default: empty = hostname
  std::string ehlo;
  bool operator==(const ProxyFilter&) const = default;
};
// "host:port" (an IP literal, IPv6 in brackets), "inet:host:port" or "unix:/path".
Result<MilterEndpoint> parseProxyFilterEndpoint(std::string_view text);
// "name:nexthop" as transport(5) writes it, split; nexthop may be empty ("dovecot:").
struct TransportRef {
  std::string name;
  std::string nexthop;
  bool operator==(const TransportRef&) const = default;
};

// Postfix receive_override_options of a listener (the reinjection listener of an after-queue
// content filter, docs/filters.md): what the mail it receives is spared.
struct ReceiveOverrides {
  bool no_header_body_checks = false;        // checks: are not run
  bool no_milters = false;                   // no milter sees it
  bool no_unknown_recipient_checks = false;  // unknown local recipients are taken at RCPT
  bool no_address_mappings = false;          // no canonical.recipient, no alias expansion
  bool operator==(const ReceiveOverrides&) const = default;
};

}  // namespace petrel::config
