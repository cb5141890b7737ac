// Header section collection and splitting; see header_section.h.
#include "petrel/content/header_section.h"

namespace petrel::content {

namespace {

// RFC 5322 2.2: a field name is printable US-ASCII except ':'; it is followed by ':'.
size_t fieldNameLength(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && line[i] > 32 && line[i] < 127 && line[i] != ':') ++i;
  return (i > 0 && i < line.size() && line[i] == ':') ? i : 0;
}

}  // namespace

std::string_view HeaderField::value() const {
  std::string_view v(raw);
  v.remove_prefix(std::min(v.size(), name.size() + 1));
  if (v.ends_with("\r\n")) v.remove_suffix(2);
  return v;
}

size_t HeaderSection::feed(std::string_view bytes) {
  if (complete_) return 0;
  size_t taken = 0;
  while (taken < bytes.size()) {
    // Line by line, so the end is found without searching the buffer again.
    size_t nl = bytes.find('\n', taken);
    size_t end = nl == std::string_view::npos ? bytes.size() : nl + 1;
    if (buffer_.size() + (end - taken) > max_bytes_) {
      truncated_ = true;
      split();
      return taken;
    }
    size_t line_start = buffer_.size() - partial_;
    buffer_.append(bytes.substr(taken, end - taken));
    taken = end;
    if (nl == std::string_view::npos) {
      partial_ = buffer_.size() - line_start;
      break;
    }
    partial_ = 0;
    std::string_view line = std::string_view(buffer_).substr(line_start);
    // The empty line ends the section, and so does a line that is neither a field nor a
    // continuation (content lines end in CRLF: the session checks that).
    bool continuation = (line[0] == ' ' || line[0] == '\t') && line_start > 0;
    if (line == "\r\n" || (!continuation && fieldNameLength(line) == 0)) {
      split();
      return taken;
    }
  }
  return taken;
}

void HeaderSection::end() {
  if (!complete_) split();
}

void HeaderSection::split() {
  complete_ = true;
  std::string_view all(buffer_);
  size_t pos = 0;
  while (pos < all.size()) {
    size_t nl = all.find('\n', pos);
    size_t end = nl == std::string_view::npos ? all.size() : nl + 1;
    std::string_view line = all.substr(pos, end - pos);
    if (!line.ends_with("\n")) break;  // cut by the limit or the end of the message
    if ((line[0] == ' ' || line[0] == '\t') && !fields_.empty()) {
      fields_.back().raw.append(line);  // RFC 5322 2.2.3 folding
    } else if (size_t n = fieldNameLength(line); n > 0) {
      fields_.push_back(HeaderField{std::string(line.substr(0, n)), std::string(line)});
    } else {
      break;  // the empty line, or a line that starts the body
    }
    pos = end;
  }
  rest_ = std::string(all.substr(pos));
  buffer_.clear();
  buffer_.shrink_to_fit();
}

}  // namespace petrel::content
