// libFuzzer target for access(5) table values (source/policy/checks/access_action.cc): a value
// from a table (perhaps SQL or LDAP, so untrusted) parsed into a decision and actions.
// Invariants: a refusal is 4xx or 5xx with a text; a configuration error is 451 4.3.5 with a
// warning, never a permanent refusal; no reply, log or header text carries a line break;
// a restriction class name is one word; PREPEND gives a "Name: value" field.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "../../source/policy/checks/access_action.h"

using namespace petrel::policy;

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}
bool oneLine(const std::string& s) { return s.find_first_of("\r\n") == std::string::npos; }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string value(reinterpret_cast<const char*>(data), size);
  const checks::AccessSubject subject{"<a@b>: Sender address rejected", "<a@b>: Sender address"};
  checks::AccessAction a =
      checks::parseAccessAction("check_sender_access t", "inline:t", value, subject);
  const Decision& d = a.decision;
  if (!a.restriction_class.empty()) {
    check(a.restriction_class.find_first_of(" \t") == std::string::npos);
    check(d.kind == Decision::Kind::Dunno);
  }
  if (d.kind == Decision::Kind::Reject) check(d.code >= 500 && d.code <= 599);
  if (d.kind == Decision::Kind::Defer) check(d.code >= 400 && d.code <= 499);
  if (d.pending != Decision::Pending::None) check(d.code == 450 && d.kind == Decision::Kind::Dunno);
  check(oneLine(d.text) && oneLine(d.enhanced));
  for (const PolicyAction& act : d.actions) {
    check(oneLine(act.text) && oneLine(act.target));
    if (act.kind == PolicyAction::Kind::AddHeader) check(act.text.find(':') != std::string::npos);
    if (act.kind == PolicyAction::Kind::ConfigWarning)
      check(d.code == 451 && d.enhanced == "4.3.5");
  }
  return 0;
}
