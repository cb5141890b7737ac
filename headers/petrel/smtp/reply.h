// An SMTP reply: code, enhanced status code (RFC 3463) and text lines.
#pragma once

#include <string>
#include <vector>

namespace petrel::smtp {

struct Reply {
  int code = 250;
  std::string enhanced;            // "2.0.0"; empty for the greeting and HELO/EHLO replies
  std::vector<std::string> lines;  // at least one

  Reply() = default;
  Reply(int c, std::string e, std::string text) : code(c), enhanced(std::move(e)) {
    lines.push_back(std::move(text));
  }
  // "250-first\r\n250 last\r\n", each line carrying the enhanced code when there is one.
  std::string wire() const;
  // The reply on one line, for logs: "550 5.1.1 <x@y>: Recipient address rejected".
  std::string oneLine() const;
  bool positive() const { return code < 400; }
  bool temporary() const { return code >= 400 && code < 500; }
};

}  // namespace petrel::smtp
