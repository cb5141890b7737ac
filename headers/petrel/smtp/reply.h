// An SMTP reply: code, enhanced status code (RFC 3463) and text lines.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
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

// Reads a peer's replies (RFC 5321 4.2: Reply-code [ ("-" / SP) textstring ]) from its bytes,
// split anywhere, for every client of ours (ClientSession, ProxyClient). A line over 4 KiB or
// a reply over 128 lines is a protocol error (RFC 5321 4.5.3.1.5 says 512 octets; real
// servers send longer lines), so at most one line and one reply are buffered. Reply text is
// sanitized (no control characters: it goes into log lines and bounces); a leading enhanced
// status code of the reply's class (RFC 3463) becomes Reply::enhanced.
class ReplyReader {
 public:
  void feed(std::string_view bytes) { in_.append(bytes); }
  // The next complete reply, or nullopt: more input needed, or error() is set (the peer broke
  // the grammar; nothing more is read).
  std::optional<Reply> next();
  const std::optional<std::string>& error() const { return error_; }
  // Octets received and not yet part of a returned reply's last line.
  size_t buffered() const { return in_.size(); }
  void clear() { in_.clear(); }

 private:
  bool takeLine(std::string_view line);  // false: error_ set

  std::string in_;
  Reply partial_;  // lines of a multi-line reply so far
  bool in_reply_ = false;
  std::optional<Reply> complete_;
  std::optional<std::string> error_;
};

// Reply (or peer) text for logs and bounces: tabs become spaces, other control characters '?'.
std::string sanitizeReplyText(std::string_view s);

}  // namespace petrel::smtp
