// The command line of `sendmail` (and `mailq`, `newaliases`) as Postfix's sendmail(1) reads
// it, parsed without side effects so that tests can check every caller's flags (PHP's
// `-t -i`, cron's `-FCronDaemon -i -B8BITMIME -oem`, mutt's `-oem -oi --`, git send-email's
// `-i -f sender rcpt...`). Private to source/cli/.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace petrel::cli {

struct SendmailOptions {
  enum class Mode { Deliver, Smtp, Mailq, Newaliases, Flush };
  Mode mode = Mode::Deliver;
  bool extract_recipients = false;  // -t
  bool ignore_dots = false;         // -i, -oi: a lone "." does not end the message
  std::optional<std::string> sender;  // -f, -r (an empty one, -f '<>', is the null sender)
  std::optional<std::string> full_name;  // -F
  std::string notify;     // -N (upper case; "NEVER" for "never")
  std::string ret;        // -R: FULL or HDRS
  std::string envid;      // -V
  std::string body_type;  // -B: 7BIT or 8BITMIME
  std::string config_path;  // -C FILE (Postfix: the configuration directory)
  bool verbose = false;     // -v
  std::vector<std::string> recipients;  // the operands
  std::vector<std::string> warnings;  // options accepted and ignored that say so
};

struct SendmailParse {
  std::optional<SendmailOptions> options;  // nullopt: usage error, see `error`
  std::string error;
};

// `args` without argv[0]; `program` is argv[0]'s last path component: "mailq" is -bp,
// "newaliases" -bi, anything else sendmail.
SendmailParse parseSendmailArgs(const std::vector<std::string>& args, const std::string& program);

}  // namespace petrel::cli
