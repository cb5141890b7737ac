// The decisions of `petrel doctor`; see headers/petrel/doctor/checks.h. Text from the DNS or
// a peer is shown with control characters escaped (it reaches a terminal and a web page).
#include "petrel/doctor/checks.h"

#include <fmt/format.h>

#include <algorithm>

#include "petrel/core/strings.h"
#include "petrel/dkim/signature.h"
#include "petrel/dmarc/record.h"
#include "petrel/dns/mx.h"

namespace petrel::doctor {

namespace {

std::string clean(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7f ? fmt::format("\\x{:02x}", u) : std::string(1, c);
  }
  return out;
}

std::string joined(const std::vector<std::string>& items, std::string_view sep = ", ") {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += clean(i);
  }
  return out;
}

Finding make(std::string check, std::string_view subject, Verdict v, std::string what,
             std::string fix = {}) {
  return Finding{std::move(check), std::string(subject), v, std::move(what), std::move(fix)};
}

bool contains(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// "192.0.2.1" -> "A", anything with a colon -> "AAAA": the record type to publish.
std::string_view addressType(std::string_view a) {
  return a.find(':') == std::string_view::npos ? "A" : "AAAA";
}

std::string tempFailText(const dns::Answer& a) {
  return a.error.empty() ? "no answer" : clean(a.error);
}

constexpr std::string_view DnsFix = "check dns.servers and that the zone's name servers answer";

}  // namespace

std::string_view verdictName(Verdict v) {
  switch (v) {
    case Verdict::Pass: return "pass";
    case Verdict::Warn: return "warn";
    case Verdict::Fail: return "fail";
  }
  return "?";
}

int exitStatus(const std::vector<Finding>& findings) {
  int status = 0;
  for (const auto& f : findings) {
    status = std::max(status, f.verdict == Verdict::Fail ? 2 : f.verdict == Verdict::Warn ? 1 : 0);
  }
  return status;
}

std::string reportText(const std::vector<Finding>& findings) {
  std::string out;
  size_t counts[3] = {0, 0, 0};
  for (const auto& f : findings) {
    ++counts[static_cast<int>(f.verdict)];
    out += fmt::format("{} {} {}: {}", verdictName(f.verdict), f.check, clean(f.subject),
                       clean(f.what));
    if (!f.fix.empty()) out += fmt::format(" -- fix: {}", clean(f.fix));
    out += "\n";
  }
  out += fmt::format("doctor: {} pass, {} warn, {} fail\n", counts[0], counts[1], counts[2]);
  return out;
}

std::string reportJson(const std::vector<Finding>& findings) {
  int status = exitStatus(findings);
  std::string out = fmt::format("{{\"status\":\"{}\",\"exit\":{},\"findings\":[",
                                verdictName(static_cast<Verdict>(status)), status);
  for (size_t i = 0; i < findings.size(); ++i) {
    const auto& f = findings[i];
    out += fmt::format(
        "{}{{\"check\":\"{}\",\"subject\":\"{}\",\"verdict\":\"{}\",\"what\":\"{}\","
        "\"fix\":\"{}\"}}",
        i ? "," : "", jsonEscape(f.check), jsonEscape(f.subject), verdictName(f.verdict),
        jsonEscape(f.what), jsonEscape(f.fix));
  }
  return out + "]}\n";
}

Finding checkHostAddresses(std::string_view hostname, const dns::Answer& a,
                           const dns::Answer& aaaa, const std::vector<std::string>& configured) {
  using S = dns::Answer::Status;
  if (a.status == S::TempFail && aaaa.status == S::TempFail) {
    return make("host", hostname, Verdict::Warn,
                fmt::format("A/AAAA lookup failed: {}", tempFailText(a)), std::string(DnsFix));
  }
  std::vector<std::string> found = a.addresses;
  found.insert(found.end(), aaaa.addresses.begin(), aaaa.addresses.end());
  if (found.empty()) {
    std::string address = configured.empty() ? "<address>" : configured.front();
    return make("host", hostname, Verdict::Fail, "the host name has no A or AAAA record",
                fmt::format("publish \"{}. IN {} {}\"", hostname, addressType(address), address));
  }
  for (const auto& c : configured) {
    if (!contains(found, c)) {
      return make("host", hostname, Verdict::Fail,
                  fmt::format("doctor.addresses has {} but the host name resolves to {}", c,
                              joined(found)),
                  fmt::format("publish \"{}. IN {} {}\" (or correct doctor.addresses)", hostname,
                              addressType(c), c));
    }
  }
  return make("host", hostname, Verdict::Pass, fmt::format("resolves to {}", joined(found)));
}

