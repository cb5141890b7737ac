// The content stages the server puts in every message's chain (content/chain.h): the Received
// trace field of RFC 5321 4.4, on top, and the header fields that accepted restriction
// checks asked for (Postfix access(5) PREPEND), below it. Header/body checks, milters and DKIM
// verification join here as further stages.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "petrel/content/chain.h"
#include "petrel/dns/resolver.h"

namespace petrel::server {

// Puts `fields` (whole fields, "Name: value\r\n") on top of the message, in this order.
std::unique_ptr<content::ContentStage> prependFields(std::vector<std::string> fields);

// Verifies the message's DKIM signatures when `verify` (keys looked up over `resolver`; none
// when null) and puts one Authentication-Results field on top at end of data: `authserv_id`,
// the DKIM results, then `results` (other methods' resinfo, "spf=pass smtp.mailfrom=...").
// Removes the client's Authentication-Results fields that claim `authserv_id`.
// (server/authentication_stage.cc)
std::unique_ptr<content::ContentStage> authenticationResults(dns::Resolver* resolver, bool verify,
                                                            std::string authserv_id,
                                                            std::vector<std::string> results);

}  // namespace petrel::server
