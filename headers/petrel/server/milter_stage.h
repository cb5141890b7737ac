// Milters on the SMTP path (filters.milters, docs/milter.md), the end of data: a content stage
// that runs the header, end of header, body and end of message of each milter in turn over the
// session's connections (milter_client.h) and applies what the milters decide before the
// message is journaled: their verdicts as the end-of-data reply, their header and envelope
// changes as the chain's edits, SMFIR_REPLBODY as the new body, SMFIR_QUARANTINE as HOLD,
// SMFIR_DISCARD (here or at an earlier stage) as DISCARD. The body is held in memory meanwhile
// (bounded by limits.message_size). The protocol itself is milter/session.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "petrel/config/config.h"
#include "petrel/content/chain.h"
#include "petrel/milter/session.h"
#include "petrel/server/milter_client.h"
#include "petrel/policy/check.h"
#include "petrel/smtp/server_session.h"

namespace petrel::server {

struct MilterSetup {
  MilterClient* client = nullptr;  // the session's; outlives the stage
  // limits.message_size: what a replacement body (with the header) may come to; 0: no limit.
  uint64_t max_message_size = 0;
  // For the log lines.
  std::string queue_id;
  std::string client_log;  // "name[addr]"
  std::string proto;
};

// What the session knows now, as the milters are told it (the macros Postfix sends).
struct MilterInputs {
  const config::Config* config = nullptr;
  const config::Listener* listener = nullptr;
  policy::ClientFacts client;  // SmtpConnection::clientFacts()
  std::string client_addr;
  std::string client_log;  // "name[addr]"
  std::string auth_user;
  std::string queue_id;
  uv_loop_t* loop = nullptr;
};
// `env`: the transaction so far (with the MAIL or HELO being asked about).
milter::MessageFacts milterFacts(const MilterInputs& in, const smtp::Envelope& env);
// A recipient as the milters are told it (with NOTIFY= and ORCPT=).
milter::MilterRecipient milterRecipient(const smtp::RcptParams& r);

std::unique_ptr<content::ContentStage> milterStage(MilterSetup setup);

}  // namespace petrel::server
