// Bounce composition; see bounce.h.
#include "petrel/queue/bounce.h"

#include <fmt/format.h>

#include "petrel/core/strings.h"

namespace petrel::queue {

std::string_view headerSection(std::string_view message) {
  size_t end = message.find("\r\n\r\n");
  if (end == std::string_view::npos) return message;
  return message.substr(0, end + 2);
}

std::string composeBounce(const BounceInput& in) {
  std::string boundary = fmt::format("{}.{}/{}", in.bounce_id, in.arrival_unix, in.hostname);
  std::string out;
  auto add = [&out](std::string_view line) {
    out.append(line);
    out.append("\r\n");
  };
  add(fmt::format("From: MAILER-DAEMON@{} (Mail Delivery System)", in.hostname));
  add(fmt::format("To: <{}>", in.original_sender));
  add(in.delayed ? "Subject: Delayed Mail (still being retried)"
                 : "Subject: Undelivered Mail Returned to Sender");
  add(fmt::format("Date: {}", in.date));
  add(fmt::format("Message-Id: <{}@{}>", in.bounce_id, in.hostname));
  add("Auto-Submitted: auto-replied");
  add("MIME-Version: 1.0");
  add(fmt::format("Content-Type: multipart/report; report-type=delivery-status;\r\n"
                  "\tboundary=\"{}\"",
                  boundary));
  add("");
  add("This is a MIME-encapsulated message.");
  add("");
  add(fmt::format("--{}", boundary));
  add("Content-Description: Notification");
  add("Content-Type: text/plain; charset=us-ascii");
  add("");
  add(fmt::format("This is the mail system at host {}.", in.hostname));
  add("");
  if (in.delayed) {
    add("####################################################################");
    add("# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #");
    add("####################################################################");
    add("");
    add("Your message could not be delivered yet to one or more recipients.");
    add(fmt::format("Delivery will be retried until {}.", rfc5322Date(in.retry_until_unix)));
  } else {
    add("I'm sorry to have to inform you that your message could not");
    add("be delivered to one or more recipients. It's attached below.");
  }
  add("");
  for (const auto& f : in.failed) add(fmt::format("<{}>: {}", f.address, f.diagnostic));
  add("");
  add(fmt::format("--{}", boundary));
  add("Content-Description: Delivery report");
  add("Content-Type: message/delivery-status");
  add("");
  add(fmt::format("Reporting-MTA: dns; {}", in.hostname));
  add(fmt::format("X-Petrel-Queue-ID: {}", in.original_id));
  if (!in.envid.empty()) add(fmt::format("Original-Envelope-Id: {}", in.envid));
  if (in.original_sender.empty()) {
    add("X-Petrel-Sender: rfc822;");
  } else {
    add(fmt::format("X-Petrel-Sender: rfc822; {}", in.original_sender));
  }
  add(fmt::format("Arrival-Date: {}", rfc5322Date(in.arrival_unix)));
  for (const auto& f : in.failed) {
    add("");
    add(fmt::format("Final-Recipient: rfc822; {}", f.address));
    if (!f.orcpt.empty()) add(fmt::format("Original-Recipient: {}", f.orcpt));
    add(in.delayed ? "Action: delayed" : "Action: failed");
    add(fmt::format("Status: {}", f.status));
    if (!f.remote_mta.empty()) add(fmt::format("Remote-MTA: dns; {}", f.remote_mta));
    if (!f.diagnostic_code.empty()) {
      add(fmt::format("Diagnostic-Code: smtp; {}", f.diagnostic_code));
    } else {
      add(fmt::format("Diagnostic-Code: X-Petrel; {}", f.diagnostic));
    }
    if (in.delayed) add(fmt::format("Will-Retry-Until: {}", rfc5322Date(in.retry_until_unix)));
  }
  add("");
  add(fmt::format("--{}", boundary));
  bool full = !in.delayed && in.return_full && in.original.size() <= MaxReturnedContent &&
              in.original.find("\r\n\r\n") != std::string_view::npos;
  if (full) {
    add("Content-Description: Undelivered Message");
    add("Content-Type: message/rfc822");
    add("");
    out.append(in.original);
    if (!in.original.ends_with("\r\n")) add("");
  } else {
    add("Content-Description: Undelivered Message Headers");
    add("Content-Type: text/rfc822-headers");
    add("");
    out.append(headerSection(in.original));
  }
  add("");
  add(fmt::format("--{}--", boundary));
  return out;
}

}  // namespace petrel::queue
