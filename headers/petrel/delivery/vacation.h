// Vacation replies (RFC 5230 `vacation`, and delivery.vacation's table-driven auto-reply for
// PostfixAdmin's `vacation` table) under RFC 3834's rules: whether a message gets a reply
// (decideVacation), the reply itself (composeVacationReply), the handle that keys the
// once-per-period memory (vacationHandle; the memory is vacation_store.h), and the table's
// answer turned into a vacation (vacationFromTable).
//
// Pure: no clock, no I/O; the caller passes the time, the Date and the Message-ID. The
// MaildirAgent (generated_mail.cc) asks these for each delivered recipient and queues the
// reply through the message injector (agent.h, RecipientReport::generated).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/content/header_section.h"
#include "petrel/sieve/interpreter.h"

namespace petrel::delivery {

struct VacationQuery {
  std::string_view sender;             // envelope sender, "" for <>
  std::string_view recipient;          // the user's address (envelope recipient)
  std::vector<std::string> addresses;  // :addresses, more of the user's addresses
  std::string_view recipient_delimiter;
  std::span<const content::HeaderField> fields;  // the message's header section
};

struct VacationDecision {
  bool reply = false;
  std::string why;  // when not: for the log ("sender is <>", "list mail (List-Id)", ...)
};

// RFC 3834 2 and RFC 5230 4.5/4.6, in order: no reply to <>; to MAILER-DAEMON, LISTSERV,
// majordomo, owner-* or *-request senders; to the user's own address; to a message with
// Auto-Submitted other than "no"; to list mail (any List-* field, Precedence bulk, list or
// junk); to a message whose To, Cc, Bcc, Resent-To, Resent-Cc and Resent-Bcc name neither
// the recipient (with or without its extension) nor one of `addresses`.
VacationDecision decideVacation(const VacationQuery& q);

struct VacationReplyInput {
  std::string_view sender;     // the original envelope sender: the reply's To and recipient
  std::string_view recipient;  // the user: the reply's From unless vacation.from is set
  const sieve::Vacation* vacation = nullptr;
  std::span<const content::HeaderField> fields;  // the original's header section
  std::string_view date;                         // RFC 5322 date of now
  std::string_view message_id;                   // "<...@host>"
};

// The reply in wire format (CRLF): From, To, Subject ("Auto: " and the original subject, or
// :subject), Date, Message-ID, In-Reply-To and References (RFC 3834 3.1.5), Auto-Submitted:
// auto-replied, MIME-Version, then a text/plain UTF-8 body of the reason, or with :mime the
// reason as the MIME entity it is. Header values have control characters removed and are
// bounded; a non-ASCII :subject is RFC 2047-encoded; long body lines are broken at 998.
std::string composeVacationReply(const VacationReplyInput& in);

// RFC 5230 4.2: the :handle, or one made from :subject, :from, :mime and the reason, so that a
// changed text starts a new period.
std::string vacationHandle(const sieve::Vacation& v);

// The table's answer for a recipient: the subject on the first line, the body after it
// (PostfixAdmin: `SELECT CONCAT(subject, '\n', body) ...`, docs/configuration.md). nullopt
// for an empty answer. The handle is made from the text, the period is `once_per`.
std::optional<sieve::Vacation> vacationFromTable(std::string_view value, uint64_t once_per);

}  // namespace petrel::delivery
