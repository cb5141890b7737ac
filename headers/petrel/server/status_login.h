// The status endpoint's login (docs/dashboard.md): HTTP Basic credentials (RFC 7617, over the
// endpoint's TLS) checked against the admin users of the credentials database. The hash check
// runs where `verify` puts it (the thread pool); credentials that passed are remembered for a
// few minutes by their SHA-256, so a page and its reloads cost one hash; failed attempts are
// capped per minute, so the login is no password oracle at hash speed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "petrel/auth/authenticator.h"
#include "petrel/core/result.h"
#include "petrel/status/web.h"

namespace petrel::server {

class StatusLogin {
 public:
  enum class Outcome {
    Allowed,      // an admin: serve the request
    Challenge,    // no or wrong credentials: 401 with WWW-Authenticate
    NotAdmin,     // a user without the admin flag: 403
    Throttled,    // too many failures this minute: 429
    Unavailable,  // the credentials database failed: 503
  };
  using Verify = std::function<void(auth::Credentials credentials,
                                    std::function<void(Result<auth::Verdict>)> done)>;
  using Clock = std::function<uint64_t()>;  // monotonic milliseconds

  static constexpr uint64_t RememberMs = 5 * 60 * 1000;
  static constexpr size_t MaxRemembered = 64;
  static constexpr size_t MaxFailuresPerMinute = 20;

  StatusLogin(Verify verify, Clock clock);

  // `done(outcome, user)` runs once: at once for a remembered login, a throttled or malformed
  // one, else when `verify` answers. `this` must outlive the verification.
  void check(const status::HttpRequest& request,
             std::function<void(Outcome, const std::string& user)> done);

  // The answer for every outcome but Allowed.
  static std::string response(Outcome outcome);

 private:
  struct Remembered {
    std::string user;
    uint64_t until_ms;
  };
  void noteFailure(uint64_t now);
  bool throttled(uint64_t now);

  Verify verify_;
  Clock clock_;
  std::map<std::string, Remembered> passed_;  // SHA-256 of the Authorization value
  uint64_t window_start_ms_ = 0;
  size_t failures_ = 0;
};

// "user", "password" of an `Authorization: Basic ...` field; false when absent or malformed.
bool basicCredentials(const status::HttpRequest& request, std::string& user,
                      std::string& password);

}  // namespace petrel::server
