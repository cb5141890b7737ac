// libFuzzer target: what `sendmail` and the pickup parse (docs/sendmail.md): maildrop records
// (source/queue/maildrop.cc), the message work (source/cli/sendmail_message.cc) and the -bs
// dialog (source/cli/sendmail_smtp.cc). The first byte selects: 0 a maildrop record, 1 a
// message in wire format (with -t), else -bs client lines separated by LF.
// It aborts when an invariant breaks:
// - a parsed record does not format back to the same bytes, or one with a CR, LF or NUL in
//   an envelope line parses;
// - a prepared message lacks From:, Date: or Message-ID:, keeps a Bcc: field, or gives a
//   recipient with white space or a line break;
// - the dialog delivers a message without a recipient, a sender with a control character, or
//   replies with anything but CRLF-ended lines starting with three digits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "petrel/core/strings.h"
#include "petrel/queue/maildrop.h"
#include "../../source/cli/sendmail_message.h"
#include "../../source/cli/sendmail_smtp.h"

using namespace petrel;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void record(std::string_view text) {
  auto r = queue::parseMaildrop(text, 1 << 20);
  if (!r) return;
  auto again = queue::formatMaildrop(*r);
  check(bool(again));
  // The record's own lines may be in another order; the format of the parse is a fixpoint.
  auto twice = queue::parseMaildrop(*again, 1 << 20);
  check(bool(twice) && twice->content == r->content && twice->recipients == r->recipients);
  check(*queue::formatMaildrop(*twice) == *again);
  for (const std::string& a : r->recipients) check(!hasControlCharacter(a));
  check(!hasControlCharacter(r->sender));
}

void message(std::string_view text) {
  cli::MessageInput in(true);
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    in.addLine(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  cli::PrepareContext ctx;
  ctx.extract_recipients = true;
  ctx.sender = "a@h.example";
  ctx.origin = "h.example";
  ctx.date = "Mon, 7 Dec 2026 16:00:00 +0000";
  ctx.unique = "1.2";
  cli::PreparedMessage p = cli::prepareMessage(in.wire(), ctx);
  size_t end = p.content.find("\r\n\r\n");
  check(end != std::string::npos);
  std::string header = "\r\n" + toLower(p.content.substr(0, end + 2));
  check(header.find("\r\nfrom:") != std::string::npos);
  check(header.find("\r\ndate:") != std::string::npos);
  check(header.find("\r\nmessage-id:") != std::string::npos);
  check(header.find("\r\nbcc:") == std::string::npos);
  for (const std::string& r : p.recipients) {
    check(!r.empty() && r.find_first_of(" \t\r\n") == std::string::npos);
  }
}

void dialog(std::string_view text) {
  cli::LocalSmtpDialog d("h.example", 4096, [](cli::LocalSmtpDialog::Message&& m) {
    check(!m.recipients.empty());
    check(!hasControlCharacter(m.sender));
    return std::string("250 2.0.0 Ok: queued as X\r\n");
  });
  size_t pos = 0;
  while (pos <= text.size() && !d.finished()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string out = d.onLine(text.substr(pos, nl - pos));
    pos = nl + 1;
    size_t at = 0;
    while (at < out.size()) {
      size_t eol = out.find("\r\n", at);
      check(eol != std::string::npos && eol - at >= 3);
      for (size_t i = at; i < at + 3; ++i) check(out[i] >= '0' && out[i] <= '9');
      at = eol + 2;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] == 0) {
    record(text);
  } else if (data[0] == 1) {
    message(text);
  } else {
    dialog(text);
  }
  return 0;
}
