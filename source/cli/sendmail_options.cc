// sendmail(1)'s command line; see sendmail_options.h.
#include "sendmail_options.h"

#include <fmt/format.h>

#include <cctype>
#include <string_view>

namespace petrel::cli {

namespace {

// Postfix's getopt string: "A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx" ("+": options end
// at the first operand, as on every system). -q's argument is optional here, as Postfix
// allows a bare -q.
constexpr std::string_view WithArgument = "ABCFLNORVXbefhopr";
constexpr std::string_view Flags = "GIUcimntvxq";

std::string upper(std::string s) {
  for (char& c : s) c = char(std::toupper((unsigned char)c));
  return s;
}

// -N: "never" or a comma list of success, delay, failure (RFC 3461 4.1).
bool parseNotify(const std::string& value, std::string& out) {
  std::string v = upper(value);
  bool never = false;
  bool other = false;
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    std::string item = v.substr(start, comma == std::string::npos ? std::string::npos
                                                                   : comma - start);
    if (item == "NEVER") {
      never = true;
    } else if (item == "SUCCESS" || item == "DELAY" || item == "FAILURE") {
      other = true;
    } else {
      return false;
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (never && other) return false;
  out = v;
  return true;
}

std::string stripBrackets(std::string s) {
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  return s;
}

}  // namespace

SendmailParse parseSendmailArgs(const std::vector<std::string>& args, const std::string& program) {
  SendmailParse out;
  SendmailOptions o;
  if (program == "mailq") o.mode = SendmailOptions::Mode::Mailq;
  if (program == "newaliases") o.mode = SendmailOptions::Mode::Newaliases;
  auto fail = [&out](std::string why) {
    out.error = std::move(why);
    return out;
  };
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') break;
    for (size_t k = 1; k < a.size(); ++k) {
      char c = a[k];
      std::string value;
      if (c == 'q') {
        // -q: flush the queue; -qINTERVAL, -qRsite, -qSsite: flush too (Postfix's meaning
        // without a daemon mode).
        o.mode = SendmailOptions::Mode::Flush;
        break;
      }
      if (WithArgument.find(c) != std::string_view::npos) {
        if (k + 1 < a.size()) {
          value = a.substr(k + 1);
        } else if (i + 1 < args.size()) {
          value = args[++i];
        } else {
          return fail(fmt::format("option requires an argument -- {}", c));
        }
        k = a.size();  // the rest of this word was the argument
      } else if (Flags.find(c) == std::string_view::npos) {
        return fail(fmt::format("illegal option -- {}", c));
      }
      switch (c) {
        case 't': o.extract_recipients = true; break;
        case 'i': o.ignore_dots = true; break;
        case 'v': o.verbose = true; break;
        case 'I': o.mode = SendmailOptions::Mode::Newaliases; break;
        case 'G': case 'U': case 'c': case 'm': case 'n': case 'x': break;  // as Postfix
        case 'f': case 'r': o.sender = stripBrackets(value); break;
        case 'F': o.full_name = value; break;
        case 'C': o.config_path = value; break;
        case 'V': o.envid = value; break;
        case 'N':
          if (!parseNotify(value, o.notify)) {
            return fail(fmt::format("bad -N option value: {}", value));
          }
          break;
        case 'R':
          o.ret = upper(value);
          if (o.ret != "FULL" && o.ret != "HDRS") {
            return fail(fmt::format("bad -R option value: {} (FULL or HDRS)", value));
          }
          break;
        case 'B':
          o.body_type = upper(value);
          if (o.body_type != "7BIT" && o.body_type != "8BITMIME") {
            return fail(fmt::format("-B option needs 8BITMIME or 7BIT, not {}", value));
          }
          break;
        case 'o':
          // -oi is -i; -o7, -o8, -om, -oem, -odi, -oQ... are Sendmail's and ignored.
          if (value == "i") o.ignore_dots = true;
          break;
        case 'b':
          if (value == "m") {
            o.mode = SendmailOptions::Mode::Deliver;
          } else if (value == "s") {
            o.mode = SendmailOptions::Mode::Smtp;
          } else if (value == "p") {
            o.mode = SendmailOptions::Mode::Mailq;
          } else if (value == "i") {
            o.mode = SendmailOptions::Mode::Newaliases;
          } else if (value == "d" || value == "D") {
            return fail("-bd: run `petrel serve` for the daemon");
          } else {
            return fail(fmt::format("-b{} is not supported", value));
          }
          break;
        default: break;  // -A -L -O -X -e -h -p: accepted and ignored, as Postfix does
      }
    }
  }
  for (; i < args.size(); ++i) o.recipients.push_back(args[i]);
  out.options = std::move(o);
  return out;
}

}  // namespace petrel::cli
