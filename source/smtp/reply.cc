// Reply serialization, and reading replies from a peer (ReplyReader).
#include "petrel/smtp/reply.h"

#include <fmt/format.h>

namespace petrel::smtp {

std::string Reply::wire() const {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    char sep = i + 1 < lines.size() ? '-' : ' ';
    if (enhanced.empty()) {
      fmt::format_to(std::back_inserter(out), "{}{}{}\r\n", code, sep, lines[i]);
    } else {
      fmt::format_to(std::back_inserter(out), "{}{}{} {}\r\n", code, sep, enhanced, lines[i]);
    }
  }
  if (lines.empty()) fmt::format_to(std::back_inserter(out), "{} {}\r\n", code, enhanced);
  return out;
}

std::string Reply::oneLine() const {
  std::string text;
  for (const auto& l : lines) {
    if (!text.empty()) text += ' ';
    text += l;
  }
  return enhanced.empty() ? fmt::format("{} {}", code, text)
                          : fmt::format("{} {} {}", code, enhanced, text);
}

namespace {

constexpr size_t MaxReplyLine = 4096;
constexpr size_t MaxReplyLines = 128;

// "5.1.1" at the start of reply text whose class matches the reply code (RFC 3463, RFC 2034:
// status-code = class "." subject "." detail, subject and detail 1 to 3 digits).
size_t enhancedPrefix(std::string_view text, int code_class) {
  if (text.size() < 5 || text[0] != char('0' + code_class) || text[1] != '.') return 0;
  size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    size_t start = i;
    while (i < text.size() && i - start < 4 && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == start || i - start > 3) return 0;
    if (part == 0) {
      if (i >= text.size() || text[i] != '.') return 0;
      ++i;
    }
  }
  if (i < text.size() && text[i] != ' ') return 0;
  return i;
}

}  // namespace

std::string sanitizeReplyText(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\t') {
      c = ' ';
    } else if ((unsigned char)c < 0x20 || c == 0x7f) {
      c = '?';
    }
  }
  return out;
}

std::optional<Reply> ReplyReader::next() {
  while (!error_ && !complete_) {
    size_t nl = in_.find('\n');
    // Measured up to the LF (a CR before it counts), so any split of the input gives the same
    // verdict as the whole.
    if ((nl == std::string::npos && in_.size() > MaxReplyLine) ||
        (nl != std::string::npos && nl > MaxReplyLine)) {
      error_ = "reply line too long";
      break;
    }
    if (nl == std::string::npos) break;
    std::string line = in_.substr(0, nl);
    in_.erase(0, nl + 1);
    // A bare LF ends a reply line too (robustness: we only read what the peer says).
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!takeLine(line)) break;
  }
  if (error_) {
    in_.clear();
    return std::nullopt;
  }
  std::optional<Reply> r = std::move(complete_);
  complete_.reset();
  return r;
}

bool ReplyReader::takeLine(std::string_view line) {
  // The first digit 2..5 (no 1yz in SMTP).
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (line.size() < 3 || !digit(line[0]) || !digit(line[1]) || !digit(line[2]) ||
      line[0] < '2' || line[0] > '5' || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
    error_ = fmt::format("malformed reply line: {}", sanitizeReplyText(line.substr(0, 100)));
    return false;
  }
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  bool last = line.size() == 3 || line[3] == ' ';
  std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view();
  if (in_reply_ && code != partial_.code) {
    error_ = "reply code changes within a multi-line reply";
    return false;
  }
  if (!in_reply_) {
    partial_ = Reply();
    partial_.code = code;
    in_reply_ = true;
  }
  if (partial_.lines.size() >= MaxReplyLines) {
    error_ = "reply with too many lines";
    return false;
  }
  if (size_t n = enhancedPrefix(text, code / 100); n > 0) {
    if (partial_.enhanced.empty()) partial_.enhanced = std::string(text.substr(0, n));
    text.remove_prefix(n);
    if (!text.empty()) text.remove_prefix(1);
  }
  partial_.lines.push_back(sanitizeReplyText(text));
  if (last) {
    in_reply_ = false;
    complete_ = std::move(partial_);
    partial_ = Reply();
  }
  return true;
}

}  // namespace petrel::smtp
