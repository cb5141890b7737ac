// The streaming MIME structure parser; see mime_parser.h. Self-contained (only the standard
// library), so that the content fuzz targets build it without the rest of the tree.
#include "petrel/content/mime_parser.h"

#include <algorithm>
#include <cstdint>

namespace petrel::content {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool istartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequal(s.substr(0, prefix.size()), prefix);
}

bool isBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view trimBlanks(std::string_view s) {
  while (!s.empty() && (isBlank(s.front()) || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (isBlank(s.back()) || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// RFC 5322 2.2: a field name is printable US-ASCII but ':'; Postfix (is_header) also allows
// blanks between the name and the colon.
size_t fieldNameLength(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && static_cast<unsigned char>(line[i]) > 32 &&
         static_cast<unsigned char>(line[i]) < 127 && line[i] != ':') {
    ++i;
  }
  if (i == 0) return 0;
  size_t name = i;
  while (i < line.size() && isBlank(line[i])) ++i;
  return i < line.size() && line[i] == ':' ? name : 0;
}

// Postfix's header_opts HDR_OPT_MIME fields.
bool isMimeField(std::string_view name) {
  return istartsWith(name, "Content-") || iequal(name, "MIME-Version");
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool decodeBase64(std::string_view in, std::string& out) {
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = base64Value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return true;
}

bool decodeQ(std::string_view in, std::string& out) {
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '_') {
      out += ' ';
    } else if (in[i] == '=') {
      if (i + 2 >= in.size()) return false;
      int hi = hexValue(in[i + 1]);
      int lo = hexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += in[i];
    }
  }
  return true;
}

// One encoded word at `pos` ("=?charset?X?text?="): its decoded octets and the position
// after it, or false.
bool encodedWord(std::string_view text, size_t pos, std::string& decoded, size_t& end) {
  size_t q1 = text.find('?', pos + 2);
  if (q1 == std::string_view::npos || q1 == pos + 2 || q1 + 2 >= text.size()) return false;
  std::string_view charset = text.substr(pos + 2, q1 - pos - 2);
  if (charset.find_first_of(" \t\r\n") != std::string_view::npos) return false;
  char encoding = lower(text[q1 + 1]);
  if ((encoding != 'b' && encoding != 'q') || text[q1 + 2] != '?') return false;
  size_t close = text.find("?=", q1 + 3);
  if (close == std::string_view::npos) return false;
  std::string_view payload = text.substr(q1 + 3, close - q1 - 3);
  if (payload.find_first_of(" \t\r\n") != std::string_view::npos) return false;
  decoded.clear();
  if (!(encoding == 'b' ? decodeBase64(payload, decoded) : decodeQ(payload, decoded))) {
    return false;
  }
  end = close + 2;
  return true;
}

}  // namespace

std::string_view mimeEventKindName(MimeEvent::Kind kind) {
  switch (kind) {
    case MimeEvent::Kind::MessageHeader:
      return "header";
    case MimeEvent::Kind::MimeHeader:
      return "mime";
    case MimeEvent::Kind::NestedHeader:
      return "nested";
    case MimeEvent::Kind::BodyLine:
      return "body";
  }
  return "body";
}

std::string decodeEncodedWords(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool after_word = false;  // only blanks since the last encoded word
  size_t word_end = 0;      // out.size() right after it
  std::string word;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = 0;
    if (text[i] == '=' && i + 1 < text.size() && text[i + 1] == '?' &&
        encodedWord(text, i, word, end)) {
      // RFC 2047 6.2: white space between adjacent encoded words is not displayed.
      if (after_word) out.resize(word_end);
      out += word;
      word_end = out.size();
      after_word = true;
      i = end;
      continue;
    }
    if (!isBlank(text[i])) after_word = false;
    out += text[i];
    ++i;
  }
  return out;
}

std::string mediaType(std::string_view field_body) {
  std::string_view v = trimBlanks(field_body);
  size_t end = v.find_first_of("; \t\r\n(");
  std::string type(v.substr(0, end));
  std::transform(type.begin(), type.end(), type.begin(), lower);
  return type;
}

