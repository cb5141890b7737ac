// runDoctor(): the DNS side of `petrel doctor` (see headers/petrel/server/doctor.h). Each
// question is asked over the config's resolver on a ProbeLoop of its own and the loop is run
// until the answer is there; the resolver's timeouts bound every wait.
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <optional>
#include <set>

#include "petrel/core/cidr.h"
#include "petrel/core/strings.h"
#include "petrel/dkim/signer.h"
#include "petrel/dns/names.h"
#include "petrel/server/doctor.h"
#include "petrel/server/probe_loop.h"
#include "petrel/tls/certificate_info.h"
#include "petrel/tls/crypto.h"

namespace petrel::server {

namespace {

using doctor::Finding;
using doctor::Verdict;
using dns::Type;

// When nothing names a list: two big lists that answer ordinary resolvers.
const std::vector<std::string> CommonDnsLists = {"zen.spamhaus.org", "bl.spamcop.net"};

class Asker {
 public:
  explicit Asker(ProbeLoop& loop) : loop_(loop) {}
  dns::Answer ask(const std::string& name, Type type) { return ask(loop_.resolver(), name, type); }
  dns::Answer ask(dns::Resolver& resolver, const std::string& name, Type type) {
    std::optional<dns::Answer> out;
    auto handle = resolver.query(name, type, [&out](dns::Answer a) { out = std::move(a); });
    loop_.runUntil([&out] { return out.has_value(); });
    return std::move(*out);
  }
  // A and AAAA of `name`, as one list.
  std::vector<std::string> addresses(const std::string& name) {
    std::vector<std::string> out = ask(name, Type::A).addresses;
    auto v6 = ask(name, Type::AAAA).addresses;
    out.insert(out.end(), v6.begin(), v6.end());
    return out;
  }

