// libFuzzer target for the policy delegation protocol (source/policy/checks/policy_service.cc):
// the reply a service sends, the argument of check_policy_service, and the request built from
// client-controlled values.
//
// Input: one selector byte, then the text. Selector % 3 == 0: the text is a reply
// (policyReplyEnd, parsePolicyReply); 1: a check argument (parsePolicyServiceArgument);
// 2: the text split at NUL bytes fills HELO, sender, recipient, SASL user, client name and TLS
// cipher of a context (encodePolicyRequest). Besides crashes and sanitizer reports it aborts
// when:
//   - a reply's end is not just after a newline, or an accepted action is empty or has control
//     characters;
//   - an accepted argument's default_action or policy_context has control characters, or its
//     try_limit is 0;
//   - a request does not end with its only empty line, has a line without '=' or with a control
//     character, has not exactly 29 attributes, or has a value over 1024 octets.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/policy/policy_service.h"

namespace {

using namespace petrel::policy;

[[noreturn]] void fail(const char* what, std::string_view text) {
  std::fprintf(stderr, "policy_service_fuzz: %s\ninput (%zu bytes):", what, text.size());
  for (unsigned char c : text) std::fprintf(stderr, " %02x", c);
  std::fprintf(stderr, "\n");
  std::abort();
}

bool hasControl(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

void reply(std::string_view text) {
  size_t end = policyReplyEnd(text);
  if (end != std::string_view::npos && (end == 0 || end > text.size() || text[end - 1] != '\n')) {
    fail("reply end not after a newline", text);
  }
  auto action = parsePolicyReply(text);
  if (action && (action->empty() || hasControl(*action))) fail("bad action accepted", text);
}

void argument(std::string_view text) {
  auto spec = parsePolicyServiceArgument(text, PolicyServiceSettings{});
  if (!spec) return;
  if (hasControl(spec->settings.default_action) || hasControl(spec->settings.policy_context)) {
    fail("control character in a setting", text);
  }
  if (spec->settings.try_limit == 0) fail("try_limit 0 accepted", text);
}

void request(std::string_view text) {
  std::vector<std::string> parts(6);
  size_t i = 0;
  for (char c : text) {
    if (c == '\0') {
      if (++i == parts.size()) break;
      continue;
    }
    parts[i] += c;
  }
  PolicyContext ctx;
  ctx.helo = parts[0];
  ctx.sender = parts[1];
  ctx.recipient = parts[2];
  ctx.sasl_user = parts[3];
  ctx.client.client_name = parts[4];
  ctx.client.tls_cipher = parts[5];
  ctx.client_ip = "192.0.2.1";
  std::string out = encodePolicyRequest(ctx, Stage::Recipient, parts[0]);
  if (out.size() < 2 || out.find("\n\n") != out.size() - 2) fail("empty line not at the end", text);
  size_t lines = 0;
  size_t start = 0;
  while (start < out.size() - 1) {
    size_t nl = out.find('\n', start);
    std::string_view line(out.data() + start, nl - start);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) fail("line without '='", text);
    if (hasControl(line)) fail("control character in a line", text);
    if (line.size() - eq - 1 > MaxAttributeValue) fail("value too long", text);
    ++lines;
    start = nl + 1;
  }
  if (lines != 29) fail("not 29 attributes", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: reply(text); break;
    case 1: argument(text); break;
    default: request(text); break;
  }
  return 0;
}
