// Bounce composition; see bounce.h.
#include "petrel/queue/bounce.h"

#include <fmt/format.h>
#include <time.h>

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
  add("Subject: Undelivered Mail Returned to Sender");
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
  add("I'm sorry to have to inform you that your message could not");
  add("be delivered to one or more recipients. It's attached below.");
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
  time_t arrival = time_t(in.arrival_unix);
  struct tm tm;
  localtime_r(&arrival, &tm);
  char date[64];
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
  add(fmt::format("Arrival-Date: {}", date));
  for (const auto& f : in.failed) {
    add("");
    add(fmt::format("Final-Recipient: rfc822; {}", f.address));
    if (!f.orcpt.empty()) add(fmt::format("Original-Recipient: {}", f.orcpt));
    add("Action: failed");
    add(fmt::format("Status: {}", f.status));
    if (!f.remote_mta.empty()) add(fmt::format("Remote-MTA: dns; {}", f.remote_mta));
    if (!f.diagnostic_code.empty()) {
      add(fmt::format("Diagnostic-Code: smtp; {}", f.diagnostic_code));
    } else {
      add(fmt::format("Diagnostic-Code: X-Petrel; {}", f.diagnostic));
    }
  }
  add("");
  add(fmt::format("--{}", boundary));
  bool full = in.return_full && in.original.size() <= MaxReturnedContent &&
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
