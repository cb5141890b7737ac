// libFuzzer target for the vacation rules, reply composer and table value
// (source/delivery/vacation.cc).
//
// Input: a message's header section in wire format, then optionally 0xFF and a "table value"
// (subject line, body) that also serves as the script's :subject and reason. Besides crashes
// and sanitizer reports it aborts when:
//   - decideVacation says no without a reason, or its reason has a control character;
//   - the composed reply's header section has a line that is not a field of our own set or a
//     folded continuation (an input CR/LF made a field), a bare CR or LF, or a line over 998
//     octets; the reply does not end in CRLF.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "petrel/content/header_section.h"
#include "petrel/delivery/vacation.h"

namespace {

using namespace petrel;
using namespace petrel::delivery;

[[noreturn]] void fail(const char* what, std::string_view text) {
  std::fprintf(stderr, "vacation_fuzz: %s\n%.*s\n", what, int(text.size()), text.data());
  std::abort();
}

void checkReply(const std::string& reply) {
  static constexpr std::string_view Fields[] = {"From: ",
                                                "To: ",
                                                "Subject: ",
                                                "Date: ",
                                                "Message-ID: ",
                                                "In-Reply-To: ",
                                                "References: ",
                                                "Auto-Submitted: ",
                                                "MIME-Version: ",
                                                "Content-Type: ",
                                                "Content-Transfer-Encoding: "};
  if (!reply.ends_with("\r\n")) fail("reply does not end in CRLF", reply);
  size_t pos = 0;
  bool in_header = true;
  while (pos < reply.size()) {
    size_t end = reply.find("\r\n", pos);
    if (end == std::string::npos) fail("unterminated line", reply);
    std::string_view line(reply.data() + pos, end - pos);
    if (line.find('\r') != std::string_view::npos || line.find('\n') != std::string_view::npos) {
      fail("bare CR or LF", reply);
    }
    if (line.size() > 998) fail("line over 998 octets", reply);
    if (in_header) {
      if (line.empty()) {
        in_header = false;
      } else if (line[0] != ' ') {
        bool known = false;
        for (std::string_view f : Fields) known = known || line.starts_with(f);
        if (!known) fail("a field the composer does not write", reply);
      }
    }
    pos = end + 2;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t split = input.find('\xff');
  std::string_view header = input.substr(0, split);
  std::string_view value = split == std::string_view::npos ? "" : input.substr(split + 1);

  content::HeaderSection section(64 * 1024);
  section.feed(header);
  if (!section.complete()) section.end();

  VacationQuery q{
      "bob@example.net", "alice@example.test", {"a.smith@example.test"}, "+", section.fields()};
  VacationDecision d = decideVacation(q);
  if (!d.reply && d.why.empty()) fail("no reply without a reason", input);
  for (char c : d.why) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) fail("control character in why", d.why);
  }

  auto v = vacationFromTable(value, 86400);
  sieve::Vacation script;
  script.subject = std::string(value.substr(0, 300));
  script.from = std::string(value.substr(0, 100));
  script.reason = std::string(value);
  for (const sieve::Vacation* vac : {&script, v ? &*v : nullptr}) {
    if (vac == nullptr) continue;
    std::string reply =
        composeVacationReply(VacationReplyInput{"bob@example.net", "alice@example.test", vac,
                                                section.fields(), "Mon, 7 Dec 2026", "<i@h>"});
    checkReply(reply);
    (void)vacationHandle(*vac);
  }
  return 0;
}