std::string mediaParameter(std::string_view field_body, std::string_view name) {
  size_t i = field_body.find(';');
  while (i != std::string_view::npos && i < field_body.size()) {
    ++i;  // past ';'
    while (i < field_body.size() &&
           (isBlank(field_body[i]) || field_body[i] == '\r' || field_body[i] == '\n')) {
      ++i;
    }
    size_t eq = field_body.find('=', i);
    if (eq == std::string_view::npos) return {};
    std::string_view key = trimBlanks(field_body.substr(i, eq - i));
    size_t j = eq + 1;
    while (j < field_body.size() && isBlank(field_body[j])) ++j;
    std::string value;
    if (j < field_body.size() && field_body[j] == '"') {
      ++j;
      while (j < field_body.size() && field_body[j] != '"') {
        if (field_body[j] == '\\' && j + 1 < field_body.size()) ++j;
        value += field_body[j];
        ++j;
      }
      if (j < field_body.size()) ++j;  // the closing quote
    } else {
      size_t end = field_body.find_first_of("; \t\r\n", j);
      if (end == std::string_view::npos) end = field_body.size();
      value = std::string(field_body.substr(j, end - j));
      j = end;
    }
    if (iequal(key, name)) return value;
    i = field_body.find(';', j);
  }
  return {};
}

MimeParser::MimeParser(Sink sink, MimeLimits limits) : sink_(std::move(sink)), limits_(limits) {}

void MimeParser::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    std::string_view piece = bytes.substr(0, nl == std::string_view::npos ? bytes.size() : nl);
    // The common case: a whole line in this chunk, within the limits: no copy.
    size_t fits = state_ == State::Header ? limits_.max_field_bytes + 2 : limits_.max_line_bytes;
    if (nl != std::string_view::npos && pending_.empty() && !pending_over_ &&
        piece.size() <= fits) {
      bytes.remove_prefix(nl + 1);
      if (!piece.empty() && piece.back() == '\r') piece.remove_suffix(1);
      line(piece);
      continue;
    }
    if (state_ == State::Header) {
      // Keep what matching can use; the rest of an over-long header line is dropped.
      size_t room = limits_.max_field_bytes + 2 > pending_.size()
                        ? limits_.max_field_bytes + 2 - pending_.size()
                        : 0;
      pending_.append(piece.substr(0, std::min(room, piece.size())));
    } else {
      pending_.append(piece);
      // Postfix line_length_limit: a longer body line is read in pieces.
      while (pending_.size() > limits_.max_line_bytes) {
        emitBody(std::string_view(pending_).substr(0, limits_.max_line_bytes));
        pending_.erase(0, limits_.max_line_bytes);
        pending_over_ = true;
      }
    }
    if (nl == std::string_view::npos) return;
    bytes.remove_prefix(nl + 1);
    // line() and emitBody() never touch pending_, so it is read in place.
    std::string_view text = pending_;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (pending_over_) {
      pending_over_ = false;
      emitBody(text);  // the tail of a split line is never a boundary
    } else {
      line(text);
    }
    pending_.clear();
  }
}

void MimeParser::end() {
  if (!pending_.empty()) {
    std::string last = std::move(pending_);
    pending_.clear();
    if (pending_over_) {
      pending_over_ = false;
      emitBody(last);
    } else {
      line(last);
    }
  }
  if (state_ == State::Header) flushField();
}

void MimeParser::line(std::string_view text) {
  if (state_ == State::Header) return headerLine(text);
  bodyLine(text);
}

void MimeParser::headerLine(std::string_view text) {
  if (text.empty()) {
    flushField();
    return headerEnd();
  }
  if (isBlank(text.front()) && have_field_) {
    // Unfolding (RFC 5322 2.2.3): the line end goes, the white space stays.
    size_t room =
        limits_.max_field_bytes > field_.size() ? limits_.max_field_bytes - field_.size() : 0;
    field_.append(text.substr(0, std::min(room, text.size())));
    return;
  }
  if (fieldNameLength(text) > 0) {
    flushField();
    field_.assign(text.substr(0, std::min(limits_.max_field_bytes, text.size())));
    have_field_ = true;
    return;
  }
  // Neither a field nor a continuation: the header ends here and this line is body, as
  // Postfix reads it.
  flushField();
  headerEnd();
  bodyLine(text);
}

void MimeParser::flushField() {
  if (!have_field_) return;
  have_field_ = false;
  std::string_view text = field_;
  std::string_view name = text.substr(0, fieldNameLength(text));
  size_t colon = text.find(':');
  std::string_view body =
      colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  MimeEvent e;
  e.depth = depth_;
  e.part = part_;
  bool mime = isMimeField(name);
  switch (header_kind_) {
    case MimeEvent::Kind::MessageHeader:
      e.kind = mime ? MimeEvent::Kind::MimeHeader : MimeEvent::Kind::MessageHeader;
      e.field_index = field_index_++;
      break;
    case MimeEvent::Kind::NestedHeader:
      e.kind = mime ? MimeEvent::Kind::MimeHeader : MimeEvent::Kind::NestedHeader;
      break;
    default:
      e.kind = MimeEvent::Kind::MimeHeader;
      break;
  }
  if (iequal(name, "Content-Type")) content_type_ = std::string(body);
  if (iequal(name, "Content-Transfer-Encoding")) encoding_ = mediaType(body);
  std::string decoded;
  bool has_words = text.find("=?") != std::string_view::npos;
  if (has_words) decoded = decodeEncodedWords(text);
  e.text = text;
  e.decoded = has_words ? std::string_view(decoded) : text;
  sink_(e);
}

