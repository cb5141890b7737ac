// A streaming MIME structure parser for the header and body checks (Postfix header_checks(5)
// classes, mime_state(3)): fed message octets in any chunks, it emits one event per logical
// header field and per body line, each classified as Postfix's cleanup classifies them:
//
//   MessageHeader  a field of the message's own header (header_checks)
//   MimeHeader     a field of a MIME part header (RFC 2045/2046), or a MIME field (MIME-Version,
//                  Content-*) anywhere (mime_header_checks)
//   NestedHeader   a non-MIME field of an attached message/rfc822 (nested_header_checks)
//   BodyLine       any other line: text, preambles, epilogues and the boundary lines
//                  themselves (body_checks)
//
// Structure: multipart/* with a boundary parameter opens parts (RFC 2046 5.1; the default
// type of a part is text/plain, message/rfc822 in multipart/digest); message/rfc822 and
// message/global nest a message whose header follows. A boundary line of an enclosing
// multipart closes everything inside it (RFC 2046 5.1.2), so a broken inner part never
// hides the outer structure. Bounded: nesting deeper than max_depth (Postfix
// mime_nesting_limit, 100) or more than max_parts parts are read as body text from there on
// (limitExceeded() tells), a header field is kept for matching up to max_field_bytes (Postfix
// header_size_limit), a body line longer than max_line_bytes (Postfix line_length_limit) is
// emitted in pieces, and body_segment_bytes (body_checks_size_limit) limits how many octets
// of each part's body are emitted at all.
//
// A header field's `text` is the logical line: the field unfolded (CRLFs removed, the white
// space after them kept) without its final line end; `decoded` is the same with RFC 2047
// encoded words decoded (B and Q; octets as they are, no charset conversion; white space
// between adjacent encoded words dropped), for matching only. Nothing is changed: the parser
// keeps no copy of the message. Pure: no I/O, no allocation beyond the current line.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::content {

struct MimeEvent {
  enum class Kind { MessageHeader, MimeHeader, NestedHeader, BodyLine };
  Kind kind = Kind::BodyLine;
  std::string_view text;     // the logical line (see above), without its line end
  std::string_view decoded;  // header fields: RFC 2047 decoded; equal to text when none
  size_t depth = 0;          // 0: the message's own header and body; +1 per part or nesting
  size_t part = 0;           // 0: the message; then the parts and nested messages in order
  // MessageHeader/MimeHeader of depth 0: the field's index in the message's header section
  // (the order of content::HeaderSection's fields); otherwise 0.
  size_t field_index = 0;
};

std::string_view mimeEventKindName(MimeEvent::Kind kind);  // "header", "mime", "nested", "body"

struct MimeLimits {
  size_t max_depth = 100;               // Postfix mime_nesting_limit
  size_t max_parts = 1000;              // parts and nested messages in one message
  size_t max_field_bytes = 100 * 1024;  // Postfix header_size_limit
  size_t max_line_bytes = 2048;         // Postfix line_length_limit
  size_t body_segment_bytes = 0;        // per part's body; 0: unlimited
};

class MimeParser {
 public:
  using Sink = std::function<void(const MimeEvent&)>;
  // `sink` is called synchronously from feed() and end(); the views it gets are valid only
  // during the call.
  explicit MimeParser(Sink sink, MimeLimits limits = {});

  // Message octets (after SMTP dot-unstuffing), CRLF or bare LF line ends.
  void feed(std::string_view bytes);
  // The message ended: a last unterminated line and a pending field are emitted.
  void end();

  // Nesting or part count went over its limit somewhere (the rest was read as body).
  bool limitExceeded() const { return limit_exceeded_; }
  // Some body line was not emitted because of body_segment_bytes.
  bool bodyTruncated() const { return body_truncated_; }
  // Whether the parser reads a header section now (the message's, a part's or an attached
  // message's), and how many header sections it has begun (1 at the start: the message's).
  // A caller that feeds whole lines learns from these where each header section begins and
  // ends (the header checks hold a part header back until its end to edit it).
  bool inHeader() const { return state_ == State::Header; }
  size_t headersBegun() const { return headers_begun_; }

 private:
  enum class State { Header, Body };
  struct Multipart {
    std::string boundary;
    size_t depth = 0;  // depth of the parts inside
    bool digest = false;
  };

  void line(std::string_view text);  // one line without its end
  void headerLine(std::string_view text);
  void flushField();
  void headerEnd();
  void bodyLine(std::string_view text);
  void emitBody(std::string_view text);
  bool boundaryLine(std::string_view text);

  Sink sink_;
  MimeLimits limits_;
  std::string pending_;        // an unfinished line
  bool pending_over_ = false;  // the unfinished line went over max_line_bytes in header state
  State state_ = State::Header;
  MimeEvent::Kind header_kind_ = MimeEvent::Kind::MessageHeader;
  std::string field_;  // the current logical field, unfolded
  bool have_field_ = false;
  size_t field_index_ = 0;  // fields of the message header so far
  // The header being read: its Content-Type, and the default when it has none.
  std::string content_type_;
  std::string encoding_;  // its Content-Transfer-Encoding, lower case
  bool default_rfc822_ = false;
  size_t depth_ = 0;
  size_t part_ = 0;
  size_t parts_ = 0;
  size_t segment_bytes_ = 0;
  std::vector<Multipart> multiparts_;
  bool limit_exceeded_ = false;
  bool body_truncated_ = false;
  size_t headers_begun_ = 1;
};

// RFC 2047 encoded words in `text` decoded (for matching only): "=?charset?B|Q?...?=".
// A word that does not decode stays as it is.
std::string decodeEncodedWords(std::string_view text);

// The media type of a Content-Type field body, lower case ("multipart/mixed"), and one of its
// parameters (RFC 2045 5.1, quoted strings unquoted; "" when absent).
std::string mediaType(std::string_view field_body);
std::string mediaParameter(std::string_view field_body, std::string_view name);

}  // namespace petrel::content
