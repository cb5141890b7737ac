// Dovecot auth-client protocol, one PLAIN request per connection; see dovecot_protocol.h.
#include "dovecot_protocol.h"

#include <fmt/format.h>
#include <string.h>

#include <utility>
#include <vector>

#include "petrel/core/base64.h"

namespace petrel::auth {

namespace {

// One connection carries one request, so its id is always 1.
constexpr const char* RequestId = "1";

std::vector<std::string_view> splitTabs(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  for (;;) {
    size_t tab = line.find('\t', start);
    fields.push_back(line.substr(start, tab == std::string_view::npos ? tab : tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  return fields;
}

// remote= is only sent for text that can be an IP address, so nothing a peer controls could
// add parameters to the request line.
bool looksLikeIp(std::string_view ip) {
  if (ip.empty() || ip.size() > 45) return false;
  for (char c : ip) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex && c != '.' && c != ':') return false;
  }
  return true;
}

void wipe(std::string& s) {
  explicit_bzero(s.data(), s.size());
  s.clear();
}

}  // namespace

DovecotAuthSession::DovecotAuthSession(Credentials credentials, std::string client_ip, pid_t cpid)
    : credentials_(std::move(credentials)), client_ip_(std::move(client_ip)), cpid_(cpid) {}

DovecotAuthSession::~DovecotAuthSession() { wipe(credentials_.password); }

std::string DovecotAuthSession::greeting() const {
  // We speak 1.2; the server's minor version does not matter, its major must be 1.
  return fmt::format("VERSION\t1\t2\nCPID\t{}\n", cpid_);
}

std::string DovecotAuthSession::unescape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '\001' || i + 1 == value.size()) {
      out.push_back(value[i]);
      continue;
    }
    char c = value[++i];
    switch (c) {
      case '0':
        out.push_back('\0');
        break;
      case '1':
        out.push_back('\001');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'n':
      case 'l':
        out.push_back('\n');
        break;
      default:
        out.push_back(c);
        break;
    }
  }
  return out;
}

std::string DovecotAuthSession::authLine() {
  // RFC 4616 message with an empty authzid: Dovecot then authorizes as the user itself.
  std::string message;
  message.reserve(credentials_.authcid.size() + credentials_.password.size() + 2);
  message.push_back('\0');
  message += credentials_.authcid;
  message.push_back('\0');
  message += credentials_.password;
  std::string line = "AUTH\t";
  line += RequestId;
  // nologin: we only want the check, not a login to hand over; secured: the SMTP session
  // offers AUTH with cleartext mechanisms only over TLS (or when the admin allowed
  // plaintext), so Dovecot's disable_plaintext_auth must not refuse it.
  line += "\tPLAIN\tservice=smtp\tnologin\tsecured";
  if (looksLikeIp(client_ip_)) line += "\tremote=" + client_ip_;
  line += "\tresp=";
  line += base64Encode(message);
  line += "\n";
  wipe(message);
  wipe(credentials_.password);
  return line;
}

void DovecotAuthSession::finish(Result<Verdict> verdict, Output& out) {
  state_ = State::Finished;
  buffer_.clear();
  wipe(credentials_.password);
  out.verdict = std::move(verdict);
}

DovecotAuthSession::Output DovecotAuthSession::onInput(std::string_view bytes) {
  Output out;
  if (state_ == State::Finished) return out;
  buffer_.append(bytes);
  size_t start = 0;
  while (state_ != State::Finished) {
    size_t lf = buffer_.find('\n', start);
    if (lf == std::string::npos) break;
    std::string line = buffer_.substr(start, lf - start);
    start = lf + 1;
    onLine(line, out);
  }
  if (state_ == State::Finished) return out;
  buffer_.erase(0, start);
  if (buffer_.size() > MaxLineLength) {
    finish(Error::temporary(fmt::format("Dovecot auth: line longer than {} octets", MaxLineLength)),
           out);
  }
  return out;
}

void DovecotAuthSession::onLine(std::string_view line, Output& out) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  auto f = splitTabs(line);
  const std::string_view cmd = f[0];
  if (state_ == State::WaitHandshake) {
    if (cmd == "VERSION") {
      if (f.size() < 3 || f[1] != "1") {
        finish(Error::temporary(fmt::format("Dovecot auth: unsupported protocol version {}",
                                            f.size() >= 2 ? std::string(f[1]) : "(none)")),
               out);
        return;
      }
      version_ok_ = true;
    } else if (cmd == "MECH") {
      if (f.size() >= 2 && f[1] == "PLAIN") has_plain_ = true;
    } else if (cmd == "DONE") {
      if (!version_ok_) {
        finish(Error::temporary("Dovecot auth: handshake without VERSION"), out);
      } else if (!has_plain_) {
        finish(Error::temporary("Dovecot auth: the server does not offer PLAIN"), out);
      } else {
        state_ = State::WaitReply;
        out.send += authLine();
      }
    }
    // SPID, CUID, COOKIE and anything newer: not needed for a nologin check.
    return;
  }
  // WaitReply: OK|FAIL|CONT TAB id [TAB params].
  if (f.size() < 2 || f[1] != RequestId) return;
  std::optional<std::string> user, reason, code;
  bool temp = false;
  for (size_t i = 2; i < f.size(); ++i) {
    std::string_view p = f[i];
    if (p.starts_with("user=")) {
      user = unescape(p.substr(5));
    } else if (p.starts_with("reason=")) {
      reason = unescape(p.substr(7));
    } else if (p.starts_with("code=")) {
      code = unescape(p.substr(5));
    } else if (p == "temp") {
      temp = true;
    }
  }
  if (cmd == "OK") {
    Verdict v;
    v.ok = true;
    v.user = user && !user->empty() ? *user : credentials_.authcid;
    finish(std::move(v), out);
  } else if (cmd == "FAIL") {
    // Dovecot 2.3 marks internal errors with the bare `temp` flag, 2.4 with code=temp_fail.
    if (temp || code == "temp_fail") {
      finish(Error::temporary(fmt::format("Dovecot auth: temporary failure{}{}", reason ? ": " : "",
                                          reason.value_or(""))),
             out);
      return;
    }
    Verdict v;
    v.ok = false;
    v.reason = reason ? *reason : code ? *code : "authentication failed";
    finish(std::move(v), out);
  } else if (cmd == "CONT") {
    // PLAIN went out complete; a continuation means the two sides disagree on the protocol.
    finish(Error::temporary("Dovecot auth: unexpected continuation for PLAIN"), out);
  }
}

Result<Verdict> DovecotAuthSession::onClosed(std::string_view why) {
  state_ = State::Finished;
  wipe(credentials_.password);
  return Error::temporary(fmt::format("Dovecot auth: {}", why));
}

}  // namespace petrel::auth
