// The decisions of `petrel doctor` (docs/doctor.md): each check is a pure function from what
// was found (DNS answers, a certificate's names and dates, a socket's outcome, a directory's
// state) to a Finding: pass, warn or fail, what was seen, and the fix an admin applies.
//
// What it owns: the rules and the wording. What it does not do: ask the DNS, open sockets or
// files (server/doctor.h gathers the inputs and calls these), or decide what runs when.
// Everything here is deterministic: `now` is an argument, never the clock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/dns/resolver.h"
#include "petrel/spf/check_host.h"

namespace petrel::doctor {

enum class Verdict { Pass, Warn, Fail };
std::string_view verdictName(Verdict v);  // "pass", "warn", "fail"

struct Finding {
  std::string check;    // "mx", "host", "ptr", "spf", "dkim", "dmarc", "tls", "dnsbl", "port",
                        // "open-relay", "directory", "dns-server", "table-server", "config"
  std::string subject;  // what it is about: a domain, an address, a listener, a path
  Verdict verdict = Verdict::Pass;
  std::string what;  // what was found, one sentence
  std::string fix;   // what to do about it; empty for a pass

  bool operator==(const Finding&) const = default;
};

// 0 when every finding passed, 1 when the worst is a warning, 2 when one failed (cron and
// monitoring read this; Nagios's OK/WARNING/CRITICAL).
int exitStatus(const std::vector<Finding>& findings);
// One line per finding: "fail mx example.com: ... -- fix: ...", then a count line.
std::string reportText(const std::vector<Finding>& findings);
// {"status":"fail","exit":2,"findings":[{"check":..,"subject":..,"verdict":..,"what":..,
// "fix":..}, ...]}
std::string reportJson(const std::vector<Finding>& findings);

// ---- DNS of the host and the domains ----

// The host name's A and AAAA. `configured`: doctor.addresses (empty: none given); each must
// be among the answers, since receivers check the forward DNS of our HELO name.
Finding checkHostAddresses(std::string_view hostname, const dns::Answer& a,
                           const dns::Answer& aaaa, const std::vector<std::string>& configured);

// The domain's MX: at least one exchange is the host name or has one of `our_addresses`.
// `exchange_addresses`: the A and AAAA addresses found for each exchange (lower case name).
Finding checkMx(std::string_view domain, std::string_view hostname,
                const std::vector<std::string>& our_addresses, const dns::Answer& mx,
                const std::map<std::string, std::vector<std::string>>& exchange_addresses);

// Forward-confirmed reverse DNS of an outbound address: its PTR names, and the addresses
// each name has (`forward`, by PTR name). A confirmed name other than the host name warns
// (receivers compare the PTR name with the HELO name).
Finding checkPtr(std::string_view address, std::string_view hostname, const dns::Answer& ptr,
                 const std::map<std::string, std::vector<std::string>>& forward);

// check_host(address, domain, postmaster@domain) as a receiver would run it.
Finding checkSpf(std::string_view domain, std::string_view address, const spf::Report& report);

// The key record at selector._domainkey.domain against the public key of the key file:
// `key_data` is what p= must carry decoded (tls::PublicKey::dkimKeyData()), `record_text` the
// record to publish ("v=DKIM1; k=rsa; p=..."); `key_error` non-empty when the file is unusable.
Finding checkDkim(std::string_view domain, std::string_view selector, std::string_view key_data,
                  std::string_view record_text, std::string_view key_error,
                  const dns::Answer& txt);

// The TXT records at _dmarc.domain: exactly one v=DMARC1 record that parses (RFC 7489 6.6.3).
Finding checkDmarc(std::string_view domain, const dns::Answer& txt);

// One DNS list for one address: `a` is the answer for the address's name in `zone`, `txt`
// the reason when it is listed (may be a TempFail answer when not asked).
Finding checkDnsList(std::string_view address, std::string_view zone, const dns::Answer& a,
                     const dns::Answer& txt);

// ---- TLS ----

struct CertificateState {
  std::string path;
  std::string error;               // could not be read or parsed; the rest is then unset
  std::vector<std::string> names;  // DNS subjectAltNames, else the CN; lower case
  int64_t not_after = 0;           // unix seconds
};
// `hostname` must be among the names (wildcards match one label) when `must_match` (the
// default certificate; the others are chosen by SNI); expired fails, fewer than `warn_days`
// days left warns.
Finding checkCertificate(std::string_view hostname, const CertificateState& cert, int64_t now,
                         int64_t warn_days, bool must_match);
// "*.example.com" matches "a.example.com" only; both lower case.
bool certificateNameMatches(std::string_view pattern, std::string_view name);

// ---- sockets ----

// A listener: could we connect, and what did it greet with (nullopt: not read, as for
// implicit TLS, or the connection failed).
struct PortState {
  bool connected = false;
  std::string error;                  // why not
  std::optional<int> greeting_code;   // 220 expected
  std::string greeting;               // its text
};
Finding checkPort(std::string_view listener, std::string_view address, const PortState& state);

// The open-relay self-test: MAIL FROM an outside sender, RCPT TO an outside domain, over the
// MX listener, from `source`. It proves something only from outside relay.mynetworks: from
// inside, an accepted RCPT is what mynetworks is for.
struct RelayProbe {
  std::string listener, address;  // where it connected
  std::string source;             // the local address it connected from
  enum class Inside { Yes, No, Unknown } inside_mynetworks = Inside::Unknown;
  bool connected = false;
  std::string error;  // connection or protocol failure
  std::string sender, recipient;
  // The reply to each step, as "code text"; a missing one was not reached.
  std::optional<int> ehlo_code, mail_code, rcpt_code;
  std::string ehlo_reply, mail_reply, rcpt_reply;
};
Finding checkOpenRelay(const RelayProbe& probe);

// ---- the host ----

struct DirectoryState {
  bool exists = false;
  bool writable = false;  // a file could be created in it
  std::string error;
  bool space_known = false;
  uint64_t total_bytes = 0, free_bytes = 0;
};
// Fails when missing, not writable or under a tenth of `min_free` free; warns under
// `min_free`.
Finding checkDirectory(std::string_view what, std::string_view path, const DirectoryState& state,
                       uint64_t min_free);

// A DNS server answered (anything but TempFail) a query of its own.
Finding checkDnsServer(std::string_view server, const dns::Answer& answer);

// A remote table's server accepted a TCP (or Unix socket) connection.
Finding checkTableServer(std::string_view table, std::string_view type, std::string_view where,
                         bool connected, std::string_view error);

}  // namespace petrel::doctor
