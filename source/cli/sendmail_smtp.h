// `sendmail -bs`: SMTP on standard input and output, as Postfix runs smtpd(8) stand-alone for
// it. The dialog is pure (lines in, reply text out); every accepted message goes to `deliver`,
// which submits it as `sendmail` would and returns the final reply. It is the small SMTP
// a local program needs (HELO/EHLO, MAIL, RCPT, DATA, RSET, NOOP, VRFY, QUIT; PIPELINING
// works since replies are in order), not the server's session: no AUTH, TLS, BDAT or
// restriction lists, the user is trusted as a local one is. Private to source/cli/.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::cli {

class LocalSmtpDialog {
 public:
  struct Message {
    std::string sender;
    std::vector<std::string> recipients;
    std::string content;  // wire format, dot-unstuffed
  };
  // Returns the reply to the end of data ("250 2.0.0 Ok: queued as X\r\n").
  using Deliver = std::function<std::string(Message&&)>;

  LocalSmtpDialog(std::string hostname, uint64_t max_size, Deliver deliver);
  std::string greeting() const;
  // One line from the client without its CRLF; the replies to send (maybe none).
  std::string onLine(std::string_view line);
  bool finished() const { return finished_; }

 private:
  std::string command(std::string_view line);
  std::string hostname_;
  uint64_t max_size_;
  Deliver deliver_;
  bool greeted_ = false;
  bool in_data_ = false;
  bool too_big_ = false;
  bool finished_ = false;
  std::optional<std::string> sender_;
  std::vector<std::string> recipients_;
  std::string data_;
};

// The address inside "<...>" of a MAIL FROM:/RCPT TO: argument (parameters after it are
// ignored); false when there is none.
bool pathArgument(std::string_view arg, std::string& address);

}  // namespace petrel::cli
