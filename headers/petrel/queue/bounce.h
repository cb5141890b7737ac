// Non-delivery notifications: an RFC 3464 multipart/report (human text, the
// message/delivery-status part, then the original headers, or the whole original message when
// the sender asked for RET=FULL and it is not over MaxReturnedContent). The same report with
// Action: delayed is the delay warning (queue.delay_warning). SUCCESS notifications are not
// composed (docs/relay.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace petrel::queue {

struct FailedRecipient {
  std::string address;     // final address
  std::string orcpt;       // "rfc822;addr" from ORCPT, or empty
  std::string status;      // "5.1.1", "4.4.7"
  std::string diagnostic;  // why, in our words (the log's text)
  std::string remote_mta;       // the host that refused it, when one did ("mx.example.net")
  std::string diagnostic_code;  // that host's reply ("550 5.1.1 <x@y>: User unknown")
};

// RET=FULL returns messages up to this size whole; bigger ones get their headers only
// (Postfix's bounce_size_limit plays the same part).
inline constexpr size_t MaxReturnedContent = 256 * 1024;

struct BounceInput {
  std::string original_id;
  std::string original_sender;
  std::string envid;
  int64_t arrival_unix = 0;
  std::string hostname;
  std::string bounce_id;
  std::string date;  // RFC 5322 date of now
  std::vector<FailedRecipient> failed;
  // The original message (CRLF lines), or at least its header section.
  std::string_view original;
  bool return_full = false;  // RET=FULL: attach `original` whole when it fits
  // A delay warning instead of a failure report: Action: delayed, headers only, and the
  // time until which delivery goes on (RFC 3464 2.3.7 Will-Retry-Until).
  bool delayed = false;
  int64_t retry_until_unix = 0;
};

// The whole bounce message in wire format (CRLF line ends).
std::string composeBounce(const BounceInput& in);

// The header section of a wire-format message (up to, not including, the empty line).
std::string_view headerSection(std::string_view message);

}  // namespace petrel::queue
