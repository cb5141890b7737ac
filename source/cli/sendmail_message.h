// What `sendmail` does to the message before it hands it over, without I/O: the input read
// line by line into wire format (a lone "." ends it unless -i), then Postfix's cleanup(8)
// work for local submissions: -t's recipients from To/Cc/Bcc (Resent-To/Cc/Bcc when the
// message has Resent- recipient fields), Bcc fields removed, From:, Date: and Message-ID:
// added when missing. Private to source/cli/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::cli {

// Collects standard input; each line without its LF (a CR before it is dropped too).
class MessageInput {
 public:
  explicit MessageInput(bool ignore_dots) : ignore_dots_(ignore_dots) {}
  // false: the line was the lone "." that ends the message (it is not added).
  bool addLine(std::string_view line);
  // The last line had no LF: it is still a line (Postfix ends it as one).
  const std::string& wire() const { return wire_; }
  size_t size() const { return wire_.size(); }

 private:
  bool ignore_dots_;
  std::string wire_;  // CRLF line ends
};

struct PrepareContext {
  bool extract_recipients = false;
  std::string sender;     // the envelope sender ("" null sender), for a missing From:
  std::string full_name;  // -F, else the user's name; "" none
  std::string origin;     // the domain for unqualified addresses and Message-ID
  int64_t now = 0;        // unix time, for Date: and Message-ID:
  std::string unique;     // makes the Message-ID unique (pid, random bits)
  std::string date;       // the Date: value (rfc5322Date(now)); empty: none added
};

struct PreparedMessage {
  std::string content;                  // wire format
  std::vector<std::string> recipients;  // from the header (-t), qualified
  std::vector<std::string> added;       // names of the fields added, in order
};

PreparedMessage prepareMessage(const std::string& wire, const PrepareContext& ctx);

// `address` with "@origin" when it has no domain ("root" -> "root@host.example").
std::string qualify(const std::string& address, const std::string& origin);

// The From: field body for `address` with the display name `name` (quoted when it has
// specials, RFC 5322 3.4).
std::string fromFieldBody(const std::string& name, const std::string& address);

}  // namespace petrel::cli
