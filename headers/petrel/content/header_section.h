// The header section of a message as it streams in (RFC 5322 2.2, RFC 6532: UTF-8 in field
// bodies is kept as it is): collects octets up to the empty line that ends it, then splits them
// into fields, a folded field as one (its continuation lines kept byte for byte).
//
// Bounded: at most `max_bytes` are held. A section that is longer, or a line that is neither a
// field nor a continuation (Postfix treats it the same way), ends the section where it stands;
// what follows is body. Nothing is ever dropped: fields() plus rest() is everything fed.
// Pure: no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::content {

struct HeaderField {
  std::string name;  // as written, e.g. "Subject"
  std::string raw;   // the whole field with its folding and the final CRLF
  // The field body after the colon, folding included, without the final CRLF.
  std::string_view value() const;
};

class HeaderSection {
 public:
  explicit HeaderSection(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Takes content octets; returns how many of them belong to the header section (the empty
  // line included). Once complete() every further byte is body and 0 is returned.
  size_t feed(std::string_view bytes);
  // The message ended: what was collected is the whole section (a message without a body).
  void end();
  bool complete() const { return complete_; }
  // The section was cut at max_bytes (the rest of an over-long header is body).
  bool truncated() const { return truncated_; }

  // After complete(): the fields in order, then the octets after them that belong to the
  // section (the empty line, or nothing when it was cut or ended by a non-field line).
  const std::vector<HeaderField>& fields() const { return fields_; }
  std::vector<HeaderField>& fields() { return fields_; }
  const std::string& rest() const { return rest_; }

 private:
  void split();

  size_t max_bytes_;
  std::string buffer_;
  size_t partial_ = 0;  // octets of an unfinished last line at the end of buffer_
  bool complete_ = false;
  bool truncated_ = false;
  std::vector<HeaderField> fields_;
  std::string rest_;
};

}  // namespace petrel::content