Finding checkMx(std::string_view domain, std::string_view hostname,
                const std::vector<std::string>& our_addresses, const dns::Answer& mx,
                const std::map<std::string, std::vector<std::string>>& exchange_addresses) {
  using S = dns::Answer::Status;
  std::string publish = fmt::format("publish \"{}. IN MX 10 {}.\"", domain, hostname);
  switch (mx.status) {
    case S::TempFail:
      return make("mx", domain, Verdict::Warn,
                  fmt::format("MX lookup failed: {}", tempFailText(mx)), std::string(DnsFix));
    case S::NxDomain:
      return make("mx", domain, Verdict::Fail, "the domain does not exist in the DNS",
                  "delegate the domain and " + publish);
    case S::NoData:
      return make("mx", domain, Verdict::Fail,
                  "no MX record (senders fall back to the domain's A record)", publish);
    case S::Found: break;
  }
  if (dns::isNullMx(mx.mx)) {
    return make("mx", domain, Verdict::Fail,
                "a null MX (RFC 7505): the domain says it accepts no mail",
                "replace \"MX 0 .\" and " + publish);
  }
  std::vector<std::string> ours, others;
  for (const auto& r : mx.mx) {
    bool us = r.exchange == hostname;
    if (auto it = exchange_addresses.find(r.exchange); !us && it != exchange_addresses.end()) {
      for (const auto& addr : it->second) us = us || contains(our_addresses, addr);
    }
    (us ? ours : others).push_back(fmt::format("{} {}", r.preference, r.exchange));
  }
  if (ours.empty()) {
    return make("mx", domain, Verdict::Fail,
                fmt::format("the MX records ({}) point at other hosts, not at {}",
                            joined(others), hostname),
                publish);
  }
  std::string what = fmt::format("MX {} is this host", joined(ours));
  if (!others.empty()) what += fmt::format("; also {}", joined(others));
  return make("mx", domain, Verdict::Pass, what);
}

Finding checkPtr(std::string_view address, std::string_view hostname, const dns::Answer& ptr,
                 const std::map<std::string, std::vector<std::string>>& forward) {
  using S = dns::Answer::Status;
  std::string ask = fmt::format("ask the owner of {} (the ISP or hosting provider) to set its "
                                "PTR record to {}",
                                address, hostname);
  if (ptr.status == S::TempFail) {
    return make("ptr", address, Verdict::Warn,
                fmt::format("PTR lookup failed: {}", tempFailText(ptr)), std::string(DnsFix));
  }
  if (!ptr.found() || ptr.ptr.empty()) {
    return make("ptr", address, Verdict::Fail,
                "no PTR record: many receivers refuse mail from addresses without one", ask);
  }
  std::vector<std::string> confirmed;
  for (const auto& name : ptr.ptr) {
    auto it = forward.find(name);
    if (it != forward.end() && contains(it->second, address)) confirmed.push_back(name);
  }
  if (confirmed.empty()) {
    return make("ptr", address, Verdict::Fail,
                fmt::format("the PTR name {} does not resolve back to {} (no forward "
                            "confirmation)",
                            joined(ptr.ptr), address),
                fmt::format("publish \"{}. IN {} {}\", or {}", ptr.ptr.front(),
                            addressType(address), address, ask));
  }
  if (!contains(confirmed, hostname)) {
    return make("ptr", address, Verdict::Warn,
                fmt::format("the PTR name {} is forward-confirmed but is not the host name {} "
                            "(the HELO name receivers compare it with)",
                            joined(confirmed), hostname),
                ask + ", or set hostname: to it");
  }
  return make("ptr", address, Verdict::Pass,
              fmt::format("PTR {}, which resolves back to {}", hostname, address));
}

