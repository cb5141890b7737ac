// Maildrop records: a message handed over by `sendmail` (docs/sendmail.md) with its envelope,
// as one byte string. The same record goes over the local submission socket
// (<state_dir>/submit.sock) and, when the server cannot be reached, into a file of
// <state_dir>/maildrop/ that the server's pickup queues later (Postfix's postdrop + pickup).
//
//   PETREL-MAILDROP 1
//   sender: alice@example.org        (may be empty: the null sender)
//   recipient: bob@example.org       (one per recipient, at least one)
//   notify: SUCCESS,FAILURE          (optional: DSN NOTIFY of every recipient, -N)
//   ret: HDRS                        (optional: DSN RET, -R)
//   envid: x                         (optional: DSN ENVID, -V)
//   body: 8BITMIME                   (optional: -B)
//   size: 1234
//   <empty line>
//   <size octets: the message in wire format, CRLF line ends, no dot-stuffing>
//
// Pure: parsing and formatting here, writing the file durably is writeMaildropFile(). What a
// record does not hold is the submitter: the socket's peer credentials or the file's owner
// say who it is, never the record.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"

namespace petrel::queue {

struct MaildropRecord {
  std::string sender;
  std::vector<std::string> recipients;
  std::string notify;     // "" or a comma list of NEVER, SUCCESS, FAILURE, DELAY
  std::string ret;        // "", FULL or HDRS
  std::string envid;      // "" or printable US-ASCII
  std::string body_type;  // "", 7BIT or 8BITMIME
  std::string content;
};

constexpr std::string_view MaildropMagic = "PETREL-MAILDROP 1\n";

// The record as bytes. A permanent error when a field cannot be written (a CR, LF or NUL in
// an address or value, no recipient, a value outside its grammar).
Result<std::string> formatMaildrop(const MaildropRecord& record);

// Parses a whole record; a permanent error naming what is wrong when it is malformed or its
// content is not exactly `size` octets. `max_content`: a bigger size is refused (permanent).
Result<MaildropRecord> parseMaildrop(std::string_view bytes, uint64_t max_content);

// Writes `bytes` as a new file of `dir`: to ".tmp.NAME", fsync, rename to NAME, fsync the
// directory, so that a crash leaves either no file or the whole record under NAME. The file
// is created with mode 0644 (docs/sendmail.md says why). Returns NAME (unique: time, pid and
// random bits). Temporary errors.
Result<std::string> writeMaildropFile(const std::string& dir, std::string_view bytes);

// Is `name` a finished maildrop file (not a temporary one, not "." or "..")?
bool isMaildropName(std::string_view name);

}  // namespace petrel::queue
