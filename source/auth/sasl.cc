// SASL mechanisms for SMTP AUTH (RFC 4954): PLAIN (RFC 4616) and LOGIN
// (draft-murchison-sasl-login), plus the strict base64 both use.
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

#include <array>
#include <cstdint>

namespace petrel::auth {

namespace {

// RFC 4954 4: a client line may be up to 12288 octets (the base64 of a 9216-octet response).
constexpr size_t MaxLineLength = 12288;

constexpr char Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// "Username:" and "Password:" in base64: the prompts every LOGIN client expects.
constexpr const char* LoginUserPrompt = "VXNlcm5hbWU6";
constexpr const char* LoginPasswordPrompt = "UGFzc3dvcmQ6";

constexpr std::array<int8_t, 256> decodeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(Alphabet[i])] = int8_t(i);
  return t;
}
constexpr auto DecodeTable = decodeTable();

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
  return decodeBase64(line);
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
        auto password = decodeBase64(line);
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

std::optional<std::string> decodeBase64(std::string_view in) {
  // RFC 4648 4, strictly: groups of four, padding only at the very end, no whitespace, and
  // the bits the padding leaves over must be zero (so every decoded string has exactly one
  // encoding).
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    bool last = i + 4 == in.size();
    int pad = 0;
    if (last) {
      if (in[i + 3] == '=') ++pad;
      if (pad == 1 && in[i + 2] == '=') ++pad;
    }
    uint32_t group = 0;
    for (int k = 0; k < 4 - pad; ++k) {
      int8_t v = DecodeTable[static_cast<unsigned char>(in[i + k])];
      if (v < 0) return std::nullopt;  // includes a '=' anywhere but the padding
      group |= uint32_t(v) << (18 - 6 * k);
    }
    if (pad == 2 && (group & 0xffff) != 0) return std::nullopt;
    if (pad == 1 && (group & 0xff) != 0) return std::nullopt;
    out.push_back(char((group >> 16) & 0xff));
    if (pad < 2) out.push_back(char((group >> 8) & 0xff));
    if (pad < 1) out.push_back(char(group & 0xff));
  }
  return out;
}

std::string encodeBase64(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t g = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 |
                 uint32_t(uint8_t(in[i + 2]));
    out.push_back(Alphabet[(g >> 18) & 63]);
    out.push_back(Alphabet[(g >> 12) & 63]);
    out.push_back(Alphabet[(g >> 6) & 63]);
    out.push_back(Alphabet[g & 63]);
  }
  size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t g = uint32_t(uint8_t(in[i])) << 16;
    if (rest == 2) g |= uint32_t(uint8_t(in[i + 1])) << 8;
    out.push_back(Alphabet[(g >> 18) & 63]);
    out.push_back(Alphabet[(g >> 12) & 63]);
    out.push_back(rest == 2 ? Alphabet[(g >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace petrel::auth
