// Non-delivery notifications: a minimal RFC 3464 multipart/report (human text, the
// message/delivery-status part, the original headers). Full DSN work (delay notices,
// RET=FULL bodies, SUCCESS notifications) comes with the outbound relay.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace petrel::queue {

struct FailedRecipient {
  std::string address;     // final address
  std::string orcpt;       // "rfc822;addr" from ORCPT, or empty
  std::string status;      // "5.1.1", "4.4.7"
  std::string diagnostic;  // why
};

struct BounceInput {
  std::string original_id;
  std::string original_sender;
  std::string envid;
  int64_t arrival_unix = 0;
  std::string hostname;
  std::string bounce_id;
  std::string date;  // RFC 5322 date of now
  std::vector<FailedRecipient> failed;
  std::string_view original_headers;  // header section of the original, CRLF lines
};

// The whole bounce message in wire format (CRLF line ends).
std::string composeBounce(const BounceInput& in);

// The header section of a wire-format message (up to, not including, the empty line).
std::string_view headerSection(std::string_view message);

}  // namespace petrel::queue