Finding checkSpf(std::string_view domain, std::string_view address, const spf::Report& report) {
  std::string subject = fmt::format("{} for {}", domain, address);
  std::string record = report.records.empty() ? "" : report.records.front().record;
  std::string add = fmt::format("add \"{}:{}\" (or mx) before the all term of the TXT record "
                                "of {}",
                                addressType(address) == "A" ? "ip4" : "ip6", address, domain);
  switch (report.result) {
    case spf::Outcome::Pass:
      return make("spf", subject, Verdict::Pass,
                  fmt::format("allowed by {}", clean(report.mechanism)));
    case spf::Outcome::None:
      return make("spf", subject, Verdict::Fail, "no SPF record",
                  fmt::format("publish \"{}. IN TXT \\\"v=spf1 mx -all\\\"\"", domain));
    case spf::Outcome::TempError:
      return make("spf", subject, Verdict::Warn,
                  fmt::format("temporary error: {}", clean(report.problem)), std::string(DnsFix));
    case spf::Outcome::PermError:
      return make("spf", subject, Verdict::Fail,
                  fmt::format("the record is broken (permerror): {}", clean(report.problem)),
                  "correct the record (petrel spf check shows each step)");
    default:
      return make("spf", subject, Verdict::Fail,
                  fmt::format("the record \"{}\" gives {} for {}{}", clean(record),
                              spf::outcomeName(report.result), address,
                              report.mechanism.empty() ? ""
                                                       : " (" + clean(report.mechanism) + ")"),
                  add);
  }
}

Finding checkDkim(std::string_view domain, std::string_view selector, std::string_view key_data,
                  std::string_view record_text, std::string_view key_error,
                  const dns::Answer& txt) {
  using S = dns::Answer::Status;
  std::string name = fmt::format("{}._domainkey.{}", selector, domain);
  std::string publish = fmt::format("publish \"{}. IN TXT \\\"{}\\\"\" (petrel dkim keygen "
                                    "prints it split for zone files)",
                                    name, record_text);
  if (!key_error.empty()) {
    return make("dkim", name, Verdict::Fail, fmt::format("the key file: {}", key_error),
                "fix dkim.sign's key (petrel dkim keygen makes one)");
  }
  if (txt.status == S::TempFail) {
    return make("dkim", name, Verdict::Warn,
                fmt::format("TXT lookup failed: {}", tempFailText(txt)), std::string(DnsFix));
  }
  if (!txt.found() || txt.txt.empty()) {
    return make("dkim", name, Verdict::Fail, "no key record: signatures cannot be verified",
                publish);
  }
  std::string problem;
  for (const auto& t : txt.txt) {
    auto rec = dkim::parseKeyRecord(t);
    if (!rec) {
      problem = fmt::format("the record does not parse: {}", rec.error().message());
      continue;
    }
    if (rec->public_key.empty()) {
      problem = "the record revokes the key (empty p=)";
      continue;
    }
    if (rec->public_key != key_data) {
      problem = "the published key is not the public key of the key file";
      continue;
    }
    if (rec->testing) {
      return make("dkim", name, Verdict::Warn,
                  "the record matches the key file but says t=y (testing: verifiers may "
                  "ignore failures)",
                  "remove t=y once signatures verify");
    }
    return make("dkim", name, Verdict::Pass, "the published key matches the key file");
  }
  return make("dkim", name, Verdict::Fail, clean(problem), publish);
}

Finding checkDmarc(std::string_view domain, const dns::Answer& txt) {
  using S = dns::Answer::Status;
  std::string name = fmt::format("_dmarc.{}", domain);
  std::string publish = fmt::format(
      "publish \"{}. IN TXT \\\"v=DMARC1; p=none; rua=mailto:postmaster@{}\\\"\" and tighten "
      "p= once the reports look right",
      name, domain);
  if (txt.status == S::TempFail) {
    return make("dmarc", name, Verdict::Warn,
                fmt::format("TXT lookup failed: {}", tempFailText(txt)), std::string(DnsFix));
  }
  std::vector<std::string> records;
  for (const auto& t : txt.txt) {
    if (dmarc::isDmarcRecord(t)) records.push_back(t);
  }
  if (records.empty()) return make("dmarc", name, Verdict::Fail, "no DMARC record", publish);
  if (records.size() > 1) {
    return make("dmarc", name, Verdict::Fail,
                fmt::format("{} DMARC records: receivers then act as if there were none "
                            "(RFC 7489 6.6.3)",
                            records.size()),
                "keep one v=DMARC1 record");
  }
  auto rec = dmarc::parseRecord(records.front());
  if (!rec) {
    return make("dmarc", name, Verdict::Fail,
                fmt::format("the record does not parse: {}", clean(rec.error().message())),
                publish);
  }
  std::string text = fmt::format("\"{}\"", clean(records.front()));
  if (!rec->warnings.empty()) {
    return make("dmarc", name, Verdict::Warn,
                fmt::format("{}: {}", text, joined(rec->warnings, "; ")),
                "correct the tags named");
  }
  return make("dmarc", name, Verdict::Pass, text);
}

