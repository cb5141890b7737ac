// Tests for DATA and BDAT content framing (source/smtp/body_reader.cc): dot-unstuffing, the one
// true end of DATA, SMTP smuggling variants, bare line endings in reject and normalize mode,
// overlong lines, and independence from how the input is split into reads.
#include "petrel/smtp/body_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace petrel::smtp {
namespace {

using namespace std::string_literals;

struct Sink : BodySink {
  void append(std::string_view c) override { data.append(c); }
  std::string data;
};

// What a DotReader made of one input, fed the way ServerSession feeds it: unconsumed bytes
// stay buffered and are offered again with the next read.
struct DotResult {
  ReadState state = ReadState::NeedMore;
  std::string content;  // what reached the sink
  std::string rest;     // input after the end (pipelined commands) or left unconsumed
  bool line_too_long = false;

  bool operator==(const DotResult&) const = default;
};

std::ostream& operator<<(std::ostream& os, const DotResult& r) {
  const char* st = r.state == ReadState::Done             ? "Done"
                   : r.state == ReadState::BareLineEnding ? "BareLineEnding"
                                                          : "NeedMore";
  return os << "{" << st << ", content=" << ::testing::PrintToString(r.content)
            << ", rest=" << ::testing::PrintToString(r.rest) << ", too_long=" << r.line_too_long
            << "}";
}

// `step` = 0 feeds everything at once, otherwise `step` bytes per read.
DotResult readDot(std::string_view input, LineChecks checks = {}, size_t step = 0) {
  Sink sink;
  DotReader reader(checks, sink);
  DotResult r;
  std::string buffer;
  size_t fed = 0;
  while (true) {
    size_t n = step == 0 ? input.size() - fed : std::min(step, input.size() - fed);
    buffer.append(input.substr(fed, n));
    fed += n;
    size_t consumed = 0;
    r.state = reader.consume(buffer, consumed);
    EXPECT_LE(consumed, buffer.size());
    buffer.erase(0, consumed);
    if (r.state != ReadState::NeedMore || fed == input.size()) break;
  }
  r.content = sink.data;
  r.rest = buffer + std::string(input.substr(fed));
  r.line_too_long = reader.lineTooLong();
  return r;
}

LineChecks normalize() { return LineChecks{1000, true}; }

TEST(DotReader, EndsAtCrlfDotCrlf) {
  DotResult r = readDot("Subject: x\r\n\r\nbody\r\n.\r\n");
  EXPECT_EQ(r.state, ReadState::Done);
  EXPECT_EQ(r.content, "Subject: x\r\n\r\nbody\r\n");
  EXPECT_EQ(r.rest, "");
  EXPECT_FALSE(r.line_too_long);
}

TEST(DotReader, EmptyMessage) {
  DotResult r = readDot(".\r\n");
  EXPECT_EQ(r.state, ReadState::Done);
  EXPECT_EQ(r.content, "");
}

TEST(DotReader, LeavesPipelinedCommandsAfterTheEnd) {
  DotResult r = readDot("a\r\n.\r\nMAIL FROM:<x@example.test>\r\nQUIT\r\n");
  EXPECT_EQ(r.state, ReadState::Done);
  EXPECT_EQ(r.content, "a\r\n");
  EXPECT_EQ(r.rest, "MAIL FROM:<x@example.test>\r\nQUIT\r\n");
}

TEST(DotReader, WaitsForCompleteLines) {
  DotResult r = readDot("line\r\npartial");
  EXPECT_EQ(r.state, ReadState::NeedMore);
  EXPECT_EQ(r.content, "line\r\n");
  EXPECT_EQ(r.rest, "partial");
  // "\r\n." and "\r\n.\r" are not an end until the LF is there.
  for (std::string_view in : {"a\r\n.", "a\r\n.\r"}) {
    r = readDot(in);
    EXPECT_EQ(r.state, ReadState::NeedMore) << in;
    EXPECT_EQ(r.content, "a\r\n");
  }
}

TEST(DotReader, RemovesOneLeadingDot) {
  // RFC 5321 4.5.2: the first '.' of a line is removed.
  DotResult r = readDot("..leading\r\n...\r\n.x\r\n..\r\nmid.dle\r\n.\r\n");
  EXPECT_EQ(r.state, ReadState::Done);
  EXPECT_EQ(r.content, ".leading\r\n..\r\nx\r\n.\r\nmid.dle\r\n");
}

TEST(DotReader, OnlyCrlfDotCrlfEndsTheData) {
  // SMTP smuggling: none of these is an end, in either mode. In reject mode the first bare
  // line ending stops the read before anything after it reaches the sink.
  for (std::string_view smuggle :
       {"\n.\n", "\r.\r", "\n.\r\n", "\r.\r\n", "\r\n.\n", "\r\n.\r", "\r\n.\r\r\n", "\n.\r\r\n"}) {
    std::string in = "Subject: x\r\n\r\nhi" + std::string(smuggle) +
                     "MAIL FROM:<attacker@example.test>\r\nRCPT TO:<victim@example.test>\r\n";
    DotResult r = readDot(in);
    EXPECT_EQ(r.state, ReadState::BareLineEnding) << testing::PrintToString(smuggle);
    EXPECT_EQ(r.content.find("MAIL"), std::string::npos) << testing::PrintToString(smuggle);

    r = readDot(in + "DATA\r\n", normalize());
    EXPECT_EQ(r.state, ReadState::NeedMore) << testing::PrintToString(smuggle) << r;
    EXPECT_EQ(r.rest, "") << testing::PrintToString(smuggle);
    EXPECT_NE(r.content.find("MAIL FROM:<attacker@example.test>\r\n"), std::string::npos);
  }
}

TEST(DotReader, BareLfRejectModeStopsAtTheLine) {
  DotResult r = readDot("ok\r\nbad\nmore\r\n.\r\n");
  EXPECT_EQ(r.state, ReadState::BareLineEnding);
  EXPECT_EQ(r.content, "ok\r\n");
  EXPECT_EQ(r.rest, "bad\nmore\r\n.\r\n");  // consumed up to the offending line
}

TEST(DotReader, BareCrRejectModeStopsAtTheLine) {
  for (std::string_view in :
       {"ok\r\nb\rad\r\n.\r\n", "ok\r\nbad\r\r\n.\r\n", "ok\r\n\r\r\n.\r\n"}) {
    DotResult r = readDot(in);
    EXPECT_EQ(r.state, ReadState::BareLineEnding) << in;
    EXPECT_EQ(r.content, "ok\r\n") << in;
  }
}

TEST(DotReader, NormalizeModeTurnsBareEndingsIntoCrlf) {
  DotResult r = readDot("a\nb\rc\r\nd\r\r\n\n\r\n.\r\n", normalize());
  EXPECT_EQ(r.state, ReadState::Done);
  EXPECT_EQ(r.content, "a\r\nb\r\nc\r\nd\r\n\r\n\r\n\r\n");
}

TEST(DotReader, NormalizeModeStillUnstuffsBareLines) {
  DotResult r = readDot("..a\n..\nx\r\n.\r\n", normalize());
  EXPECT_EQ(r.state, ReadState::Done);
  EXPECT_EQ(r.content, ".a\r\n.\r\nx\r\n");
}

TEST(DotReader, NormalizeModeNeedsARealCrlfBeforeTheDot) {
  // "<LF>.<CRLF>" is not an end even when bare LFs are accepted: the dot line after a bare LF
  // is content, and only the later <CRLF>.<CRLF> ends the message.
  DotResult r = readDot("a\n.\r\nb\r\n.\r\nNOOP\r\n", normalize());
  EXPECT_EQ(r.state, ReadState::Done);
  EXPECT_EQ(r.content, "a\r\n.\r\nb\r\n");
  EXPECT_EQ(r.rest, "NOOP\r\n");
  r = readDot("a\n.\n.\r\n.\r\n", normalize());
  EXPECT_EQ(r.state, ReadState::Done);
  EXPECT_EQ(r.content, "a\r\n.\r\n.\r\n");
}

TEST(DotReader, LineLimitIncludesTheCrlf) {
  // RFC 5321 4.5.3.1.6: 1000 octets including CRLF.
  std::string ok(998, 'x');
  DotResult r = readDot(ok + "\r\n.\r\n");
  EXPECT_EQ(r.state, ReadState::Done);
  EXPECT_FALSE(r.line_too_long);
  EXPECT_EQ(r.content, ok + "\r\n");

  r = readDot(ok + "y\r\nnext\r\n.\r\n");
  EXPECT_EQ(r.state, ReadState::Done);  // the end is still found
  EXPECT_TRUE(r.line_too_long);
  EXPECT_EQ(r.rest, "");

  // The duplicated dot does not count (RFC 5321 4.5.3.1.6): 1001 octets on the wire, 1000
  // stored.
  r = readDot("." + ok + "\r\n.\r\n");
  EXPECT_FALSE(r.line_too_long);
  EXPECT_EQ(r.content, ok + "\r\n");
  r = readDot(".." + ok + "\r\n.\r\n");
  EXPECT_TRUE(r.line_too_long);
}

TEST(DotReader, OverlongLineWithoutLfIsDroppedNotBuffered) {
  Sink sink;
  DotReader reader(LineChecks{}, sink);
  std::string chunk(600, 'x');
  size_t consumed = 0;
  EXPECT_EQ(reader.consume("head\r\n" + chunk, consumed), ReadState::NeedMore);
  EXPECT_EQ(consumed, 6u);  // the partial line waits
  std::string buffered = chunk + chunk;
  EXPECT_EQ(reader.consume(buffered, consumed), ReadState::NeedMore);
  EXPECT_EQ(consumed, buffered.size());  // too long already: dropped
  EXPECT_TRUE(reader.lineTooLong());
  EXPECT_EQ(reader.consume(chunk + "\r\nafter\r\n.\r\nQUIT\r\n", consumed), ReadState::Done);
  EXPECT_EQ(consumed, chunk.size() + 12);
  EXPECT_EQ(sink.data, "head\r\n");
}

TEST(DotReader, OverlongLineEndingInBareLfIsNotAnEndOfData) {
  // The tail of a dropped overlong line is still framed strictly: "<LF>.<CRLF>" after it
  // must not end the data (smuggling through an overlong line).
  std::string in = std::string(1500, 'x') + "\n.\r\nMAIL FROM:<attacker@example.test>\r\n";
  for (size_t step : {size_t(0), size_t(1), size_t(100), size_t(1001)}) {
    DotResult r = readDot(in, {}, step);
    EXPECT_EQ(r.state, ReadState::BareLineEnding) << "step " << step;
    r = readDot(in, normalize(), step);
    EXPECT_EQ(r.state, ReadState::NeedMore) << "step " << step;
    EXPECT_TRUE(r.line_too_long);
  }
}

TEST(DotReader, NormalizedLineStaysWithinTheLimit) {
  // "1234567<LF>" is 8 octets on the wire but 9 once stored with CRLF: too long for 8.
  DotResult r = readDot("1234567\n\r\n.\r\n", LineChecks{8, true});
  EXPECT_TRUE(r.line_too_long);
  r = readDot("123456\n\r\n.\r\n", LineChecks{8, true});
  EXPECT_FALSE(r.line_too_long);
  EXPECT_EQ(r.content, "123456\r\n\r\n");
}

TEST(DotReader, CustomLineLimit) {
  DotResult r = readDot("12345678\r\n.\r\n", LineChecks{10, false});
  EXPECT_FALSE(r.line_too_long);
  r = readDot("123456789\r\n.\r\n", LineChecks{10, false});
  EXPECT_TRUE(r.line_too_long);
  EXPECT_EQ(r.state, ReadState::Done);
}

// The outcome of a read must not depend on how TCP split the input.
TEST(DotReader, SameResultWhateverTheSplit) {
  const std::vector<std::string> inputs = {
      "Subject: x\r\n\r\n..stuffed\r\nline\r\n.\r\nQUIT\r\n",
      "a\nb\r\n.\r\n",
      "a\r\nb\rc\r\n.\r\n",
      "a\n.\nb\r\n.\r\n",
      "a\n.\r\nb\r\n.\r\nNOOP\r\n",
      "x\r\n" + std::string(998, 'y') + "\r\n" + std::string(999, 'z') + "\r\n.\r\n",
      std::string(1200, 'l') + "\r\n.\r\n",
      std::string(1200, 'l') + "\n.\r\n",
      std::string(1200, 'l') + "\r.\r\n.\r\n",
      std::string(500, 'm') + "\rX" + std::string(700, 'm') + "\r\n.\r\n",
      std::string(1100, 'm') + "\rX" + std::string(700, 'm') + "\r\n.\r\n",
      std::string(999, 'c') + "\r" + "\r\n.\r\n",
      std::string(1000, 'c') + "\r" + "\n.\r\n",
      "..\r\n.\r",
      "\r\n\r\n.\r\n",
  };
  for (const LineChecks& checks : {LineChecks{}, normalize(), LineChecks{20, false}}) {
    for (const std::string& in : inputs) {
      DotResult whole = readDot(in, checks);
      for (size_t step : {1, 2, 3, 7, 999, 1000, 1001}) {
        DotResult split = readDot(in, checks, step);
        if (whole.state == ReadState::BareLineEnding) {
          // The session closes: where exactly the read stopped, and whether the line was also
          // too long, no longer matter.
          split.rest = whole.rest;
          split.line_too_long = whole.line_too_long;
        }
        EXPECT_EQ(whole, split) << "normalize=" << checks.normalize_bare
                                << " max=" << checks.max_line << " step=" << step
                                << " input=" << testing::PrintToString(in.substr(0, 40));
      }
    }
  }
}

// --- BDAT ---

struct ChunkResult {
  std::string content;
  bool bare = false;
  bool too_long = false;
  bool operator==(const ChunkResult&) const = default;
};

std::ostream& operator<<(std::ostream& os, const ChunkResult& r) {
  return os << "{content=" << ::testing::PrintToString(r.content) << ", bare=" << r.bare
            << ", too_long=" << r.too_long << "}";
}

ChunkResult scan(const std::vector<std::string>& chunks, LineChecks checks = {}) {
  Sink sink;
  ChunkScanner s(checks, sink);
  for (const auto& c : chunks) s.feed(c);
  s.finish();
  return {sink.data, s.bareLineEnding(), s.lineTooLong()};
}

TEST(ChunkScanner, PassesContentVerbatim) {
  // BDAT is counted: no dot handling at all, a "." line is content.
  ChunkResult r = scan({"Subject: x\r\n\r\n.\r\n..\r\n", "tail without newline"});
  EXPECT_EQ(r, (ChunkResult{"Subject: x\r\n\r\n.\r\n..\r\ntail without newline", false, false}));
}

TEST(ChunkScanner, CrAtChunkEndFollowedByLf) {
  ChunkResult r = scan({"abc\r", "\ndef\r\n"});
  EXPECT_EQ(r, (ChunkResult{"abc\r\ndef\r\n", false, false}));
  r = scan({"abc\r", "\ndef\r\n"}, normalize());
  EXPECT_EQ(r, (ChunkResult{"abc\r\ndef\r\n", false, false}));
}

TEST(ChunkScanner, CrAtChunkEndFollowedByOtherByte) {
  EXPECT_EQ(scan({"abc\r", "def\r\n"}), (ChunkResult{"abc\rdef\r\n", true, false}));
  EXPECT_EQ(scan({"abc\r", "def\r\n"}, normalize()), (ChunkResult{"abc\r\ndef\r\n", true, false}));
}

TEST(ChunkScanner, CrAtTheVeryEnd) {
  // Only finish() can tell that the last CR is bare.
  Sink sink;
  ChunkScanner s(LineChecks{}, sink);
  s.feed("abc\r");
  EXPECT_FALSE(s.bareLineEnding());
  s.finish();
  EXPECT_TRUE(s.bareLineEnding());
  EXPECT_EQ(sink.data, "abc\r");

  Sink nsink;
  ChunkScanner n(normalize(), nsink);
  n.feed("abc\r");
  n.finish();
  EXPECT_EQ(nsink.data, "abc\r\n");
}

TEST(ChunkScanner, BareLineEndings) {
  ChunkResult r = scan({"a\nb\r\n"});
  EXPECT_TRUE(r.bare);
  EXPECT_EQ(r.content, "a\nb\r\n");  // reject mode: the session refuses the whole message
  r = scan({"a\nb\rc\r\r\n", "\n"}, normalize());
  EXPECT_EQ(r.content, "a\r\nb\r\nc\r\n\r\n\r\n");
  EXPECT_TRUE(r.bare);  // still reported; the session decides what it means
  EXPECT_FALSE(scan({"a\r\n\r\n"}).bare);
}

TEST(ChunkScanner, LineLimitIncludesTheCrlfAndSpansChunks) {
  std::string ok(998, 'x');
  EXPECT_FALSE(scan({ok + "\r\n"}).too_long);
  EXPECT_TRUE(scan({ok + "y\r\n"}).too_long);
  EXPECT_FALSE(scan({ok.substr(0, 500), ok.substr(500) + "\r\n", ok + "\r\n"}).too_long);
  EXPECT_TRUE(scan({ok.substr(0, 500), ok.substr(500) + "y", "\r\n"}).too_long);
  EXPECT_TRUE(scan({ok + "yy"}).too_long);  // an unterminated last line counts too
}

TEST(ChunkScanner, SameResultWhateverTheSplit) {
  const std::vector<std::string> inputs = {
      "a\r\nb\r\n",
      "a\rb\nc\r\r\n",
      "\r",
      "\r\r\n\n",
      std::string(999, 'x') + "\r\n",
      std::string(998, 'x') + "\r\r\n",
      "x\n" + std::string(998, 'y') + "\r\n",
  };
  for (const LineChecks& checks : {LineChecks{}, normalize()}) {
    for (const std::string& in : inputs) {
      ChunkResult whole = scan({in}, checks);
      for (size_t step : {1, 2, 3, 500}) {
        std::vector<std::string> chunks;
        for (size_t i = 0; i < in.size(); i += step) chunks.push_back(in.substr(i, step));
        EXPECT_EQ(whole, scan(chunks, checks)) << testing::PrintToString(in.substr(0, 20));
      }
    }
  }
}

}  // namespace
}  // namespace petrel::smtp
