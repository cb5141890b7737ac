// `petrel route`: what Petrel would do with one recipient, step by step, answered by the same
// code the server runs (checkRecipient at RCPT time, then Router::resolve as the queue
// delivers: Maildir, or next hop and TLS policy).
#pragma once

#include <string>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/core/result.h"

namespace petrel::server {

struct RouteRequest {
  std::string address;
  std::string sender;                   // MAIL FROM; "" = <>
  std::string client_ip = "127.0.0.1";  // the connecting client
  std::string sasl_user;                // authenticated as; "" = not
  std::string helo = "localhost";
  std::string listener;  // by name; "" = the first one (with AUTH, when sasl_user is set)
};

struct RouteResult {
  std::string listener;
  std::vector<std::string> steps;  // in order, in words
  bool accepted = false;
  std::string reply;  // what RCPT TO would get: "250 2.1.5 Ok" or the refusal
  struct Final {
    std::string address;
    std::string kind;    // "maildir", "smtp", "defer", "bounce"
    std::string target;  // Maildir directory, next hop, or the reason
    std::string tls;     // smtp: the TLS policy
  };
  std::vector<Final> finals;  // when accepted
};

// The listener a simulated client talks to: the one named `name`, else the first one (the first
// offering AUTH when `sasl_user` is set). Config error when `name` names none.
Result<const config::Listener*> chooseListener(const config::Config& cfg, const std::string& name,
                                              const std::string& sasl_user);

Result<RouteResult> explainRoute(const config::Config& cfg, const RouteRequest& request);
std::string routeText(const RouteResult& r);
std::string routeJson(const RouteResult& r);

}  // namespace petrel::server
