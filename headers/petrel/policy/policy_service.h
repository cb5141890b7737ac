// The Postfix policy delegation protocol (SMTPD_POLICY_README), the pure half of
// check_policy_service: where a service is (ServiceEndpoint), how the client behaves towards it
// (PolicyServiceSettings, Postfix's smtpd_policy_service_* parameters), the request a context
// makes ("name=value\n" lines and an empty line) and the reply's action ("action=...\n\n").
//
// The transport is not here: PolicyServiceClient is the interface a loop implements (sockets,
// connection reuse, timeouts, retries; source/server/policy_client.cc), reachable from
// PolicyContext::policy_client, so a check never sees a socket and tests use a fake.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "petrel/core/result.h"
#include "petrel/policy/check.h"

namespace petrel::policy {

// "inet:HOST:PORT" (HOST an IP literal, "[v6]" or "localhost") or "unix:PATH".
struct ServiceEndpoint {
  enum class Kind : uint8_t { Inet, Unix };
  Kind kind = Kind::Inet;
  std::string host;  // Inet: an IP literal (IPv6 without brackets)
  uint16_t port = 0;
  std::string path;              // Unix
  std::string toString() const;  // "inet:127.0.0.1:10023", "inet:[::1]:10023", "unix:/x"
  bool operator==(const ServiceEndpoint&) const = default;
};
Result<ServiceEndpoint> parseServiceEndpoint(std::string_view text);

// How the client treats a service; Postfix's smtpd_policy_service_* names and defaults.
struct PolicyServiceSettings {
  uint64_t timeout_ms = 100'000;    // per try: connect, write and read. Default: 100s
  uint64_t max_idle_ms = 300'000;   // an unused connection is closed after. Default: 300s
  uint64_t max_ttl_ms = 1'000'000;  // a connection is not reused after. Default: 1000s
  uint32_t try_limit = 2;           // tries per request, each on a fresh connection. Default: 2
  uint64_t retry_delay_ms = 1'000;  // between tries. Default: 1s
  uint32_t request_limit = 0;       // requests per connection, 0 = no limit. Default: 0
  // The access(5) action when the service cannot be asked or answers nonsense.
  std::string default_action = "451 4.3.5 Server configuration problem";
  std::string policy_context;  // sent as policy_context=. Default: empty
  bool operator==(const PolicyServiceSettings&) const = default;
};

// The argument of check_policy_service: "inet:127.0.0.1:10023", or Postfix 3's form with
// per-check overrides "{ inet:127.0.0.1:10023, timeout=10s, default_action=DUNNO }" (keys
// timeout, max_idle, max_ttl, try_limit, retry_delay, request_limit, default_action,
// policy_context; durations as 10s, 5m, 1h or plain seconds). Config errors name the problem.
struct PolicyServiceSpec {
  ServiceEndpoint endpoint;
  PolicyServiceSettings settings;
};
Result<PolicyServiceSpec> parsePolicyServiceArgument(std::string_view argument,
                                                     const PolicyServiceSettings& defaults);

// Postfix's protocol_state for a restriction stage when the SMTP command is not known (the
// client list at CONNECT, helo at EHLO ...).
std::string_view defaultProtocolState(Stage stage);

// The request for `ctx`: every attribute Postfix sends (in its order), those Petrel does not
// know with an empty value. Values are cleaned: a control character (a newline would start a
// new attribute) becomes '?'; each value is cut at MaxAttributeValue octets.
constexpr size_t MaxAttributeValue = 1024;
std::string encodePolicyRequest(const PolicyContext& ctx, Stage stage,
                                std::string_view policy_context);

// The end of a reply in `received` (one past the empty line that ends it), or npos while it is
// incomplete. A reply longer than MaxPolicyReply is an error for the transport.
constexpr size_t MaxPolicyReply = 8192;
size_t policyReplyEnd(std::string_view received);

// The action of a complete reply ("action=DUNNO\n\n" -> "DUNNO"); other attributes are
// ignored as Postfix does. Errors (temporary): no action attribute, an empty one, a line
// without '='.
Result<std::string> parsePolicyReply(std::string_view reply);

// The transport: one per loop. request() sends `request` to the service and answers `done`
// exactly once, on the caller's loop and never inside request(): the reply up to and including
// its empty line, or a temporary error (connection refused, timeout, closed, too long) once
// settings.try_limit tries failed. Implementations reuse connections per endpoint.
class PolicyServiceClient {
 public:
  using Done = std::function<void(Result<std::string>)>;
  virtual ~PolicyServiceClient() = default;
  virtual void request(const ServiceEndpoint& endpoint, const PolicyServiceSettings& settings,
                       std::string request, Done done) = 0;
};

}  // namespace petrel::policy
