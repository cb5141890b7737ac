// libFuzzer target for the milter protocol (source/milter/): the octets a milter sends, cut
// into packets (PacketReader), taken apart (parseReply, parseOptions) and played against a
// conversation (Session) over a session with a small message: each stage answered starts the
// next (HELO, MAIL, RCPT, DATA, the content, then quit); the modifications of the end of
// message are applied (applyModifications) and the header written.
//
// Input: the milter's octets as they would arrive, in one piece. Besides crashes and sanitizer
// reports it aborts when:
//   - a packet comes out of the reader longer than MaxPacket;
//   - the conversation answers after it said it was done, or sends nothing while waiting
//     unless the reply was a modification or SMFIR_PROGRESS;
//   - a replacement body has a line end that is not CRLF;
//   - the edited header has a line that does not end in CRLF, or a line after the first of a
//     field that does not start with white space (a milter's value must not start a field).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "petrel/milter/session.h"

namespace {

using namespace petrel;
using namespace petrel::milter;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "milter_protocol_fuzz: %s\n", what);
  std::abort();
}

void checkHeader(const std::string& text) {
  size_t start = 0;
  bool first = true;
  while (start < text.size()) {
    size_t end = text.find("\r\n", start);
    if (end == std::string::npos) fail("header line without CRLF");
    std::string_view line(text.data() + start, end - start);
    if (line.empty()) break;  // the empty line that ends the section
    if (line.find('\n') != std::string_view::npos || line.find('\r') != std::string_view::npos) {
      fail("bare CR or LF in a header line");
    }
    if (!first && line[0] != ' ' && line[0] != '\t' && line.find(':') == std::string_view::npos) {
      fail("a header line that is neither a field nor a continuation");
    }
    first = false;
    start = end + 2;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  MessageFacts facts;
  facts.client_name = "mx.example.net";
  facts.client_addr = "192.0.2.7";
  facts.helo = "mx.example.net";
  facts.sender = "a@example.org";
  facts.recipients = {{"b@example.com", {}}};
  facts.macros = {{"i", "4F2A"}, {"j", "mx"}};
  std::vector<content::HeaderField> header{{"From", "From: a@example.org\r\n"},
                                           {"Subject", "Subject: hi\r\n there\r\n"}};
  std::string body(70000, 'x');
  Session session(facts);
  session.start();
  PacketReader reader;
  bool done = false;
  int stage = 0;  // the next to start once one is answered
  std::optional<Outcome> end;
  auto next = [&]() -> Step {
    switch (stage++) {
      case 0: return session.helo();
      case 1: return session.mail();
      case 2: return session.rcpt(facts.recipients[0]);
      case 3: return session.data();
      case 4: return session.content(header, body);
      default: return session.quit();
    }
  };
  if (reader.feed(input)) {
    while (auto p = reader.next()) {
      if (p->data.size() + 1 > MaxPacket) fail("packet over the limit");
      (void)parseOptions(*p);
      Step st = session.onPacket(*p);
      if (done && !st.send.empty()) fail("sent after done");
      bool quiet = p->command == reply::Progress || p->command == reply::AddHeader ||
                   p->command == reply::InsertHeader || p->command == reply::ChangeHeader ||
                   p->command == reply::AddRcpt || p->command == reply::AddRcptWithArgs ||
                   p->command == reply::DelRcpt || p->command == reply::ChangeFrom ||
                   p->command == reply::ReplaceBody || p->command == reply::Quarantine;
      if (!done && !st.done && st.wait != Wait::None && st.send.empty() && !quiet) {
        fail("stalled without sending");
      }
      // Each answered stage starts the next, until one waits again.
      while (!done && !st.done && st.wait == Wait::None) {
        if (stage == 5) end = session.outcome();
        st = next();
      }
      done = done || st.done;
    }
  }
  if (!done) session.fail("fuzz input ended");
  content::EndEdits edits;
  std::vector<std::string> warnings;
  applyModifications(header, end ? *end : session.outcome(), edits, warnings);
  if (edits.body) {
    const std::string& b = *edits.body;
    for (size_t i = 0; i < b.size(); ++i) {
      if ((b[i] == '\n' && (i == 0 || b[i - 1] != '\r')) ||
          (b[i] == '\r' && (i + 1 == b.size() || b[i + 1] != '\n'))) {
        fail("a replacement body line end that is not CRLF");
      }
    }
  }
  std::vector<content::HeaderField> fields = header;
  checkHeader(content::applyHeaderEdits(fields, edits.header, "\r\n"));
  return 0;
}
