// `sendmail -bs`; see sendmail_smtp.h.
#include "sendmail_smtp.h"

#include <fmt/format.h>

#include "petrel/core/strings.h"

namespace petrel::cli {

bool pathArgument(std::string_view arg, std::string& address) {
  arg = trim(arg);
  if (arg.empty() || arg[0] != '<') return false;
  size_t close = arg.find('>');
  if (close == std::string_view::npos) return false;
  std::string_view inner = arg.substr(1, close - 1);
  // A source route "<@a,@b:user@d>" (RFC 5321 4.1.2) is not part of the address.
  if (!inner.empty() && inner[0] == '@') {
    size_t colon = inner.find(':');
    if (colon == std::string_view::npos) return false;
    inner.remove_prefix(colon + 1);
  }
  if (hasControlCharacter(inner)) return false;
  address = std::string(inner);
  return true;
}

LocalSmtpDialog::LocalSmtpDialog(std::string hostname, uint64_t max_size, Deliver deliver)
    : hostname_(std::move(hostname)), max_size_(max_size), deliver_(std::move(deliver)) {}

std::string LocalSmtpDialog::greeting() const {
  return fmt::format("220 {} ESMTP Petrel (sendmail -bs)\r\n", hostname_);
}

std::string LocalSmtpDialog::onLine(std::string_view line) {
  if (finished_) return {};
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!in_data_) return command(line);
  if (line == ".") {
    in_data_ = false;
    std::string reply;
    if (too_big_) {
      reply = "552 5.3.4 Message size exceeds fixed limit\r\n";
    } else {
      Message m{*sender_, std::move(recipients_), std::move(data_)};
      reply = deliver_(std::move(m));
    }
    sender_.reset();
    recipients_.clear();
    data_.clear();
    too_big_ = false;
    return reply;
  }
  if (line.starts_with('.')) line.remove_prefix(1);  // RFC 5321 4.5.2
  if (data_.size() + line.size() + 2 > max_size_) {
    too_big_ = true;
    data_.clear();
  } else if (!too_big_) {
    data_.append(line);
    data_.append("\r\n");
  }
  return {};
}

std::string LocalSmtpDialog::command(std::string_view line) {
  size_t sp = line.find(' ');
  std::string verb = toLower(line.substr(0, sp));
  std::string_view rest = sp == std::string_view::npos ? "" : line.substr(sp + 1);
  if (verb == "quit") {
    finished_ = true;
    return fmt::format("221 2.0.0 {} closing\r\n", hostname_);
  }
  if (verb == "noop") return "250 2.0.0 Ok\r\n";
  if (verb == "rset") {
    sender_.reset();
    recipients_.clear();
    return "250 2.0.0 Ok\r\n";
  }
  if (verb == "vrfy") return "252 2.0.0 Send some mail, I'll try my best\r\n";
  if (verb == "helo" || verb == "ehlo") {
    if (trim(rest).empty()) return fmt::format("501 5.5.4 Syntax: {} hostname\r\n", verb);
    greeted_ = true;
    sender_.reset();
    recipients_.clear();
    if (verb == "helo") return fmt::format("250 {}\r\n", hostname_);
    return fmt::format("250-{}\r\n250-PIPELINING\r\n250-SIZE {}\r\n250-8BITMIME\r\n"
                       "250 ENHANCEDSTATUSCODES\r\n",
                       hostname_, max_size_);
  }
  if (verb == "mail") {
    if (!greeted_) return "503 5.5.1 Error: send HELO/EHLO first\r\n";
    if (sender_) return "503 5.5.1 Error: nested MAIL command\r\n";
    std::string address;
    if (!istartsWith(rest, "FROM:") || !pathArgument(rest.substr(5), address)) {
      return "501 5.5.4 Syntax: MAIL FROM:<address>\r\n";
    }
    sender_ = address;
    return "250 2.1.0 Ok\r\n";
  }
  if (verb == "rcpt") {
    if (!sender_) return "503 5.5.1 Error: need MAIL command\r\n";
    std::string address;
    if (!istartsWith(rest, "TO:") || !pathArgument(rest.substr(3), address) || address.empty()) {
      return "501 5.5.4 Syntax: RCPT TO:<address>\r\n";
    }
    recipients_.push_back(address);
    return "250 2.1.5 Ok\r\n";
  }
  if (verb == "data") {
    if (!sender_) return "503 5.5.1 Error: need MAIL command\r\n";
    if (recipients_.empty()) return "554 5.5.1 Error: no valid recipients\r\n";
    in_data_ = true;
    return "354 End data with <CR><LF>.<CR><LF>\r\n";
  }
  return "502 5.5.2 Error: command not recognized\r\n";
}

}  // namespace petrel::cli
