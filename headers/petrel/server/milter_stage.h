// Milters on the SMTP path (filters.milters, docs/milter.md): a content stage that, at end of
// data, talks to each configured milter in turn over its own connection (inet: or unix:, on
// the session's loop, never blocking it) and applies what the milters decide before the
// message is journaled: their verdicts as the end-of-data reply, their header and envelope
// changes as the chain's edits, SMFIR_QUARANTINE as HOLD, SMFIR_DISCARD as DISCARD.
//
// The whole conversation (connect, HELO, MAIL, RCPT, DATA, header, body, end of message) runs
// at end of data, from what the session knows then; the body is held in memory meanwhile
// (bounded by limits.message_size). A milter that cannot be reached, times out or breaks the
// protocol is handled as filters.milter_default_action says. What this stage does not do: the
// protocol itself (milter/session.h), body replacement (logged and ignored).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "petrel/config/config.h"
#include "petrel/content/chain.h"
#include "petrel/milter/session.h"
#include "petrel/policy/check.h"
#include "petrel/smtp/server_session.h"

namespace petrel::server {

struct MilterSetup {
  uv_loop_t* loop = nullptr;
  std::vector<config::MilterEndpoint> milters;
  config::Filters::MilterDefaultAction default_action =
      config::Filters::MilterDefaultAction::Tempfail;
  uint64_t connect_timeout_ms = 30'000;
  uint64_t command_timeout_ms = 30'000;
  uint64_t content_timeout_ms = 300'000;
  // What the milters are told (the recipients as given in RCPT TO).
  milter::MessageFacts facts;
  // For the log lines.
  std::string queue_id;
  std::string client;  // "name[addr]"
  std::string proto;
};

// What the session knows at DATA, as the milters are told it (the macros Postfix sends).
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
MilterSetup milterSetup(const MilterInputs& in, const smtp::Envelope& env);

std::unique_ptr<content::ContentStage> milterStage(MilterSetup setup);

}  // namespace petrel::server
