// DATA transparency for the SMTP client (RFC 5321 4.5.2): smtp::DotStuffer doubles a leading
// dot on each line, fixes bare line endings to CRLF and ends the content with CRLF.CRLF;
// dotStuff() does the whole content at once. Declared in client_session.h; ClientSession's
// driver streams the message through it.
#include "petrel/smtp/client_session.h"

namespace petrel::smtp {

std::string DotStuffer::feed(std::string_view content) {
  std::string out;
  out.reserve(content.size() + content.size() / 64 + 4);
  size_t i = 0;
  if (pending_cr_ && !content.empty()) {
    // A CR ended the previous chunk: CRLF split across chunks, or a bare CR.
    pending_cr_ = false;
    out += "\r\n";
    line_start_ = true;
    if (content[0] == '\n') i = 1;
  }
  for (; i < content.size(); ++i) {
    char c = content[i];
    if (c == '\r') {
      if (i + 1 == content.size()) {
        pending_cr_ = true;
        break;
      }
      out += "\r\n";
      line_start_ = true;
      if (content[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";  // a bare LF: sent as a line ending the next hop cannot mistake
      line_start_ = true;
    } else {
      if (line_start_ && c == '.') out += '.';  // RFC 5321 4.5.2
      out += c;
      line_start_ = false;
    }
  }
  return out;
}

std::string DotStuffer::finish() {
  std::string out;
  if (pending_cr_) {
    out += "\r\n";
    pending_cr_ = false;
    line_start_ = true;
  }
  if (!line_start_) out += "\r\n";
  out += ".\r\n";
  line_start_ = true;
  return out;
}

std::string dotStuff(std::string_view content) {
  DotStuffer s;
  std::string out = s.feed(content);
  out += s.finish();
  return out;
}

}  // namespace petrel::smtp
