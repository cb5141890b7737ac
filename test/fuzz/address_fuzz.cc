// libFuzzer target for MAIL FROM / RCPT TO parsing and xtext (source/smtp/address.cc).
//
// Input: one flag byte (bit 0: RCPT instead of MAIL; bit 1: SMTPUTF8 in effect for RCPT), then
// the argument after "MAIL FROM:" / "RCPT TO:". Besides crashes and sanitizer reports it aborts
// when:
//   - an accepted address has control characters, is longer than 254 octets, is non-ASCII
//     without SMTPUTF8, or is not valid UTF-8;
//   - an accepted address does not parse again, to itself, from "<address>";
//   - a kept DSN value (ENVID, ORCPT) has control characters, or ENVID is not ASCII or is over
//     100 characters;
//   - a refusal is not a 5xx reply with an enhanced code, or its text has control characters
//     or makes a reply line over 512 octets (replies echo parts of the argument).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "petrel/smtp/address.h"

namespace {

using namespace petrel::smtp;

[[noreturn]] void fail(const char* what, std::string_view arg) {
  std::fprintf(stderr, "address_fuzz: %s\ninput (%zu bytes):", what, arg.size());
  for (unsigned char c : arg) std::fprintf(stderr, " %02x", c);
  std::fprintf(stderr, "\n");
  std::abort();
}

bool hasControl(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

bool isAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

// Independent of address.cc's validator on purpose.
bool validUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n < 0 || i + n >= s.size()) return false;
    uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1f) : n == 2 ? (c & 0x0f) : (c & 0x07);
    for (int k = 1; k <= n; ++k) {
      unsigned char cc = s[i + k];
      if ((cc >> 6) != 2) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t Min[] = {0, 0x80, 0x800, 0x10000};
    if (cp < Min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

void checkRefusal(const ParseFailure& f, std::string_view arg) {
  const Reply& r = f.reply;
  if (r.code < 500 || r.code > 599 || r.enhanced.empty() || r.lines.size() != 1) {
    fail("refusal is not a one-line 5xx reply with an enhanced code", arg);
  }
  std::string wire = r.wire();
  if (wire.size() > 512) fail("refusal reply line longer than 512 octets", arg);
  if (hasControl(wire.substr(0, wire.size() - 2))) fail("control character in a reply", arg);
}

void checkAddress(const Address& a, bool utf8, bool sender, std::string_view arg) {
  if (a.isNull()) {
    if (!sender) fail("null recipient accepted", arg);
    return;
  }
  if (hasControl(a.text)) fail("control character in an accepted address", arg);
  if (a.text.size() > 254) fail("accepted address longer than a 256-octet path", arg);
  if (!isAscii(a.text) && !utf8) fail("non-ASCII address without SMTPUTF8", arg);
  if (!validUtf8(a.text)) fail("accepted address is not UTF-8", arg);
  if (a.isAscii() != isAscii(a.text)) fail("isAscii() wrong", arg);
  std::string again = "<" + a.text + ">";
  if (sender) {
    MailParams m;
    if (parseMailFrom(utf8 ? again + " SMTPUTF8" : again, m)) fail("sender does not re-parse", arg);
    if (m.sender.text != a.text) fail("sender re-parses differently", arg);
  } else {
    RcptParams r;
    if (parseRcptTo(again, utf8, r)) fail("recipient does not re-parse", arg);
    if (r.recipient.text != a.text) fail("recipient re-parses differently", arg);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool rcpt = data[0] & 1;
  const bool utf8 = data[0] & 2;
  std::string_view arg(reinterpret_cast<const char*>(data + 1), size - 1);

  // decodeXtext on the whole argument: never longer than its input, never crashes.
  if (auto x = decodeXtext(arg); x && x->size() > arg.size()) fail("xtext grew", arg);

  if (!rcpt) {
    MailParams m;
    if (auto f = parseMailFrom(arg, m)) {
      checkRefusal(*f, arg);
      return 0;
    }
    checkAddress(m.sender, m.smtputf8, true, arg);
    if (hasControl(m.dsn_envid) || !isAscii(m.dsn_envid) || m.dsn_envid.size() > 100) {
      fail("bad ENVID kept", arg);
    }
    if (!m.body.empty() && m.body != "7BIT" && m.body != "8BITMIME") fail("bad BODY kept", arg);
    if (!m.dsn_ret.empty() && m.dsn_ret != "FULL" && m.dsn_ret != "HDRS") fail("bad RET", arg);
  } else {
    RcptParams r;
    if (auto f = parseRcptTo(arg, utf8, r)) {
      checkRefusal(*f, arg);
      return 0;
    }
    checkAddress(r.recipient, utf8, false, arg);
    if (hasControl(r.dsn_orcpt)) fail("control character in ORCPT", arg);
    if (!utf8 && !isAscii(r.dsn_orcpt.substr(0, r.dsn_orcpt.find(';')))) {
      fail("non-ASCII ORCPT address type", arg);
    }
  }
  return 0;
}
