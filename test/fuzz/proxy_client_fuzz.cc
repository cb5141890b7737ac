// libFuzzer target for smtp::ProxyClient (the before-queue filter's client) and, through it,
// smtp::ReplyReader: arbitrary filter bytes, split into arbitrary reads, with the driver's
// requests and timeouts in between.
//
// Besides crashes and sanitizer reports it aborts on:
//   - a request answered twice, or an answer without a request in flight (an unsolicited
//     reply must fail, not answer);
//   - an answer while a request is still busy(), or busy() after its answer or a failure;
//   - a sent line that is not CRLF-terminated, has a control character, or is over 512 octets;
//   - a difference between feeding the reads as given and feeding every byte on its own.
//
// Input: filter bytes; 0xFF starts an event: 'm' MAIL (with XFORWARD attributes, one of them
// with control characters and one 600 octets long), 'r' RCPT, 'd' DATA, 'e' end of data (each
// only when no request is in flight and the client has not failed), 't' the driver's timeout,
// 0xFF 0xFF a literal 0xFF, 0xFF and anything else a read boundary.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/smtp/proxy_client.h"

namespace {

using namespace petrel::smtp;

[[noreturn]] void fail(const std::string& what, const std::string& transcript) {
  std::fprintf(stderr, "proxy_client_fuzz: %s\n--- transcript ---\n%s\n", what.c_str(),
               transcript.c_str());
  std::abort();
}

struct Run {
  ProxyClient client{"mx.example"};
  std::string transcript;
  bool in_flight = false;

  void take(const ProxyClient::Step& s) {
    size_t start = 0;
    while (start < s.send.size()) {
      size_t end = s.send.find("\r\n", start);
      if (end == std::string::npos) fail("unterminated line sent", transcript);
      std::string_view line(s.send.data() + start, end - start);
      if (line.size() + 2 > 512) fail("line over 512 octets", transcript);
      for (unsigned char c : line) {
        if (c < 0x20 || c == 0x7f) fail("control character sent", transcript);
      }
      transcript += "> " + std::string(line) + "\n";
      start = end + 2;
    }
    if (s.answer) {
      if (!in_flight) fail("answer without a request", transcript);
      if (client.busy()) fail("busy after its answer", transcript);
      in_flight = false;
      transcript += "= " + s.answer->oneLine() + "\n";
    }
    if (s.failure) {
      // A reply and garbage in one read: the answer stands, then the connection failed.
      if (client.busy()) fail("busy after a failure", transcript);
      in_flight = false;
      transcript += "! " + *s.failure + "\n";
    }
  }

  void request(char what) {
    if (client.busy() || client.failed()) return;
    in_flight = true;
    switch (what) {
      case 'm':
        take(client.mail({{"NAME", "bad\r\nname"},
                          {"ADDR", "192.0.2.1"},
                          {"HELO", std::string(600, 'h')},
                          {"PROTO", "ESMTP"}},
                         "MAIL FROM:<a@b.example>"));
        break;
      case 'r':
        take(client.rcpt("RCPT TO:<c@d.example>"));
        break;
      case 'd':
        take(client.data());
        break;
      default:
        take(client.endOfData());
        break;
    }
    if (!client.busy() && in_flight && !client.failed()) {
      // Answered at once is not possible: a reply must come from the filter.
      fail("request neither in flight nor answered", transcript);
    }
    if (client.failed()) in_flight = false;
  }
};

std::string runAll(std::string_view input, bool bytewise) {
  Run r;
  std::string pending;
  auto flush = [&] {
    if (pending.empty()) return;
    if (bytewise) {
      for (char c : pending) r.take(r.client.onInput(std::string_view(&c, 1)));
    } else {
      r.take(r.client.onInput(pending));
    }
    pending.clear();
  };
  for (size_t i = 0; i < input.size(); ++i) {
    unsigned char c = input[i];
    if (c != 0xFF || i + 1 == input.size()) {
      pending += char(c);
      continue;
    }
    char e = input[++i];
    if (static_cast<unsigned char>(e) == 0xFF) {
      pending += char(0xFF);
      continue;
    }
    flush();
    if (e == 'm' || e == 'r' || e == 'd' || e == 'e') {
      r.request(e);
    } else if (e == 't') {
      r.take(r.client.fail("timeout"));
      r.in_flight = false;
    }
  }
  flush();
  return r.transcript;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string whole = runAll(input, false);
  std::string bytes = runAll(input, true);
  if (whole != bytes) fail("byte-wise feeding differs", whole + "\n--- byte-wise ---\n" + bytes);
  return 0;
}
