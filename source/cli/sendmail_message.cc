// The message work of `sendmail`; see sendmail_message.h.
#include "sendmail_message.h"

#include <fmt/format.h>

#include <ctime>

#include "petrel/core/strings.h"
#include "petrel/sieve/addresses.h"

namespace petrel::cli {

bool MessageInput::addLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!ignore_dots_ && line == ".") return false;
  wire_.append(line);
  wire_.append("\r\n");
  return true;
}

std::string qualify(const std::string& address, const std::string& origin) {
  if (address.empty() || address.find('@') != std::string::npos || origin.empty()) {
    return address;
  }
  return address + "@" + origin;
}

std::string fromFieldBody(const std::string& name, const std::string& address) {
  if (name.empty()) return address;
  bool special = false;
  for (char c : name) {
    if (std::string_view("()<>[]:;@\\,.\"").find(c) != std::string_view::npos) special = true;
  }
  std::string shown = name;
  if (special) {
    shown = "\"";
    for (char c : name) {
      if (c == '"' || c == '\\') shown += '\\';
      shown += c;
    }
    shown += "\"";
  }
  return fmt::format("{} <{}>", shown, address);
}

namespace {

struct Field {
  std::string name;
  std::string text;  // the whole field, CRLF line ends included
};

// A header field line starts with a name of printable characters but ':' and ' ', then ':'
// (RFC 5322 2.2).
bool startsField(std::string_view line) {
  size_t colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  for (char c : line.substr(0, colon)) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

bool isRecipientField(std::string_view name, bool resent) {
  std::string_view base = name;
  if (resent) {
    if (!istartsWith(name, "Resent-")) return false;
    base = name.substr(7);
  }
  return iequals(base, "To") || iequals(base, "Cc") || iequals(base, "Bcc");
}

}  // namespace

PreparedMessage prepareMessage(const std::string& wire, const PrepareContext& ctx) {
  // Split off the header section: fields up to the empty line, or up to the first line that
  // is neither a field nor a continuation (cleanup(8) then starts the body there).
  std::vector<Field> fields;
  size_t pos = 0;
  while (pos < wire.size()) {
    size_t eol = wire.find("\r\n", pos);
    size_t next = eol == std::string::npos ? wire.size() : eol + 2;
    std::string_view line(wire.data() + pos, (eol == std::string::npos ? wire.size() : eol) - pos);
    if (line.empty()) {
      pos = next;
      break;
    }
    bool continuation = (line[0] == ' ' || line[0] == '\t') && !fields.empty();
    if (continuation) {
      fields.back().text.append(wire, pos, next - pos);
    } else if (startsField(line)) {
      fields.push_back({std::string(line.substr(0, line.find(':'))),
                        wire.substr(pos, next - pos)});
    } else {
      break;
    }
    pos = next;
  }
  std::string body = wire.substr(pos);

  PreparedMessage out;
  bool has_from = false, has_date = false, has_id = false, resent = false;
  for (const Field& f : fields) {
    has_from = has_from || iequals(f.name, "From");
    has_date = has_date || iequals(f.name, "Date");
    has_id = has_id || iequals(f.name, "Message-ID");
    resent = resent || isRecipientField(f.name, true);
  }
  if (ctx.extract_recipients) {
    for (const Field& f : fields) {
      if (!isRecipientField(f.name, resent)) continue;
      std::string value = f.text.substr(f.name.size() + 1);
      for (const sieve::ParsedAddress& a : sieve::addressList(sieve::headerValue(value, false))) {
        if (a.all.empty() || a.all.find_first_of(" \t") != std::string::npos) continue;
        out.recipients.push_back(qualify(a.all, ctx.origin));
      }
    }
  }
  std::string header;
  for (const Field& f : fields) {
    if (iequals(f.name, "Bcc") || iequals(f.name, "Resent-Bcc")) continue;  // never shown
    header += f.text;
  }
  if (!header.empty() && !header.ends_with("\r\n")) header += "\r\n";
  if (!has_from) {
    std::string address = ctx.sender.empty() ? qualify("MAILER-DAEMON", ctx.origin) : ctx.sender;
    header += fmt::format("From: {}\r\n", fromFieldBody(ctx.full_name, address));
    out.added.push_back("From");
  }
  if (!has_date && !ctx.date.empty()) {
    header += fmt::format("Date: {}\r\n", ctx.date);
    out.added.push_back("Date");
  }
  if (!has_id) {
    char stamp[32];
    time_t t = time_t(ctx.now);
    struct tm tm {};
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
    header += fmt::format("Message-ID: <{}.{}@{}>\r\n", stamp, ctx.unique, ctx.origin);
    out.added.push_back("Message-ID");
  }
  out.content = header + "\r\n";
  // The empty line that ended the header is ours now; a body that started without one (no
  // header at all, or a line that is not a field) gets it too.
  out.content += body;
  return out;
}

}  // namespace petrel::cli
