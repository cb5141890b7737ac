// The content stages the server puts in every message's chain (content/chain.h): the Received
// trace field of RFC 5321 4.4, on top, and the header fields that accepted restriction
// checks asked for (Postfix access(5) PREPEND), below it. Header/body checks, milters and DKIM
// verification join here as further stages.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "petrel/content/chain.h"

namespace petrel::server {

// Puts `fields` (whole fields, "Name: value\r\n") on top of the message, in this order.
std::unique_ptr<content::ContentStage> prependFields(std::vector<std::string> fields);

}  // namespace petrel::server
