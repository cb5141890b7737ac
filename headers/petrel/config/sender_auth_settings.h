// `srs:`, `dkim:`, `arc:` and `dmarc:`: sender authentication (read by
// source/config/{srs,dkim,arc,dmarc}.cc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace petrel::config {

// srs: the Sender Rewriting Scheme for mail we forward (docs/srs.md; postsrsd's settings under
// its names). Present = on: forwarded mail gets an SRS0/SRS1 envelope sender at `domain`, and
// RCPT TO an SRS address at `domain` is reversed (hash and age checked).
struct Srs {
  std::string domain;                        // SRS_DOMAIN, lower-cased; empty: SRS is off
  std::vector<std::string> secrets;          // the first signs, all verify; never logged
  std::string secrets_file;                  // absolute, or empty (secrets given inline)
  std::vector<std::string> exclude_domains;  // SRS_EXCLUDE_DOMAINS: ".x" = below x only
  uint64_t max_age = 21 * 86400;             // seconds, whole days; Default: 21d
  uint32_t hash_length = 4;                  // SRS_HASHLENGTH; Default: 4
  uint32_t hash_min = 4;                     // SRS_HASHMIN; Default: hash_length
  char separator = '=';                      // SRS_SEPARATOR: = + -; Default: =
  bool enabled() const { return !domain.empty(); }
};

// dkim: DKIM verification on receipt and signing of our users' mail (docs/dkim.md). The key
// files are checked when the config loads (server/config_checks.cc: readable, a PEM key of the
// algorithm's type, RSA of at least 1024 bits).
struct Dkim {
  bool verify = true;  // verify signatures on receipt; Default: true
  struct SignEntry {
    std::string domain;                    // d=, lower-cased
    std::string selector;                  // s=
    std::string key;                       // absolute path of the PEM private key
    std::string algorithm = "rsa-sha256";  // rsa-sha256 | ed25519-sha256; Default: rsa-sha256
    std::vector<std::string> headers;      // fields to sign; Default: empty = the built-in list
    std::string origin;                    // "file:line:column" of the entry
    std::string key_origin;                // of its key: value
  };
  // Every entry of a domain signs (two selectors during a key rotation). Default: none.
  std::vector<SignEntry> sign;
};

// arc: ARC sealing (RFC 8617) of the mail Petrel forwards for its users (docs/arc.md): an alias
// whose target is at a foreign domain, a Sieve redirect to one. Validation on receipt follows
// dkim.verify. The key file is checked as dkim.sign's are (server/config_checks.cc).
struct Arc {
  // d=, s=, the key, a= and the AMS's h= of the sets we add (headers: default empty = the
  // built-in list). Default: none (domain empty): nothing is sealed.
  Dkim::SignEntry seal;
  bool sealing() const { return !seal.domain.empty(); }
};

// dmarc: DMARC (RFC 7489) verification of received mail: what Petrel does when the From:
// domain's policy says reject or quarantine (docs/dmarc.md, docs/configuration.md).
struct Dmarc {
  // Evaluate DMARC for mail from outside (not mynetworks, not authenticated) and write the
  // result into Authentication-Results. Default: true.
  bool verify = true;
  // A failing message whose policy is p=reject: reject -> 550 5.7.1; quarantine -> as
  // on_quarantine says; none -> deliver (the header says dis=none). Default: reject.
  enum class OnReject { Reject, Quarantine, None };
  OnReject on_reject = OnReject::Reject;
  // p=quarantine (and a reject sampled out by pct=): hold -> held in the queue (Postfix HOLD);
  // header -> delivered, Authentication-Results says dis=quarantine for the mailbox's spam
  // rule; none -> delivered, dis=none. Default: header.
  enum class OnQuarantine { Hold, Header, None };
  OnQuarantine on_quarantine = OnQuarantine::Header;
  // The Public Suffix List, read at start and on reload. Default: Debian's
  // /usr/share/publicsuffix/public_suffix_list.dat (package publicsuffix).
  std::string public_suffix_list = "/usr/share/publicsuffix/public_suffix_list.dat";
  // Aggregate reports (rua=, RFC 7489 7.2): record each evaluated message. Default: off.
  struct Reports {
    bool enabled = false;
    std::string database;  // absolute; Default: <state_dir>/dmarc.db
    std::string org_name;  // <org_name> of the report; Default: the hostname
    std::string email;     // <email> of the report and its sender; Default: postmaster@hostname
  } reports;
};

}  // namespace petrel::config
