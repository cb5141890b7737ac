// The `policy_service:` section: how check_policy_service talks to policy services where a
// check does not say otherwise (Postfix's smtpd_policy_service_* parameters). Each check may
// override them in Postfix 3's syntax inside its list entry; policy/ parses that part.
#include <fmt/format.h>

#include "loader.h"
#include "petrel/core/strings.h"

namespace petrel::config::detail {

void Loader::loadPolicyService(const Section& top, Config& c) {
  const Field* f = top.find("policy_service");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"timeout", "max_idle", "max_ttl", "try_limit", "retry_delay", "request_limit",
               "default_action", "policy_context"});
  PolicyService& p = c.policy_service;
  for (auto [key, out] : {std::pair<std::string_view, uint64_t*>{"timeout", &p.timeout},
                          {"max_idle", &p.max_idle},
                          {"max_ttl", &p.max_ttl},
                          {"retry_delay", &p.retry_delay}}) {
    if (const Field* d = s.find(key)) {
      // No delay between tries is a choice (duration() takes no zero).
      if (key == "retry_delay" && d->value.IsScalar() &&
          (d->value.Scalar() == "0" || d->value.Scalar() == "0s")) {
        *out = 0;
        continue;
      }
      if (auto v = duration(*d)) {
        *out = *v;
      }
    }
  }
  setNumber(s, "try_limit", p.try_limit, 1);
  setNumber(s, "request_limit", p.request_limit, 0);
  for (auto [key, out] :
       {std::pair<std::string_view, std::string*>{"default_action", &p.default_action},
        {"policy_context", &p.policy_context}}) {
    if (const Field* t = s.find(key)) {
      auto v = text(*t);
      if (!v) {
        continue;
      }
      if (hasControlChars(*v)) {
        report(*t, "must not contain control characters");
      } else if (key == "default_action" && trim(*v).empty()) {
        report(*t, "must not be empty (an access(5) action such as DUNNO or \"451 4.3.5 text\")");
      } else {
        *out = std::string(trim(*v));
      }
    }
  }
}

}  // namespace petrel::config::detail
