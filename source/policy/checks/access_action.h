// The value of a Postfix access(5) table entry, parsed into what it means for the restriction
// list: a decision (OK, REJECT, 4NN/5NN text, ...), a pending deferral (DEFER_IF_PERMIT,
// DEFER_IF_REJECT), an action for the message that lets the list go on (PREPEND, HOLD, DISCARD,
// REDIRECT, FILTER, WARN, INFO), or the name of a restriction class to run in its place.
// Internal to source/policy/checks/; pure (no table, no DNS, no logging: a configuration
// problem comes back as a 451 4.3.5 decision with a ConfigWarning action the driver logs).
#pragma once

#include <string>
#include <string_view>

#include "petrel/policy/check.h"

namespace petrel::policy::checks {

// What matched, as the reply and log texts name it.
struct AccessSubject {
  std::string rejected;  // "<a@b>: Sender address rejected", "Client host [192.0.2.7]"
  std::string triggers;  // "<a@b>: Sender address", "Client host [192.0.2.7]"
};

struct AccessAction {
  Decision decision;
  // Not empty: the value is one word that is no action, so it names a restriction class; the
  // caller runs the class or, when there is none of that name, answers unknownClass().
  std::string restriction_class;
};

// `rule` names the check for Decision::rule; `table` the table, for configuration warnings.
AccessAction parseAccessAction(std::string_view rule, std::string_view table,
                               std::string_view value, const AccessSubject& subject);

// 451 4.3.5 Server configuration error, with a warning naming the table and the value (Postfix:
// an unknown restriction class or a value that is no action).
Decision accessConfigError(std::string_view rule, std::string_view table, std::string_view value,
                           const AccessSubject& subject, std::string_view why);

// Is `word` (any case) one of access(5)'s action words (a class may not be named so)?
bool isAccessActionWord(std::string_view word);

}  // namespace petrel::policy::checks
