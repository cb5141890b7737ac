// The `listeners:` section: name, bind address (no two may overlap), TLS and AUTH modes, and
// a listener's own greet_pause (smtp.greet_pause otherwise; see config.h for submission).
// A listener's `restrictions:` set name is only recorded here; finish() checks it once the
// restriction sets and the validators' verdict on them are known (restrictions.cc).
#include <fmt/format.h>

#include <map>
#include <optional>
#include <string>

#include "loader.h"
#include "petrel/core/strings.h"

namespace petrel::config::detail {

void Loader::loadListeners(const Section& top, Config& c) {
  const Field* f = top.require("listeners");
  if (f == nullptr) {
    return;
  }
  if (!f->value.IsSequence()) {
    report(*f, fmt::format("expected a list of listeners, got {}", describe(f->value)));
    return;
  }
  if (f->value.size() == 0) {
    report(*f, "at least one listener is required");
    return;
  }
  std::map<std::string, int> names;  // name -> 0-based line of its first use
  size_t i = 0;
  for (const YAML::Node& node : f->value) {
    Field entry = element(*f, node, i++);
    Section s(reporter_, entry);
    s.allowOnly({"name", "address", "tls", "auth", "auth_plaintext", "restrictions",
                 "greet_pause", "milters", "proxy_filter", "proxy_timeout", "proxy_ehlo",
                 "content_filter", "receive_override_options"});
    const Field* name_field = s.require("name");
    const Field* address_field = s.require("address");
    Listener listener;
    listener.origin = reporter_.where(entry.mark());
    bool ok = name_field != nullptr && address_field != nullptr;
    if (name_field != nullptr) {
      if (auto name = text(*name_field)) {
        if (!isName(*name)) {
          report(*name_field, fmt::format("'{}' is not a valid listener name (use letters, "
                                          "digits, '-', '_' and '.')",
                                          *name));
          ok = false;
        } else if (auto [it, fresh] = names.emplace(*name, name_field->mark().line); !fresh) {
          report(*name_field, fmt::format("duplicate listener name '{}' (first at line {})", *name,
                                          it->second + 1));
          ok = false;
        }
        listener.name = *name;
      } else {
        ok = false;
      }
    }
    if (address_field != nullptr) {
      if (auto address = endpoint(*address_field)) {
        listener.address = *address;
        for (const Listener& other : c.listeners) {
          if (overlaps(*address, other.address)) {
            report(*address_field,
                   fmt::format("{} overlaps listener '{}' ({})", address->toString(), other.name,
                               other.address.toString()));
            ok = false;
            break;
          }
        }
      } else {
        ok = false;
      }
    }
    loadListenerSecurity(s, listener);
    if (const Field* r = s.find("restrictions")) {
      if (auto set = text(*r)) {
        listener.restrictions = *set;
        restriction_refs_.push_back(*r);  // checked when the sets are known
      }
    }
    if (const Field* g = s.find("greet_pause")) {
      listener.greet_pause = greetPause(*g);
    }
    if (const Field* m = s.find("milters")) {
      listener.milters = milterList(*m);
    }
    loadProxyFilter(s, listener);
    if (const Field* o = s.find("receive_override_options")) {
      loadReceiveOverrides(*o, listener.receive_override);
    }
    if (ok) {
      if (const Field* cf = s.find("content_filter")) {
        listener_filters_.emplace_back(c.listeners.size(), *cf);  // needs the transports
      }
      c.listeners.push_back(std::move(listener));
      listener_marks_.push_back(address_field->mark());
    }
  }
}

// proxy_filter, proxy_timeout and proxy_ehlo (Postfix smtpd_proxy_filter, smtpd_proxy_timeout,
// smtpd_proxy_ehlo); the last two only with the first.
void Loader::loadProxyFilter(const Section& s, Listener& listener) {
  const Field* f = s.find("proxy_filter");
  const Field* timeout = s.find("proxy_timeout");
  const Field* ehlo = s.find("proxy_ehlo");
  if (f == nullptr) {
    for (const Field* other : {timeout, ehlo}) {
      if (other != nullptr) report(*other, "only meaningful with proxy_filter");
    }
    return;
  }
  auto t = text(*f);
  if (!t) {
    return;
  }
  auto ep = parseProxyFilterEndpoint(trim(*t));
  if (!ep) {
    report(*f, fmt::format("'{}': {}", *t, ep.error().message()));
    return;
  }
  ProxyFilter p;
  p.endpoint = std::move(*ep);
  if (timeout != nullptr) {
    if (auto v = duration(*timeout)) {
      if (*v == 0) {
        report(*timeout, "must be at least 1s");
      } else {
        p.timeout = *v;
      }
    }
  }
  if (ehlo != nullptr) {
    if (auto name = text(*ehlo)) {
      bool bad = name->empty();
      for (unsigned char c : *name) bad = bad || c <= 0x20 || c >= 0x7f;
      if (bad) {
        report(*ehlo, "expected a host name (no spaces or control characters)");
      } else {
        p.ehlo = *name;
      }
    }
  }
  listener.proxy_filter = std::move(p);
}

// tls, auth and auth_plaintext of one listener, and the one combination that cannot work.
void Loader::loadListenerSecurity(const Section& s, Listener& listener) {
  const Field* tls = s.find("tls");
  const Field* auth = s.find("auth");
  std::optional<TlsMode> tls_mode = listener.tls;
  std::optional<AuthMode> auth_mode = listener.auth;
  if (tls != nullptr) {
    tls_mode = oneOf<TlsMode>(*tls, {{"none", TlsMode::None},
                                     {"optional", TlsMode::Optional},
                                     {"required", TlsMode::Required},
                                     {"implicit", TlsMode::Implicit}});
  }
  if (auth != nullptr) {
    auth_mode = oneOf<AuthMode>(*auth, {{"none", AuthMode::None},
                                        {"optional", AuthMode::Optional},
                                        {"required", AuthMode::Required}});
  }
  std::optional<bool> plaintext = listener.auth_plaintext;
  if (const Field* p = s.find("auth_plaintext")) {
    plaintext = boolean(*p);
  }
  listener.tls = tls_mode.value_or(listener.tls);
  listener.auth = auth_mode.value_or(listener.auth);
  listener.auth_plaintext = plaintext.value_or(listener.auth_plaintext);
  // The session offers AUTH only over TLS unless auth_plaintext says otherwise (RFC 4954 4:
  // PLAIN and LOGIN send the password in the clear). Without either there is no TLS to wait
  // for, so AUTH would never appear in EHLO and auth: required would refuse every MAIL.
  if (tls_mode && auth_mode && plaintext && *auth_mode != AuthMode::None &&
      *tls_mode == TlsMode::None && !*plaintext) {
    report(*auth, "AUTH would never be offered: set tls or auth_plaintext");
  }
}

}  // namespace petrel::config::detail
