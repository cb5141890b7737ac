// HTTP Basic login for the status endpoint: parsing, the short memory of passed logins, the
// failure cap, and the answers for refusals.
#include "petrel/server/status_login.h"

#include <fmt/format.h>
#include <strings.h>

#include <utility>

#include "petrel/core/base64.h"
#include "petrel/tls/crypto.h"

namespace petrel::server {
namespace {

constexpr uint64_t WindowMs = 60 * 1000;

std::string refusal(int code, std::string_view reason, std::string_view body,
                    std::string_view extra = {}) {
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n"
      "Connection: close\r\nCache-Control: no-store\r\n{}\r\n{}",
      code, reason, body.size(), extra, body);
}

}  // namespace

bool basicCredentials(const status::HttpRequest& request, std::string& user,
                      std::string& password) {
  auto it = request.headers.find("authorization");
  if (it == request.headers.end()) return false;
  std::string_view v = it->second;
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  if (v.size() < 6 || strncasecmp(v.data(), "basic ", 6) != 0) return false;
  v.remove_prefix(6);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  auto decoded = base64Decode(v);
  if (!decoded) return false;
  size_t colon = decoded->find(':');
  if (colon == std::string::npos || colon == 0) return false;
  user = decoded->substr(0, colon);
  password = decoded->substr(colon + 1);
  return true;
}

StatusLogin::StatusLogin(Verify verify, Clock clock)
    : verify_(std::move(verify)), clock_(std::move(clock)) {}

bool StatusLogin::throttled(uint64_t now) {
  if (now - window_start_ms_ >= WindowMs) {
    window_start_ms_ = now;
    failures_ = 0;
  }
  return failures_ >= MaxFailuresPerMinute;
}

void StatusLogin::noteFailure(uint64_t now) {
  if (now - window_start_ms_ >= WindowMs) {
    window_start_ms_ = now;
    failures_ = 0;
  }
  ++failures_;
}

void StatusLogin::check(const status::HttpRequest& request,
                        std::function<void(Outcome, const std::string&)> done) {
  uint64_t now = clock_();
  std::string user, password;
  if (!basicCredentials(request, user, password)) {
    // No credentials is how a browser asks first: a challenge, not a counted failure.
    done(Outcome::Challenge, "");
    return;
  }
  std::string key = tls::sha256(request.headers.at("authorization"));
  if (auto it = passed_.find(key); it != passed_.end()) {
    if (it->second.until_ms > now) {
      done(Outcome::Allowed, it->second.user);
      return;
    }
    passed_.erase(it);
  }
  if (throttled(now)) {
    done(Outcome::Throttled, "");
    return;
  }
  verify_(auth::Credentials{"", user, std::move(password)},
          [this, key = std::move(key), done = std::move(done)](Result<auth::Verdict> r) {
            uint64_t at = clock_();
            if (!r) {
              done(Outcome::Unavailable, "");
              return;
            }
            if (!r->ok) {
              noteFailure(at);
              done(r->reason == "not an admin" ? Outcome::NotAdmin : Outcome::Challenge, "");
              return;
            }
            if (passed_.size() >= MaxRemembered) {  // the oldest entry goes first
              auto oldest = passed_.begin();
              for (auto it = passed_.begin(); it != passed_.end(); ++it) {
                if (it->second.until_ms < oldest->second.until_ms) oldest = it;
              }
              passed_.erase(oldest);
            }
            passed_[key] = Remembered{r->user, at + RememberMs};
            done(Outcome::Allowed, r->user);
          });
}

std::string StatusLogin::response(Outcome outcome) {
  switch (outcome) {
    case Outcome::Challenge:
      return refusal(401, "Unauthorized", "login required\n",
                     "WWW-Authenticate: Basic realm=\"Petrel status\", charset=\"UTF-8\"\r\n");
    case Outcome::NotAdmin:
      return refusal(403, "Forbidden", "not an admin\n");
    case Outcome::Throttled:
      return refusal(429, "Too Many Requests", "too many failed logins, try again later\n",
                     "Retry-After: 60\r\n");
    case Outcome::Unavailable:
      return refusal(503, "Service Unavailable", "the credentials database failed\n");
    case Outcome::Allowed:
      break;
  }
  return refusal(500, "Internal Server Error", "\n");
}

}  // namespace petrel::server