Finding checkDnsList(std::string_view address, std::string_view zone, const dns::Answer& a,
                     const dns::Answer& txt) {
  using S = dns::Answer::Status;
  std::string subject = fmt::format("{} on {}", address, zone);
  if (a.status == S::TempFail) {
    return make("dnsbl", subject, Verdict::Warn,
                fmt::format("lookup failed: {}", tempFailText(a)), std::string(DnsFix));
  }
  if (!a.found() || a.addresses.empty()) return make("dnsbl", subject, Verdict::Pass, "not listed");
  // RFC 5782 2.1: listings are 127.0.0.0/8; Spamhaus answers 127.255.255.x for refused
  // queries (public resolvers, over quota), which says nothing about the address.
  bool refused = true;
  for (const auto& r : a.addresses) refused = refused && r.rfind("127.255.255.", 0) == 0;
  if (refused) {
    return make("dnsbl", subject, Verdict::Warn,
                fmt::format("the list refused the query ({})", joined(a.addresses)),
                "query the list through a resolver of your own (not a public one)");
  }
  std::string reason = txt.found() ? joined(txt.txt, " / ") : "";
  return make("dnsbl", subject, Verdict::Fail,
              fmt::format("listed ({}){}", joined(a.addresses),
                          reason.empty() ? "" : ": " + reason),
              fmt::format("find why (open relay, a compromised account, a spamming script), "
                          "stop it, then ask {} to delist {}",
                          zone, address));
}

bool certificateNameMatches(std::string_view pattern, std::string_view name) {
  if (pattern == name) return true;
  if (!pattern.starts_with("*.")) return false;
  size_t dot = name.find('.');
  return dot != std::string_view::npos && dot > 0 && name.substr(dot) == pattern.substr(1);
}

Finding checkCertificate(std::string_view hostname, const CertificateState& cert, int64_t now,
                         int64_t warn_days, bool must_match) {
  if (!cert.error.empty()) {
    return make("tls", cert.path, Verdict::Fail, clean(cert.error),
                "configure a readable PEM certificate under tls.certificates");
  }
  std::string renew = "renew the certificate (e.g. certbot renew) and reload petrel";
  int64_t days = (cert.not_after - now) / 86400;
  if (cert.not_after <= now) {
    return make("tls", cert.path, Verdict::Fail,
                fmt::format("expired {} day{} ago", -days, -days == 1 ? "" : "s"), renew);
  }
  if (must_match) {
    bool ok = false;
    for (const auto& n : cert.names) ok = ok || certificateNameMatches(n, hostname);
    if (!ok) {
      return make("tls", cert.path, Verdict::Fail,
                  fmt::format("not valid for {}: its names are {}", hostname,
                              cert.names.empty() ? "none" : joined(cert.names)),
                  fmt::format("get a certificate for {}", hostname));
    }
  }
  if (days < warn_days) {
    return make("tls", cert.path, Verdict::Warn,
                fmt::format("expires in {} day{} (fewer than {})", days, days == 1 ? "" : "s",
                            warn_days),
                renew);
  }
  return make("tls", cert.path, Verdict::Pass,
              fmt::format("valid for {}, {} days left", joined(cert.names), days));
}

Finding checkPort(std::string_view listener, std::string_view address, const PortState& state) {
  std::string subject = fmt::format("{} {}", listener, address);
  if (!state.connected) {
    return make("port", subject, Verdict::Fail,
                fmt::format("no connection: {}", clean(state.error)),
                "start petrel serve (and check listeners: and the firewall)");
  }
  if (!state.greeting_code) {
    return make("port", subject, Verdict::Pass,
                state.error.empty() ? "accepts connections" : clean(state.error));
  }
  if (*state.greeting_code != 220) {
    return make("port", subject, Verdict::Warn,
                fmt::format("greets with {} {}", *state.greeting_code, clean(state.greeting)),
                "see the mail log for why connections are refused");
  }
  return make("port", subject, Verdict::Pass, fmt::format("220 {}", clean(state.greeting)));
}

