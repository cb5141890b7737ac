// libFuzzer target for the MIME structure parser (source/content/mime_parser.cc).
//
// Input: byte 0 picks the chunk size and small limits, the rest is message content. The
// content is parsed once whole and once in chunks. Besides crashes and sanitizer reports it
// aborts when:
//   - the two runs emit different events (the parser must not depend on how bytes arrive);
//   - an event is deeper than max_depth, a header field longer than max_field_bytes or a
//     body line longer than max_line_bytes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "petrel/content/mime_parser.h"

namespace {

using namespace petrel::content;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "mime_parser_fuzz: %s\n", what);
  std::abort();
}

std::string run(std::string_view content, size_t chunk, const MimeLimits& limits) {
  std::string out;
  MimeParser parser(
      [&](const MimeEvent& e) {
        if (e.depth > limits.max_depth) fail("event deeper than max_depth");
        if (e.kind == MimeEvent::Kind::BodyLine && e.text.size() > limits.max_line_bytes) {
          fail("body line over max_line_bytes");
        }
        if (e.kind != MimeEvent::Kind::BodyLine && e.text.size() > limits.max_field_bytes) {
          fail("field over max_field_bytes");
        }
        out += std::to_string(static_cast<int>(e.kind));
        out += ' ';
        out += std::to_string(e.depth);
        out += ' ';
        out += std::to_string(e.part);
        out += ' ';
        out += e.text;
        out += '\0';
        out += e.decoded;
        out += '\n';
      },
      limits);
  if (chunk == 0) {
    parser.feed(content);
  } else {
    for (size_t i = 0; i < content.size(); i += chunk) parser.feed(content.substr(i, chunk));
  }
  parser.end();
  out += parser.limitExceeded() ? 'L' : '-';
  out += parser.bodyTruncated() ? 'T' : '-';
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t settings = data[0];
  std::string_view content(reinterpret_cast<const char*>(data + 1), size - 1);
  MimeLimits limits;
  limits.max_depth = 1 + (settings & 7);
  limits.max_parts = 4 + ((settings >> 3) & 7) * 4;
  limits.max_field_bytes = 64 + (settings & 0x40 ? 4096 : 0);
  limits.max_line_bytes = 80;
  limits.body_segment_bytes = settings & 0x80 ? 200 : 0;
  size_t chunk = 1 + (settings % 13);
  if (run(content, 0, limits) != run(content, chunk, limits)) fail("chunking changed events");
  return 0;
}
