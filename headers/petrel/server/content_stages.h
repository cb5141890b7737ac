// The content stages the server puts in every message's chain (content/chain.h): the Received
// trace field of RFC 5321 4.4, on top, and the header fields that accepted restriction
// checks asked for (Postfix access(5) PREPEND), below it; DKIM verification, DMARC and the
// Authentication-Results field. Header/body checks and milters join here as further stages.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "petrel/content/chain.h"
#include "petrel/dmarc/evaluate.h"
#include "petrel/dns/resolver.h"
#include "petrel/spf/check_host.h"

namespace petrel::server {

// Puts `fields` (whole fields, "Name: value\r\n") on top of the message, in this order.
std::unique_ptr<content::ContentStage> prependFields(std::vector<std::string> fields);

// What the Authentication-Results stage does for one message.
struct AuthenticationSettings {
  std::string authserv_id;            // our hostname
  dns::Resolver* resolver = nullptr;  // DKIM keys, DMARC records, SPF; null: no lookups
  bool dkim_verify = false;           // dkim.verify
  // Other methods' resinfo from the restriction checks ("spf=pass smtp.mailfrom=...").
  std::vector<std::string> results;
  // DMARC (dmarc.verify, for mail from outside): the Public Suffix List, null when off.
  dmarc::PublicSuffixListPtr dmarc_psl;
  dmarc::Actions dmarc_actions;
  // The SPF check DMARC needs when no restriction check recorded one (`results` has no
  // spf=): evaluated here, its result written into the field too.
  std::optional<spf::Request> spf;
  bool spf_helo_identity = false;  // `spf` is the HELO identity (the null sender)
  // Called once per message DMARC evaluated, before the verdict applies (log, reports), with
  // the SPF and DKIM results it was fed.
  std::function<void(const dmarc::Evaluation&, const dmarc::Verdict&, const dmarc::AuthInputs&)>
      on_dmarc;
};

// DKIM verification (when dkim_verify), DMARC (when dmarc_psl) and one Authentication-Results
// field on top at end of data: authserv_id, the DKIM results, the checks' results, SPF when
// evaluated here, DMARC. DMARC's verdict applies: reject refuses the message (550 5.7.1),
// hold asks the queue to hold it (EndEdits::hold). Removes the client's
// Authentication-Results fields that claim authserv_id. (server/authentication_stage.cc)
std::unique_ptr<content::ContentStage> authenticationResults(AuthenticationSettings settings);

}  // namespace petrel::server
