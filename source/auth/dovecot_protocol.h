// The client side of Dovecot's auth-client protocol (v1.x), for one PLAIN request, as a plain
// class: bytes from the socket in, bytes to send and at most one verdict out. The libuv driver
// in backends/dovecot.cc owns the socket and the timeout; this class owns neither.
//
// Private to source/auth/ (the unit test includes it by relative path).
//
//   WaitHandshake ──DONE (VERSION 1.x, MECH PLAIN seen)──> WaitReply ──OK/FAIL──> Finished
//        └── wrong major version, no PLAIN, garbage, EOF ───────────────────────> Finished
//
// Protocol (doc.dovecot.org, "Authentication Protocol"): lines end in LF, fields are separated
// by TAB, optional parameters are `name=value` or bare flags, values are tab-escaped with
// \001 (\0010 NUL, \0011 \001, \001t TAB, \001r CR, \001n or \001l LF).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "petrel/auth/authenticator.h"
#include "petrel/auth/sasl.h"
#include "petrel/core/result.h"

namespace petrel::auth {

class DovecotAuthSession {
 public:
  // Dovecot's AUTH_CLIENT_MAX_LINE_LENGTH; a longer line from the server is a protocol error.
  static constexpr size_t MaxLineLength = 16384;

  struct Output {
    std::string send;                        // bytes to write now (may be empty)
    std::optional<Result<Verdict>> verdict;  // set once: the request is over, close
  };

  // `client_ip` goes to Dovecot as remote= (for its logs and auth penalty) when it looks like
  // an IP address; `cpid` is our process id for the CPID line.
  DovecotAuthSession(Credentials credentials, std::string client_ip, pid_t cpid);
  ~DovecotAuthSession();

  // What to send as soon as the socket is connected: VERSION and CPID.
  std::string greeting() const;
  // Bytes as read from the socket, in any chunking.
  Output onInput(std::string_view bytes);
  // The server closed the connection (or reading failed) before a verdict.
  Result<Verdict> onClosed(std::string_view why = "Dovecot closed the connection");

  bool finished() const { return state_ == State::Finished; }

  // The \001 tab-escaping of the protocol (exposed for tests).
  static std::string unescape(std::string_view value);

 private:
  enum class State { WaitHandshake, WaitReply, Finished };

  // Handles one line without its LF; may fill `out`.
  void onLine(std::string_view line, Output& out);
  void finish(Result<Verdict> verdict, Output& out);
  std::string authLine();

  State state_ = State::WaitHandshake;
  Credentials credentials_;  // the password is wiped once the AUTH line is built
  std::string client_ip_;
  pid_t cpid_;
  std::string buffer_;  // an incomplete line
  bool version_ok_ = false;
  bool has_plain_ = false;
};

}  // namespace petrel::auth
