// The `relay:` section, outbound SMTP: relayhost and its credentials (the password from a
// file, never from the YAML), the transport and TLS policy tables, timeouts, concurrency, and
// relay.mynetworks, the clients permit_mynetworks permits (parsed with core's Cidr, as the
// server does, so the two cannot disagree).
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "loader.h"
#include "petrel/core/cidr.h"

namespace petrel::config::detail {

void Loader::loadRelay(const Section& top, Config& c) {
  c.relay.mynetworks_origin = BuiltIn;
  const Field* f = top.find("relay");
  if (f == nullptr) {
    return;
  }
  Section s(reporter_, *f);
  s.allowOnly({"mynetworks", "relayhost", "relayhost_auth", "transport", "tls", "tls_policy",
               "tls_ca_file", "destination_concurrency", "connection_cache_time", "timeouts"});
  Relay& r = c.relay;
  if (const Field* h = s.find("relayhost"); h != nullptr && !h->value.IsNull()) {
    if (auto v = scalar(*h, "a next hop such as [smtp.example.net]:587 or example.net")) {
      if (auto hop = parseNextHop(*v)) {
        r.relayhost = *hop;
      } else {
        report(*h, hop.error().message());
      }
    }
  }
  if (const Field* a = s.find("relayhost_auth"); a != nullptr && !a->value.IsNull()) {
    loadRelayhostAuth(*a, r);
    if (!r.relayhost) {
      report(*a, "is used only with relay.relayhost, which is not set");
    }
  }
  if (const Field* t = s.find("transport"); t != nullptr && !t->value.IsNull()) {
    r.transport = tableRef(*t, c);
  }
  if (const Field* t = s.find("tls")) {
    if (auto p = oneOf<TlsPolicy>(*t, {{"none", TlsPolicy::None},
                                       {"may", TlsPolicy::May},
                                       {"encrypt", TlsPolicy::Encrypt},
                                       {"verify", TlsPolicy::Verify}})) {
      r.tls = *p;
    }
  }
  if (const Field* t = s.find("tls_policy"); t != nullptr && !t->value.IsNull()) {
    r.tls_policy = tableRef(*t, c);
  }
  setPath(s, "tls_ca_file", r.tls_ca_file);
  setNumber(s, "destination_concurrency", r.destination_concurrency, 1);
  setDuration(s, "connection_cache_time", r.connection_cache_time);
  if (const Field* t = s.find("timeouts")) {
    Section ts(reporter_, *t);
    ts.allowOnly({"connect", "greeting", "command", "data_init", "data_block", "data_done"});
    setDuration(ts, "connect", r.timeouts.connect);
    setDuration(ts, "greeting", r.timeouts.greeting);
    setDuration(ts, "command", r.timeouts.command);
    setDuration(ts, "data_init", r.timeouts.data_init);
    setDuration(ts, "data_block", r.timeouts.data_block);
    setDuration(ts, "data_done", r.timeouts.data_done);
  }
  if (const Field* m = s.find("mynetworks")) {
    loadMynetworks(*m, c);
  }
}

// relay.mynetworks: a list of networks, or a table reference.
void Loader::loadMynetworks(const Field& m, Config& c) {
  // A table reference; a lone network is a forgotten list, not a table name.
  if (m.value.IsScalar() && !Cidr::parse(m.value.Scalar()).ok()) {
    c.relay.mynetworks_table = tableRef(m, c);
    c.relay.mynetworks.clear();
    c.relay.mynetworks_origin = reporter_.where(m.mark());
    return;
  }
  // null is refused rather than guessed: "nobody" and "the default" are both plausible readings.
  if (!m.value.IsSequence()) {
    report(m, fmt::format("expected a list of networks such as [127.0.0.1/32, \"::1/128\"] "
                          "([] for none) or a table reference, got {}",
                          describe(m.value)));
    return;
  }
  std::vector<std::string> blocks;
  size_t i = 0;
  for (const YAML::Node& node : m.value) {
    Field item = element(m, node, i++);
    auto text = scalar(item, "a network such as 192.0.2.0/24");
    if (!text) {
      continue;
    }
    Result<Cidr> cidr = Cidr::parse(*text);
    if (!cidr) {
      report(item, cidr.error().message());
      continue;
    }
    blocks.push_back(cidr->toString());  // canonical: "127.0.0.1" -> "127.0.0.1/32"
  }
  c.relay.mynetworks = std::move(blocks);
  c.relay.mynetworks_origin = reporter_.where(m.mark());
}
// relay.relayhost_auth: the password comes from a file (first line), never from the YAML,
// so the config can be world-readable while the password file is not.
void Loader::loadRelayhostAuth(const Field& f, Relay& r) {
  Section s(reporter_, f);
  if (!s.isMapping()) {
    return;
  }
  s.allowOnly({"user", "password_file", "plaintext"});
  Relay::Credentials cred;
  if (const Field* u = s.require("user", "(the SASL user name for the relayhost)")) {
    if (auto v = text(*u)) {
      if (v->empty() || hasControlChars(*v)) {
        report(*u, "must be a non-empty name without control characters");
      } else {
        cred.user = *v;
      }
    }
  }
  const Field* pf = s.require("password_file", "(a file whose first line is the password)");
  if (pf != nullptr) {
    if (auto p = path(*pf)) {
      cred.password_file = *p;
      std::ifstream in(*p);
      std::string line;
      if (!in || !std::getline(in, line)) {
        report(*pf, fmt::format("cannot read {}: {}", *p, strerror(errno)));
      } else {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) {
          report(*pf, fmt::format("{}: the first line (the password) is empty", *p));
        }
        cred.password = std::move(line);
      }
    }
  }
  setBool(s, "plaintext", cred.plaintext);
  if (!cred.user.empty() && !cred.password.empty()) {
    r.relayhost_auth = std::move(cred);
  }
}

}  // namespace petrel::config::detail
