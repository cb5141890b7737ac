// SASL mechanisms for SMTP AUTH (RFC 4954): PLAIN (RFC 4616) and LOGIN
// (draft-murchison-sasl-login), over core's strict base64 (core/base64.h).
//
// Each mechanism is a small state machine fed with the client's lines exactly as sent
// (base64, no CRLF). It never sees a socket or a password database: it ends in Done with the
// credentials, or in Failed with the reply the session sends. It never logs anything, because
// every line it sees may carry a password.
//
//   PLAIN:  start ──(no IR)──> WaitResponse ──> Done | Failed
//             └──(IR)────────────────────────────> Done | Failed
//   LOGIN:  start ──(no IR)──> WaitUser ──> WaitPassword ──> Done | Failed
//             └──(IR = user)──────────────────┘
//
// An authorization identity (authzid) other than the user itself is refused here with the
// same 535 5.7.8 a wrong password gets: Petrel has no proxy authorization, and answering
// without looking at the password tells a client nothing it could not learn by guessing.
#include "petrel/auth/sasl.h"

#include <cstdint>

#include "petrel/core/base64.h"

namespace petrel::auth {

namespace {

// RFC 4954 4: a client line may be up to 12288 octets (the base64 of a 9216-octet response).
constexpr size_t MaxLineLength = 12288;

// "Username:" and "Password:" in base64: the prompts every LOGIN client expects.
constexpr const char* LoginUserPrompt = "VXNlcm5hbWU6";
constexpr const char* LoginPasswordPrompt = "UGFzc3dvcmQ6";

Failed cancelled() { return Failed{501, "5.7.0", "Authentication aborted"}; }
Failed undecodable() { return Failed{501, "5.5.2", "Cannot decode response"}; }
Failed tooLong() { return Failed{501, "5.5.2", "Response too long"}; }
Failed malformed() { return Failed{501, "5.5.2", "Malformed authentication response"}; }
// RFC 4954 6: the reply for bad credentials; also used for a refused authzid (see above).
Failed invalidCredentials() { return Failed{535, "5.7.8", "Authentication credentials invalid"}; }
Failed outOfSequence() { return Failed{503, "5.5.1", "Authentication already finished"}; }

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = char(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Decodes one client line; "=" stands for an empty response (RFC 4954 4).
std::optional<std::string> decodeLine(std::string_view line, bool initial) {
  if (initial && line == "=") return std::string();
  return base64Decode(line);
}

class Plain final : public Mechanism {
 public:
  Step start(std::optional<std::string_view> initial) override {
    if (state_ != State::Start) return outOfSequence();
    if (!initial) {
      // RFC 4616 2 / RFC 4954 4: no initial response, so an empty challenge ("334 ").
      state_ = State::WaitResponse;
      return Challenge{""};
    }
    return finish(*initial, true);
  }

  Step respond(std::string_view line) override {
    if (state_ != State::WaitResponse) return outOfSequence();
    return finish(line, false);
  }

 private:
  enum class State { Start, WaitResponse, Finished };

  Step finish(std::string_view line, bool initial) {
    state_ = State::Finished;
    if (line == "*") return cancelled();
    if (line.size() > MaxLineLength) return tooLong();
    auto message = decodeLine(line, initial);
    if (!message) return undecodable();
    // RFC 4616 2: message = [authzid] NUL authcid NUL passwd, authcid and passwd 1*SAFE
    // (SAFE excludes NUL), so exactly two NULs and neither of the last two fields empty.
    size_t first = message->find('\0');
    if (first == std::string::npos) return malformed();
    size_t second = message->find('\0', first + 1);
    if (second == std::string::npos || message->find('\0', second + 1) != std::string::npos) {
      return malformed();
    }
    Credentials c;
    c.authzid = message->substr(0, first);
    c.authcid = message->substr(first + 1, second - first - 1);
    c.password = message->substr(second + 1);
    if (c.authcid.empty() || c.password.empty()) return malformed();
    if (!c.authzid.empty() && !equalsIgnoreCase(c.authzid, c.authcid)) {
      return invalidCredentials();
    }
    return Done{std::move(c)};
  }

  State state_ = State::Start;
};

class Login final : public Mechanism {
 public:
  Step start(std::optional<std::string_view> initial) override {
    if (state_ != State::Start) return outOfSequence();
    if (!initial) {
      state_ = State::WaitUser;
      return Challenge{LoginUserPrompt};
    }
    // Some clients send the user name as an initial response ("AUTH LOGIN dXNlcg==").
    return takeUser(*initial, true);
  }

  Step respond(std::string_view line) override {
    switch (state_) {
      case State::WaitUser:
        return takeUser(line, false);
      case State::WaitPassword: {
        state_ = State::Finished;
        if (line == "*") return cancelled();
        if (line.size() > MaxLineLength) return tooLong();
        auto password = base64Decode(line);
        if (!password) return undecodable();
        // A NUL would cut the password short in crypt(3) and cannot be told apart from a
        // field separator when the credentials travel on as PLAIN (Dovecot).
        if (password->empty() || password->find('\0') != std::string::npos) return malformed();
        Credentials c;
        c.authcid = std::move(user_);
        c.password = std::move(*password);
        return Done{std::move(c)};
      }
      case State::Start:
      case State::Finished:
        break;
    }
    return outOfSequence();
  }

 private:
  enum class State { Start, WaitUser, WaitPassword, Finished };

  Step takeUser(std::string_view line, bool initial) {
    state_ = State::Finished;
    if (line == "*") return cancelled();
    if (line.size() > MaxLineLength) return tooLong();
    auto user = decodeLine(line, initial);
    if (!user) return undecodable();
    if (user->empty() || user->find('\0') != std::string::npos) return malformed();
    user_ = std::move(*user);
    state_ = State::WaitPassword;
    return Challenge{LoginPasswordPrompt};
  }

  State state_ = State::Start;
  std::string user_;
};

}  // namespace

std::unique_ptr<Mechanism> makeMechanism(std::string_view name) {
  if (equalsIgnoreCase(name, "PLAIN")) return std::make_unique<Plain>();
  if (equalsIgnoreCase(name, "LOGIN")) return std::make_unique<Login>();
  return nullptr;
}

}  // namespace petrel::auth