 private:
  ProbeLoop& loop_;
};

// Each server alone, one try: is it there at all?
std::vector<Finding> dnsServerChecks(ProbeLoop& loop, Asker& asker, const std::string& name) {
  std::vector<Finding> out;
  for (const std::string& server : loop.resolver().servers()) {
    dns::ResolverOptions o;
    o.servers = {server};
    o.attempts = 1;
    o.cache_max_bytes = 0;
    auto r = dns::Resolver::create(loop.dispatcher(), o);
    if (!r) {
      out.push_back({"dns-server", server, Verdict::Fail, r.error().message(),
                     "correct dns.servers"});
      continue;
    }
    out.push_back(doctor::checkDnsServer(server, asker.ask(**r, name, Type::A)));
  }
  return out;
}

// reject_rbl_client ZONE[=pattern] anywhere in the restrictions.
std::vector<std::string> dnsLists(const config::Config& cfg) {
  if (cfg.doctor.dns_lists) return *cfg.doctor.dns_lists;
  std::set<std::string> zones;
  auto scan = [&zones](const std::vector<config::CheckSpec>& list) {
    for (const auto& c : list) {
      if (!c.text.starts_with("reject_rbl_client ")) continue;
      std::string zone(trim(std::string_view(c.text).substr(18)));
      zone = zone.substr(0, zone.find('='));
      if (!zone.empty()) zones.insert(toLower(zone));
    }
  };
  for (const auto& [name, set] : cfg.restrictions) {
    for (const auto* list : {&set.client, &set.helo, &set.sender, &set.recipient, &set.data,
                             &set.end_of_data}) {
      scan(*list);
    }
  }
  if (zones.empty()) return CommonDnsLists;
  return {zones.begin(), zones.end()};
}

void dkimChecks(const config::Config& cfg, const std::string& domain, Asker& asker,
                std::vector<Finding>& out) {
  for (const auto& e : cfg.dkim.sign) {
    if (e.domain != domain) continue;
    std::string key_data, record, key_error;
    auto key = tls::PrivateKey::fromPemFile(e.key);
    if (!key) {
      key_error = key.error().message();
    } else {
      key_data = key->publicKey().dkimKeyData();
      record = dkim::keyRecordText(key->publicKey());
    }
    dns::Answer txt;
    if (key_error.empty()) {
      txt = asker.ask(fmt::format("{}._domainkey.{}", e.selector, domain), Type::TXT);
    }
    out.push_back(doctor::checkDkim(domain, e.selector, key_data, record, key_error, txt));
  }
}

void domainChecks(const config::Config& cfg, const std::string& domain,
                  const std::vector<std::string>& ours, ProbeLoop& loop, Asker& asker,
                  std::vector<Finding>& out) {
  dns::Answer mx = asker.ask(domain, Type::MX);
  std::map<std::string, std::vector<std::string>> exchanges;
  for (const auto& r : mx.mx) {
    if (r.exchange != "." && !exchanges.count(r.exchange)) {
      exchanges[r.exchange] = asker.addresses(r.exchange);
    }
  }
  out.push_back(doctor::checkMx(domain, cfg.hostname, ours, mx, exchanges));
  for (const auto& address : ours) {
    spf::Request request =
        spf::mailFromRequest(address, "postmaster@" + domain, cfg.hostname);
    request.receiver = cfg.hostname;
    std::optional<spf::Report> report;
    auto evaluation = spf::checkHost(loop.resolver(), request,
                                     [&report](spf::Report r) { report = std::move(r); });
    loop.runUntil([&report] { return report.has_value(); });
    out.push_back(doctor::checkSpf(domain, address, *report));
  }
  dkimChecks(cfg, domain, asker, out);
  out.push_back(doctor::checkDmarc(domain, asker.ask("_dmarc." + domain, Type::TXT)));
}

std::vector<Finding> certificateChecks(const config::Config& cfg, int64_t now) {
  std::vector<Finding> out;
  bool tls_listener = std::any_of(cfg.listeners.begin(), cfg.listeners.end(), [](const auto& l) {
    return l.tls != config::TlsMode::None;
  });
  if (cfg.tls.certificates.empty()) {
    if (tls_listener) {
      out.push_back({"tls", cfg.hostname, Verdict::Warn,
                     "no tls.certificates: the listeners use a self-signed certificate, which "
                     "clients that verify refuse",
                     "configure tls.certificates (e.g. from Let's Encrypt)"});
    } else {
      out.push_back({"tls", cfg.hostname, Verdict::Warn, "no listener offers TLS",
                     "set tls: optional on the MX listener and configure tls.certificates"});
    }
    return out;
  }
  for (size_t i = 0; i < cfg.tls.certificates.size(); ++i) {
    doctor::CertificateState s;
    s.path = cfg.tls.certificates[i].cert;
    auto info = tls::readCertificateInfo(s.path);
    if (!info) {
      s.error = info.error().message();
    } else {
      for (const auto& n : info->names) {  // the CN is usually also a subjectAltName
        if (std::find(s.names.begin(), s.names.end(), n) == s.names.end()) s.names.push_back(n);
      }
      s.not_after = info->not_after;
    }
    out.push_back(doctor::checkCertificate(cfg.hostname, s, now,
                                           int64_t(cfg.doctor.certificate_warning / 86400),
                                           i == 0));
  }
  return out;
}

}  // namespace

std::vector<Finding> runDoctor(const config::Config& cfg, const DoctorOptions& options) {
  std::vector<Finding> out;
  int64_t now = int64_t(::time(nullptr));
  std::vector<std::string> domains;
  if (!options.domain.empty()) {
    domains.push_back(toLower(options.domain));
  } else {
    domains = cfg.local_domains;
    if (cfg.local_domains_table) {
      out.push_back({"config", "domains.local", Verdict::Warn,
                     "the local domains are a table: their DNS is not checked",
                     "run petrel doctor --domain D for each"});
    }
  }
  std::vector<std::string> ours = cfg.doctor.addresses;
  {
    ProbeLoop loop;
    if (Status st = loop.start(cfg); !st) {
      out.push_back({"config", "dns.servers", Verdict::Fail, st.error().message(),
                     "correct dns.servers"});
    } else {
      Asker asker(loop);
      auto servers = dnsServerChecks(loop, asker, cfg.hostname);
      bool any = std::any_of(servers.begin(), servers.end(),
                             [](const Finding& f) { return f.verdict == Verdict::Pass; });
      out.insert(out.end(), servers.begin(), servers.end());
      if (!any) {
        out.push_back({"dns", cfg.hostname, Verdict::Fail,
                       "no DNS server answers: the DNS checks were skipped",
                       "see the dns-server lines"});
      } else {
        dns::Answer a = asker.ask(cfg.hostname, Type::A);
        dns::Answer aaaa = asker.ask(cfg.hostname, Type::AAAA);
        out.push_back(doctor::checkHostAddresses(cfg.hostname, a, aaaa, cfg.doctor.addresses));
        if (ours.empty()) {
          ours = a.addresses;
          ours.insert(ours.end(), aaaa.addresses.begin(), aaaa.addresses.end());
        }
        for (const auto& address : ours) {
          auto name = dns::reverseName(address);
          if (!name) continue;
          dns::Answer ptr = asker.ask(*name, Type::PTR);
          std::map<std::string, std::vector<std::string>> forward;
          for (const auto& n : ptr.ptr) forward[n] = asker.addresses(n);
          out.push_back(doctor::checkPtr(address, cfg.hostname, ptr, forward));
        }
        for (const auto& domain : domains) domainChecks(cfg, domain, ours, loop, asker, out);
        for (const auto& address : ours) {
          for (const auto& zone : dnsLists(cfg)) {
            auto name = dns::reverseName(address, zone);
            if (!name) continue;
            dns::Answer listed = asker.ask(*name, Type::A);
            dns::Answer reason;
            if (listed.found()) reason = asker.ask(*name, Type::TXT);
            out.push_back(doctor::checkDnsList(address, zone, listed, reason));
          }
        }
      }
    }
  }
  auto add = [&out](std::vector<Finding> more) {
    out.insert(out.end(), more.begin(), more.end());
  };
  add(certificateChecks(cfg, now));
  add(doctorPortChecks(cfg));
  out.push_back(doctorRelayCheck(cfg, ours));
  add(doctorHostChecks(cfg, now));
  add(doctorTableChecks(cfg));
  return out;
}

}  // namespace petrel::server
