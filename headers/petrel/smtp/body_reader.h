// Message content framing for DATA (dot-stuffed, ended by CRLF.CRLF) and BDAT (counted).
//
// Both readers pass content to a BodySink as it arrives and check every line: longer than
// the text line limit, or ended by a bare LF / containing a bare CR. SMTP smuggling defence:
// the only end of DATA is <CRLF>.<CRLF>; "\n.\n", "\r.\r" and friends are never an end, and
// in reject mode the first bare line ending stops the read so the session can refuse it.
#pragma once

#include <cstdint>
#include <string_view>

namespace petrel::smtp {

class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual void append(std::string_view content) = 0;
};

struct LineChecks {
  uint32_t max_line = 1000;       // including CRLF (RFC 5321 4.5.3.1.6)
  bool normalize_bare = false;    // true: bare LF/CR become CRLF; false: stop with BareLineEnding
};

enum class ReadState { NeedMore, Done, BareLineEnding };

// DATA content: un-stuffs leading dots, stops after "<CRLF>.<CRLF>".
class DotReader {
 public:
  DotReader(LineChecks checks, BodySink& sink) : checks_(checks), sink_(&sink) {}
  // Consumes a prefix of `in`; `consumed` says how much. A partial line stays unconsumed
  // unless it is already too long (then it is dropped and the message is marked).
  ReadState consume(std::string_view in, size_t& consumed);
  bool lineTooLong() const { return line_too_long_; }

 private:
  LineChecks checks_;
  BodySink* sink_;
  bool in_long_line_ = false;  // dropping the rest of an overlong line
  bool long_line_cr_ = false;  // the last byte dropped was a CR
  bool after_crlf_ = true;     // the previous line ended with a real CRLF (or DATA's own)
  bool line_too_long_ = false;
};

// BDAT content: counted octets, line checks only (no dot handling). Lines may span chunks.
class ChunkScanner {
 public:
  ChunkScanner(LineChecks checks, BodySink& sink) : checks_(checks), sink_(&sink) {}
  // Passes all of `in` (normalized when configured) to the sink.
  void feed(std::string_view in);
  // End of the last chunk: settles a CR that ended the previous chunk.
  void finish();
  bool lineTooLong() const { return line_too_long_; }
  bool bareLineEnding() const { return bare_; }

 private:
  LineChecks checks_;
  BodySink* sink_;
  uint64_t line_len_ = 0;
  bool prev_cr_ = false;
  bool line_too_long_ = false;
  bool bare_ = false;
};

}  // namespace petrel::smtp
