// One check of a restriction list (Postfix smtpd_*_restrictions), as an object with an
// asynchronous run(): what it may look at (PolicyContext), what it answers (Decision), and the
// Check interface every family of checks implements (source/policy/checks/<family>.cc, one
// registry line each in source/policy/registry.cc).
//
// A check never blocks its loop: a lookup that may wait on a server goes through
// PolicyContext::offload, DNS through PolicyContext::resolver. It does not format log lines or
// SMTP replies beyond its Decision; the session driver turns a Decision into both.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::dns {
class Resolver;
}

namespace petrel::policy {

class PolicyServiceClient;  // policy_service.h

// The restriction stages, as Postfix names its lists: smtpd_client_restrictions (Client),
// smtpd_helo_restrictions, smtpd_sender_restrictions, smtpd_recipient_restrictions,
// smtpd_data_restrictions (at DATA/BDAT, before 354) and smtpd_end_of_data_restrictions.
enum class Stage : uint8_t { Client, Helo, Sender, Recipient, Data, EndOfData };
std::string_view toString(Stage stage);  // "client", "helo", "sender", "recipient", "data", "end_of_data"

// What the connection knows of its client and session beyond the names and addresses of the
// transaction (Postfix's policy attributes, SMTPD_POLICY_README); the session driver keeps one
// per connection and copies it into every context.
struct ClientFacts {
  // Postfix's client_name: the PTR name of the client address whose A/AAAA records lead back
  // to that address; reverse_client_name: the PTR name, unverified. "unknown" when there is
  // none (or no lookup was made).
  std::string client_name = "unknown";
  std::string reverse_client_name = "unknown";
  // Why client_name is what it is; reject_unknown_client_hostname answers 450 for TempFail.
  enum class NameStatus : uint8_t {
    NotLooked,     // no lookup made (none configured, or a command-line tool)
    Verified,      // client_name is the PTR name, confirmed by its forward lookup
    TempFail,      // a DNS lookup on the way failed temporarily
    NoPtr,         // the address has no PTR record
    NotConfirmed,  // the PTR name's A/AAAA records do not include the address
  };
  NameStatus client_name_status = NameStatus::NotLooked;
  uint16_t client_port = 0;
  std::string server_address;  // the local address the client connected to
  uint16_t server_port = 0;
  std::string listener;       // the listener's name in the config ("mx", "submission")
  std::string protocol_name;  // "SMTP" after HELO, "ESMTP" after EHLO (empty before)
  std::string sasl_method;    // "PLAIN", when authenticated
  std::string tls_protocol;   // "TLSv1.3", when TLS is on
  std::string tls_cipher;
  int tls_keysize = 0;
  std::string queue_id;  // the transaction's, once it has one
  // Postfix's policy "instance": the same for every request of one mail transaction, another
  // for the next one (policy services keep per-message state by it). Empty: none.
  std::string instance;
  // The client sent ahead of a reply it had to wait for (smtp::ImproperPipelining: before the
  // greeting, before EHLO, or after a command that ends a PIPELINING group); for
  // reject_unauth_pipelining.
  bool improper_pipelining = false;
};

// What reject_unlisted_sender / reject_unlisted_recipient learn of an address: a mailbox or
// alias of one of our local domains (Listed), an address of a local domain that is neither
// (Unlisted), an address of a domain that is not local (NotOurs: nothing to check), or a table
// that failed (TempFail).
enum class AddressListing : uint8_t { Listed, Unlisted, NotOurs, TempFail };

// Everything a check may look at; filled in by the session driver (or `petrel route`).
struct PolicyContext {
  std::string client_ip;  // "127.0.0.1", "::1"
  std::string helo;
  std::string sasl_user;  // empty when not authenticated
  std::string sender;     // MAIL FROM address, "" for <>
  std::string recipient;  // RCPT TO address (recipient stage and later)
  uint64_t message_size = 0;   // content octets (end_of_data), else the SIZE= of MAIL or 0
  size_t recipient_count = 0;  // accepted so far (data, end_of_data)
  ClientFacts client;
  // Is the recipient's domain one we accept mail for (domains.local or domains.relay)?
  std::function<bool(std::string_view domain)> is_our_destination;
  // Which users may send as `sender`? (reject_sender_login_mismatch.) Empty = nobody owns it.
  std::function<std::vector<std::string>(std::string_view sender)> sender_owners;
  // reject_unlisted_sender / reject_unlisted_recipient: what the router knows of `address`
  // (canonical.recipient, aliases, mailboxes). Null: nothing is unlisted.
  std::function<AddressListing(std::string_view address)> address_listing;
  // permit_mx_backup: is an MX host us? By its name (our hostname), then by each of its
  // addresses (those we listen on). Null: never.
  std::function<bool(std::string_view host)> is_our_hostname;
  std::function<bool(std::string_view ip)> is_our_address;
  // The callbacks above may wait for a server (SQL domain, login or mailbox tables): checks
  // that call them do so through offload.
  bool callbacks_block = false;
  // Runs `work` where blocking is allowed, then `done` on the check's own loop. Null: run
  // `work` right here (a command-line tool or a test, where blocking is fine).
  std::function<void(std::function<void()> work, std::function<void()> done)> offload;
  // The resolver of the check's loop (DNS lists, SPF, MX checks); null where there is none.
  dns::Resolver* resolver = nullptr;
  // The SMTP command being answered, as Postfix's policy protocol_state names it ("RCPT";
  // with delay_reject the client list runs at RCPT too). Empty: the list's own stage.
  std::string protocol_state;
  // The policy services' transport of the check's loop (check_policy_service); null where
  // there is none (then the check answers dunno without asking).
  PolicyServiceClient* policy_client = nullptr;
  // How many restriction classes (access map values naming one) this evaluation runs inside;
  // bounded, so that a class whose table names it again cannot loop.
  int class_depth = 0;
};

// Actions a check may attach (Postfix access(5) PREPEND, HOLD, DISCARD, REDIRECT, FILTER, WARN,
// INFO; warn_if_reject).
struct PolicyAction {
  enum class Kind {
    AddHeader,      // PREPEND: the whole field "Name: value"
    Hold,           // HOLD: the reason, "<a@b>: Sender address triggers HOLD action"
    Discard,        // DISCARD: the reason, likewise
    Warn,           // warn_if_reject: the reply the check would have given ("554 5.7.1 text"),
                    // logged as Postfix's reject_warning whatever becomes of the stage
    LogWarn,        // WARN text: logged at once as Postfix's "warn:" line, the stage goes on
    LogInfo,        // INFO text: likewise, an "info:" line
    Redirect,       // REDIRECT user@domain: `target`; `text` the log reason
    Filter,         // FILTER transport:destination: `target`; `text` the log reason
    ConfigWarning,  // a configuration problem found while checking ("warning: ..." line)
    LogWarning,     // something the admin should know (a DNS list that answers outside 127/8,
                    // a lookup that failed): logged at once as "warning: text"
    AuthResult,     // a method's result for the message's Authentication-Results field:
                    // one RFC 8601 resinfo, "spf=pass smtp.mailfrom=example.org"
  };
  Kind kind = Kind::AddHeader;
  std::string text;
  std::string target;  // Redirect: the address; Filter: "transport:destination"
};

struct Decision {
  enum class Kind { Permit, Reject, Defer, Dunno } kind = Kind::Dunno;
  int code = 0;          // 554, 553, 450 ...
  std::string enhanced;  // "5.7.1"
  std::string text;      // "<x@y>: Relay access denied"
  std::string rule;      // which check decided, e.g. "reject_unauth_destination"
  std::vector<PolicyAction> actions;  // to apply if the message is accepted
  // Postfix access(5) DEFER_IF_PERMIT / DEFER_IF_REJECT: a Dunno whose code, enhanced and text
  // (450 4.7.1 ...) wait in the stage's evaluation: a later permit (resp. a later 5xx reject)
  // of the same stage becomes this deferral (RestrictionList, evaluateLists).
  enum class Pending : uint8_t { None, DeferIfPermit, DeferIfReject };
  Pending pending = Pending::None;
};

class Check {
 public:
  using Done = std::function<void(Decision)>;
  virtual ~Check() = default;
  // Answers `done` exactly once. A check that has its answer at hand (string comparisons,
  // in-memory tables) calls `done` before run() returns: RestrictionList trampolines, so a
  // list of synchronous checks costs no loop turn per RCPT. One that waits (offload, DNS)
  // returns first and answers on the context's loop; `ctx` stays valid until then.
  virtual void run(const PolicyContext& ctx, Done done) const = 0;
  // Whether run() may wait for a server (a table's blocking()); `petrel route` and the
  // driver use this to decide where to evaluate.
  virtual bool blocking() const { return false; }
};
using CheckPtr = std::unique_ptr<const Check>;

}  // namespace petrel::policy