Finding checkOpenRelay(const RelayProbe& p) {
  std::string subject = fmt::format("{} {}", p.listener, p.address);
  std::string from = p.source.empty() ? "" : fmt::format(" from {}", p.source);
  if (!p.connected || !p.error.empty()) {
    return make("open-relay", subject, Verdict::Warn,
                fmt::format("not tested: {}", clean(p.error.empty() ? "no connection" : p.error)),
                "see the port check");
  }
  auto refused = [](const std::optional<int>& code) { return code && *code >= 400; };
  if (refused(p.ehlo_code) || refused(p.mail_code)) {
    return make("open-relay", subject, Verdict::Warn,
                fmt::format("not tested: {} refused{}: {}",
                            refused(p.ehlo_code) ? "EHLO" : "MAIL FROM:<" + p.sender + ">", from,
                            clean(refused(p.ehlo_code) ? p.ehlo_reply : p.mail_reply)),
                "set doctor.relay_test_source to an address the MX listener accepts mail from");
  }
  if (!p.rcpt_code) {
    return make("open-relay", subject, Verdict::Warn, "not tested: no reply to RCPT TO",
                "see the mail log");
  }
  std::string rcpt = fmt::format("RCPT TO:<{}>{}", p.recipient, from);
  if (refused(p.rcpt_code)) {
    return make("open-relay", subject, Verdict::Pass,
                fmt::format("{} refused: {}", rcpt, clean(p.rcpt_reply)));
  }
  if (p.inside_mynetworks == RelayProbe::Inside::No) {
    return make("open-relay", subject, Verdict::Fail,
                fmt::format("OPEN RELAY: {} (outside relay.mynetworks) accepted: {}", rcpt,
                            clean(p.rcpt_reply)),
                "put reject_unauth_destination after permit_mynetworks and "
                "permit_sasl_authenticated in the listener's recipient restrictions, and narrow "
                "relay.mynetworks");
  }
  return make("open-relay", subject, Verdict::Warn,
              fmt::format("cannot test from inside mynetworks: {} accepted{}", rcpt,
                          p.inside_mynetworks == RelayProbe::Inside::Yes
                              ? " (the source is in relay.mynetworks)"
                              : " (relay.mynetworks is a table: membership unknown)"),
              "set doctor.relay_test_source to an address of this host outside "
              "relay.mynetworks");
}

Finding checkDirectory(std::string_view what, std::string_view path, const DirectoryState& s,
                       uint64_t min_free) {
  std::string subject = fmt::format("{} {}", what, path);
  if (!s.exists || !s.writable) {
    return make("directory", subject, Verdict::Fail,
                s.exists ? fmt::format("not writable: {}", clean(s.error))
                         : fmt::format("missing: {}", clean(s.error)),
                fmt::format("mkdir -p {0} and chown it to the user petrel runs as", path));
  }
  if (!s.space_known) {
    return make("directory", subject, Verdict::Warn, "writable; free space unknown",
                "check the file system (statvfs failed)");
  }
  double gib = double(s.free_bytes) / double(1ull << 30);
  std::string free = fmt::format("{:.1f} GiB free of {:.1f} GiB", gib,
                                 double(s.total_bytes) / double(1ull << 30));
  if (s.free_bytes < min_free / 10) {
    return make("directory", subject, Verdict::Fail, "writable, only " + free,
                "free space now: mail is refused with 452 when the disk fills");
  }
  if (s.free_bytes < min_free) {
    return make("directory", subject, Verdict::Warn,
                fmt::format("writable, {} (under doctor.min_free_space)", free),
                "free space or grow the file system");
  }
  return make("directory", subject, Verdict::Pass, "writable, " + free);
}

Finding checkDnsServer(std::string_view server, const dns::Answer& answer) {
  if (answer.status == dns::Answer::Status::TempFail) {
    return make("dns-server", server, Verdict::Fail,
                fmt::format("no usable answer: {}", tempFailText(answer)),
                "start the resolver, or correct dns.servers (or /etc/resolv.conf)");
  }
  return make("dns-server", server, Verdict::Pass,
              fmt::format("answers ({})", dns::statusName(answer.status)));
}

Finding checkTableServer(std::string_view table, std::string_view type, std::string_view where,
                         bool connected, std::string_view error) {
  std::string subject = fmt::format("{} ({} {})", table, type, where);
  if (!connected) {
    return make("table-server", subject, Verdict::Fail,
                fmt::format("no connection: {}", clean(error)),
                "start the database/directory server or correct the table's host and port");
  }
  return make("table-server", subject, Verdict::Pass, "accepts connections");
}

}  // namespace petrel::doctor