void MimeParser::headerEnd() {
  state_ = State::Body;
  segment_bytes_ = 0;
  std::string type = content_type_.empty() ? (default_rfc822_ ? "message/rfc822" : "text/plain")
                                           : mediaType(content_type_);
  std::string boundary =
      type.starts_with("multipart/") ? mediaParameter(content_type_, "boundary") : std::string();
  // RFC 2046 5.1.1: at most 70 characters; a longer one is taken, within reason.
  if (boundary.size() > 200) boundary.clear();
  bool nest =
      (type == "message/rfc822" || type == "message/global") &&
      (encoding_.empty() || encoding_ == "7bit" || encoding_ == "8bit" || encoding_ == "binary");
  content_type_.clear();
  encoding_.clear();
  default_rfc822_ = false;
  if (!boundary.empty()) {
    if (depth_ + 1 > limits_.max_depth) {
      limit_exceeded_ = true;
      return;
    }
    multiparts_.push_back(Multipart{std::move(boundary), depth_ + 1, type == "multipart/digest"});
    return;
  }
  if (nest) {
    if (depth_ + 1 > limits_.max_depth || parts_ >= limits_.max_parts) {
      limit_exceeded_ = true;
      return;
    }
    ++depth_;
    part_ = ++parts_;
    state_ = State::Header;
    ++headers_begun_;
    header_kind_ = MimeEvent::Kind::NestedHeader;
  }
}

bool MimeParser::boundaryLine(std::string_view text) {
  if (multiparts_.empty() || text.size() < 3 || text[0] != '-' || text[1] != '-') return false;
  std::string_view rest = text.substr(2);
  for (size_t i = multiparts_.size(); i-- > 0;) {
    const std::string& b = multiparts_[i].boundary;
    if (!rest.starts_with(b)) continue;
    std::string_view tail = rest.substr(b.size());
    bool close = tail.starts_with("--");
    if (close) tail.remove_prefix(2);
    // RFC 2046 5.1.1: transport padding (blanks) may follow.
    if (std::any_of(tail.begin(), tail.end(), [](char c) { return !isBlank(c); })) continue;
    MimeEvent e;
    e.kind = MimeEvent::Kind::BodyLine;
    e.text = text;
    e.decoded = text;
    // The innermost structures end with the one this boundary belongs to (RFC 2046 5.1.2).
    Multipart mp = multiparts_[i];
    multiparts_.resize(i + 1);
    e.depth = mp.depth - 1;
    e.part = part_;
    sink_(e);
    segment_bytes_ = 0;
    if (close) {
      multiparts_.pop_back();
      depth_ = mp.depth - 1;
      state_ = State::Body;  // the epilogue
      return true;
    }
    if (parts_ >= limits_.max_parts) {
      limit_exceeded_ = true;
      multiparts_.clear();  // the rest is body text
      depth_ = mp.depth - 1;
      state_ = State::Body;
      return true;
    }
    depth_ = mp.depth;
    part_ = ++parts_;
    state_ = State::Header;
    ++headers_begun_;
    header_kind_ = MimeEvent::Kind::MimeHeader;
    default_rfc822_ = mp.digest;
    return true;
  }
  return false;
}

void MimeParser::bodyLine(std::string_view text) {
  if (boundaryLine(text)) return;
  // A line that ended a header section may be longer than a body line is read.
  while (text.size() > limits_.max_line_bytes) {
    emitBody(text.substr(0, limits_.max_line_bytes));
    text.remove_prefix(limits_.max_line_bytes);
  }
  emitBody(text);
}

void MimeParser::emitBody(std::string_view text) {
  if (limits_.body_segment_bytes > 0 && segment_bytes_ >= limits_.body_segment_bytes) {
    body_truncated_ = true;
    return;
  }
  segment_bytes_ += text.size() + 2;
  MimeEvent e;
  e.kind = MimeEvent::Kind::BodyLine;
  e.text = text;
  e.decoded = text;
  e.depth = depth_;
  e.part = part_;
  sink_(e);
}

}  // namespace petrel::content
