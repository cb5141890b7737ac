// Restriction lists (Postfix smtpd_*_restrictions): per SMTP stage, an ordered list of
// checks; the first decisive answer wins. Logic over a PolicyContext; the only I/O is the
// lookups of access maps and a mynetworks table (which may block: see blocking()).
//
// Checks implemented: permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination,
// reject_sender_login_mismatch, permit, reject, defer, check_client_access,
// check_sender_access, check_recipient_access. A recipient-stage list that ends
// without a decision falls through to reject_unauth_destination, so no configuration can
// make an open relay by omission.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"
#include "petrel/core/cidr.h"
#include "petrel/lookup/lookup_table.h"

namespace petrel::policy {

enum class Stage { Client, Helo, Sender, Recipient };

// Everything a check may look at; filled in by the session driver.
struct PolicyContext {
  std::string client_ip;     // "127.0.0.1", "::1"
  std::string helo;
  std::string sasl_user;     // empty when not authenticated
  std::string sender;        // MAIL FROM address, "" for <>
  std::string recipient;     // RCPT TO address
  // Is the recipient's domain one we accept mail for (local, or relay_domains later)?
  std::function<bool(std::string_view domain)> is_our_destination;
  // Which users may send as `sender`? (reject_sender_login_mismatch.) Empty = nobody owns it.
  std::function<std::vector<std::string>(std::string_view sender)> sender_owners;
};

struct Decision {
  enum class Kind { Permit, Reject, Defer, Dunno } kind = Kind::Dunno;
  int code = 0;          // 554, 553, 450 ...
  std::string enhanced;  // "5.7.1"
  std::string text;      // "<x@y>: Relay access denied"
  std::string rule;      // which check decided, e.g. "reject_unauth_destination"
};

// The check names parse() accepts, in the order docs/configuration.md lists them (the config
// loader validates restriction sets against this list).
const std::vector<std::string>& knownRestrictions();

// "check_client_access REF", "check_sender_access REF", "check_recipient_access REF": Postfix
// access(5) maps. The client's address, the sender or the recipient is looked up (addresses
// also as domain, parent domains and "localpart@"; addresses as the IP and its shorter
// prefixes, for tables that are not cidr). The value is an action: OK/PERMIT, REJECT [text],
// DEFER [text], DUNNO, 4NN/5NN [x.y.z] text; all digits means OK; anything else is a
// configuration error answered with 451 4.3.5. A table that fails answers 451 4.3.0.
bool isAccessCheck(std::string_view check);

class RestrictionList {
 public:
  // Parses check names (Postfix spelling). Unknown names are Config errors.
  // `tables` gives the table of each access check's reference (null = unknown).
  using Tables = std::function<lookup::TablePtr(const std::string& ref)>;
  static Result<RestrictionList> parse(Stage stage, const std::vector<std::string>& checks,
                                       CidrList mynetworks, const Tables& tables = {});
  // relay.mynetworks as a table (cidr, SQL, ...): permit_mynetworks also permits a client the
  // table finds; a failing table defers (451 4.3.0).
  void setMynetworksTable(lookup::TablePtr table) { mynetworks_table_ = std::move(table); }
  // Some table may wait on a server (LookupTable::blocking).
  bool blocking() const;
  Decision evaluate(const PolicyContext& ctx) const;
  const std::vector<std::string>& checks() const { return checks_; }

 private:
  Stage stage_ = Stage::Recipient;
  std::vector<std::string> checks_;
  std::vector<lookup::TablePtr> tables_;  // per check: its access table, or null
  CidrList mynetworks_;
  lookup::TablePtr mynetworks_table_;
};

}  // namespace petrel::policy
