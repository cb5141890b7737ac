// The AUTH part of smtp::ServerSession (RFC 4954): parsing the AUTH command, relaying SASL
// challenges and responses between the client and the auth::Mechanism, and turning the
// driver's verdict (onAuthResult, onAuthRefused) into replies. The command loop and the
// other commands are in server_session.cc.
#include "petrel/smtp/server_session.h"

#include <fmt/format.h>

#include "petrel/core/assert.h"
#include "petrel/core/strings.h"

#include "server_session_internal.h"

namespace petrel::smtp {

using server_session_detail::MaxAuthLine;
using server_session_detail::stripCr;

void ServerSession::onAuth(std::string_view arg) {
  if (!settings_.auth) {
    error(Reply(502, "5.5.1", "Error: authentication not enabled"));
    return;
  }
  if (!greeted_) {
    error(Reply(503, "5.5.1", "Error: send EHLO first"));
    return;
  }
  if (rateLimited(ClientEvent::Auth)) return;
  if (!in_tls_ && !settings_.auth_plaintext) {
    if (settings_.starttls) {
      error(Reply(530, "5.7.0", "Must issue a STARTTLS command first"));
    } else {
      error(Reply(538, "5.7.11", "Encryption required for requested authentication mechanism"));
    }
    return;
  }
  if (!auth_user_.empty()) {
    error(Reply(503, "5.5.1", "Error: already authenticated"));
    return;
  }
  if (state_ != State::Ready) {
    error(Reply(503, "5.5.1", "Error: MAIL transaction in progress"));
    return;
  }
  auto parts = split(arg, ' ');
  std::string mech = parts.empty() ? "" : toLower(parts[0]);
  for (auto& c : mech) c = char(std::toupper(static_cast<unsigned char>(c)));
  bool offered = false;
  for (const auto& m : settings_.auth_mechanisms) offered |= m == mech;
  sasl_ = offered ? auth::makeMechanism(mech) : nullptr;
  if (parts.size() > 2 || mech.empty()) {
    sasl_.reset();
    error(Reply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]"));
    return;
  }
  if (!sasl_) {
    error(Reply(504, "5.5.4", "Unsupported authentication mechanism"));
    return;
  }
  auth_mechanism_ = mech;
  std::optional<std::string_view> initial;
  if (parts.size() == 2) initial = parts[1];
  authStep(sasl_->start(initial));
}

void ServerSession::authStep(auth::Step step) {
  if (auto* c = std::get_if<auth::Challenge>(&step)) {
    wait_ = Wait::AuthResponse;
    Reply r;
    r.code = 334;
    r.lines = {c->base64};
    reply(r);
  } else if (auto* d = std::get_if<auth::Done>(&step)) {
    wait_ = Wait::AuthVerdict;
    out_.push_back(Authenticate{auth_mechanism_, std::move(d->credentials)});
  } else {
    const auto& f = std::get<auth::Failed>(step);
    wait_ = Wait::None;
    sasl_.reset();
    error(Reply(f.code, f.enhanced, f.text));
  }
}

bool ServerSession::processAuthResponse() {
  size_t nl = in_.find('\n');
  if (nl == std::string::npos) {
    if (in_.size() > MaxAuthLine) {
      in_.clear();
      discarding_long_command_ = true;
      wait_ = Wait::None;
      sasl_.reset();
    }
    return false;
  }
  std::string line(stripCr(std::string_view(in_).substr(0, nl)));
  in_.erase(0, nl + 1);
  if (line.size() + 2 > MaxAuthLine) {
    wait_ = Wait::None;
    sasl_.reset();
    error(Reply(500, "5.5.6", "Authentication Exchange line is too long"));
    return true;
  }
  authStep(sasl_->respond(line));
  return true;
}

Actions ServerSession::onAuthRefused() {
  if (closed_) return {};
  PETREL_ASSERT(wait_ == Wait::AuthVerdict);
  wait_ = Wait::None;
  sasl_.reset();
  auth_mechanism_.clear();
  reply(Reply(421, "4.7.0",
              fmt::format("{} Error: too many authentication failures", settings_.hostname)));
  close();
  return std::move(out_);
}

Actions ServerSession::onAuthResult(bool ok, const std::string& user, bool temporary, bool drop) {
  if (closed_) return {};
  PETREL_ASSERT(wait_ == Wait::AuthVerdict);
  wait_ = Wait::None;
  sasl_.reset();
  if (ok && wantsVerdict(Stage::Auth)) {
    pending_auth_user_ = user;
    askVerdict(Stage::Auth, user);
  } else if (ok) {
    auth_user_ = user;
    reply(Reply(235, "2.7.0", "Authentication successful"));
  } else if (temporary) {
    reply(Reply(454, "4.7.0", "Temporary authentication failure"));
  } else {
    auth_mechanism_.clear();
    error(Reply(535, "5.7.8", "Error: authentication failed"));
    if (drop && !closed_) {
      reply(Reply(421, "4.7.0",
                  fmt::format("{} Error: too many authentication failures", settings_.hostname)));
      close();
    }
  }
  process();
  return std::move(out_);
}

}  // namespace petrel::smtp
