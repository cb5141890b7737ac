// `petrel policy test`: the verdict of every SMTP stage of one session, from the same
// checkStage the server runs (restriction lists, then the router at RCPT), with live DNS through
// a resolver on a loop of its own. The trace names the list and check that decided with its
// config location, and every DNS query the checks made with its answer (what each DNS list
// answered). check_policy_service services are asked for real, through the server's policy
// client with each check's timeout and default_action (so postgrey records the triplet), and
// the trace shows the attributes sent and the reply. A DEFER_IF_PERMIT left pending at
// CONNECT, HELO or MAIL (delay_reject off) is carried to RCPT as in the server. It does not
// open an SMTP connection nor run the content pass: end_of_data lists are not evaluated.
#pragma once

#include <string>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/core/result.h"

namespace petrel::server {

struct PolicyProbeRequest {
  std::string client_ip = "127.0.0.1";
  std::string helo = "localhost";
  std::string sender;                   // MAIL FROM; "" = <>
  std::vector<std::string> recipients;  // RCPT TO, in order
  std::string sasl_user;                // authenticated as; "" = not
  std::string listener;  // by name; "" = the first one (with AUTH, when sasl_user is set)
};

struct PolicyProbeResult {
  std::string listener;
  std::vector<std::string> steps;  // in order, in words
  // The session's outcome: accepted when DATA would get its 354 (some RCPT accepted);
  // otherwise the stage that refused and its reply.
  bool accepted = false;
  std::string refused_at;  // "CONNECT", "HELO", "MAIL", "RCPT", "DATA"
  std::string reply;
};

Result<PolicyProbeResult> probePolicy(const config::Config& cfg, const PolicyProbeRequest& request);
std::string policyProbeText(const PolicyProbeResult& r);

}  // namespace petrel::server
