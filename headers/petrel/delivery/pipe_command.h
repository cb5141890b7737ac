// The pure parts of the pipe agent (Postfix's pipe(8), docs/pipe.md): argv expansion, the
// runs a delivery is split into, the header lines the flags prepend, the content as the
// program reads it, and the verdict from the program's exit status.
//
// No processes, no I/O: server/pipe_agent.cc runs the program with what these return, and
// the unit tests check every rule here without one. A macro's value always stays inside the
// argument it was written in (no shell, no word splitting), whatever bytes it holds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/core/result.h"

namespace petrel::delivery {

// One recipient of a run.
struct PipeRecipient {
  std::string address;       // final address (${recipient})
  std::string orig_address;  // as given in RCPT TO (${original_recipient}); "" = address
};

// The message-wide values of the macros.
struct PipeMessageInfo {
  std::string sender;   // envelope sender; "" is <>, replaced by null_sender
  std::string nexthop;  // the target's nexthop (the recipient domain when unset)
  uint64_t size = 0;
  std::string client;  // "host[ip]" as queued
  std::string helo;
  std::string protocol;
  std::string queue_id;
};

// The recipient indexes of each run: at most `max_recipients` each (0: all in one).
std::vector<std::vector<size_t>> pipeRuns(size_t recipients, uint32_t max_recipients);

// The argv of one run: each element's macros replaced (flags h, q, u as pipe(8)); an element
// with a per-recipient macro is repeated once per recipient. Errors (an argv the loader let
// through but cannot be expanded) are config errors.
Result<std::vector<std::string>> expandPipeArgv(const config::PipeTransportSettings& settings,
                                                const PipeMessageInfo& message,
                                                const std::vector<PipeRecipient>& recipients);

// RFC 5322 quoting of a local part as pipe(8)'s q flag does ("a b"@x -> "\"a b\"@x").
std::string quoteLocalPart(std::string_view address);

// The lines flags F, R, D, O put before the message (LF line ends), for a run with these
// recipients (D and O need exactly one, as the loader enforces). `now` for the From_ line.
std::string pipeHeaderLines(std::string_view flags, std::string_view sender,
                            std::string_view null_sender, const std::vector<PipeRecipient>& rcpts,
                            int64_t now_unix);

// Flag D's loop check: `header` (wire format) has a Delivered-To: field equal to `address`,
// case-insensitively.
bool hasDeliveredTo(std::string_view header, std::string_view address);

// The message as the program reads it: CRLF lines become LF (as pipe(8) writes them), flag
// '.' doubles a leading dot, flag '>' escapes a leading "From ", flag B appends an empty
// line. Fed in pieces so a large message is converted a chunk at a time.
class PipeContentWriter {
 public:
  explicit PipeContentWriter(std::string_view flags);
  // Appends the converted form of `wire` (the next bytes of the message) to `out`.
  void add(std::string_view wire, std::string& out);
  // Appends what the end of the message adds (a last line end, flag B's empty line).
  void finish(std::string& out);

 private:
  bool dot_ = false;
  bool from_ = false;
  bool blank_ = false;
  bool at_line_start_ = true;
  bool pending_cr_ = false;
  std::string line_head_;  // the start of a line while it could still be "From "
};

// The program's output as the DSN and the log show it: at most `limit` bytes, tabs and line
// ends as spaces, other control and non-ASCII bytes as '_', trailing spaces dropped.
std::string printablePipeOutput(std::string_view output, size_t limit = 1024);

// How a run ended.
struct PipeExit {
  bool exited = false;  // else killed by a signal
  int status = 0;       // exit status, or the signal
  bool timed_out = false;
  bool interrupted = false;  // killed because the queue stopped
};

struct PipeVerdict {
  enum class Status { Delivered, Deferred, Bounced };
  Status status = Status::Deferred;
  std::string dsn;
  std::string text;
};

// The verdict as pipe(8) gives it: 0 delivered; output that starts with an enhanced status
// code ("5.1.1 no such user") decides; a sysexits.h code maps as Postfix's sys_exits table
// (75 and 71 defer, the others bounce with their codes); other codes bounce 5.3.0; a signal
// defers 4.3.0; the time limit bounces 5.3.0 (as Postfix's pipe_command.c). `output`
// is already printable. `command` is argv[0] for the text.
PipeVerdict pipeVerdict(const PipeExit& exit, std::string_view output, std::string_view command);

}  // namespace petrel::delivery
