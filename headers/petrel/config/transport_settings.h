// `transports:`: the named delivery transports and each agent kind's settings (read by
// source/config/transports.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "petrel/config/endpoints.h"
#include "petrel/core/result.h"

namespace petrel::config {

// A delivery transport (Postfix's master.cf service used as transport(5)'s "transport:nexthop"):
// the name that transport tables and delivery.transport write, the kind of agent that delivers
// for it, and that kind's settings. Built in, without an entry under `transports:`: `virtual`
// (the Maildir agent), `smtp` and `relay` (the relay agent, relay.* settings) and `lmtp`; an
// entry with a built-in name other than `virtual` replaces its settings (docs/transports.md).
enum class TransportType { Virtual, Smtp, Lmtp, Pipe };
std::string_view toString(TransportType type);  // "virtual", "smtp", "lmtp", "pipe"

// The settings of each agent kind, as `transports.<name>:` writes them besides `type:`. Each
// kind's keys are read by its own function in source/config/transports.cc.
struct SmtpTransportSettings {
  // Connections per destination of this transport (Postfix maxproc and
  // <transport>_destination_concurrency_limit; the course's amavis: 5). Default: unset =
  // relay.destination_concurrency, shared with the relay agent's other mail.
  std::optional<uint32_t> concurrency;
  // Send XFORWARD with the original client's facts when the peer offers it (Postfix
  // smtp_send_xforward_command). Default: false
  bool xforward = false;
  // Seconds to wait for the reply to the end of DATA (Postfix smtp_data_done_timeout; the
  // course's amavis: 1200). Default: unset = relay.timeouts.data_done
  std::optional<uint64_t> data_timeout;
  // Whether any key beyond type: is set (the transport then has an agent of its own).
  bool any() const { return concurrency || xforward || data_timeout; }
};
// type lmtp (Postfix's lmtp(8) settings, lmtp_* in main.cf): per destination (transport and
// nexthop), at most `concurrency` connections, idle ones kept `connection_cache_time` for the
// next message. Every wait has its timeout.
struct LmtpTransportSettings {
  uint32_t concurrency = 20;         // lmtp_destination_concurrency_limit; Default: 20
  uint64_t connection_cache_time = 2;  // seconds, lmtp_connection_cache_time_limit; Default: 2s
  struct Timeouts {  // seconds; Postfix's lmtp_*_timeout defaults, connect bounded
    uint64_t connect = 30, greeting = 300, command = 300, data_init = 120, data_block = 180,
             data_done = 600;
  } timeouts;
};
// type pipe (Postfix's pipe(8) master.cf attributes; docs/pipe.md). Read by
// Loader::loadPipeTransport; the agent is server/pipe_agent.cc.
struct PipeTransportSettings {
  // argv: the program and its arguments, never through a shell; argv[0] an absolute path.
  // Macros (${recipient}, $sender, $(user), $$ for '$') as splitPipeArgument() reads them; a
  // value replaces its macro inside one argument. Required.
  std::vector<std::string> argv;
  // user: "user[:group]" the program runs as when Petrel runs as root (never root). Default:
  // none (Petrel's own user; when Petrel runs as root a user is required).
  std::string user;
  std::string group;
  // flags: Postfix's letters: B D F O R X h q u . > (docs/pipe.md). Default: none.
  std::string flags;
  uint64_t size_limit = 0;     // size_limit: bytes; larger messages bounce 5.2.3. Default: 0 (none)
  uint64_t time_limit = 1000;  // time_limit: seconds (command_time_limit). Default: 1000s
  // max_recipients (transport_destination_recipient_limit): recipients per run. Default: 0 =
  // 1 when argv has a per-recipient macro or flags has D or O, else all of the delivery.
  uint32_t max_recipients = 0;
  std::string directory;  // directory: the working directory. Default: "/"
  std::vector<std::pair<std::string, std::string>> env;  // env: extra variables. Default: none
  std::string null_sender = "MAILER-DAEMON";  // null_sender: what <> expands to. Default: same
};
// One piece of a pipe argv element: literal text or a macro name ("recipient").
struct PipeArgumentPart {
  bool macro = false;
  std::string text;
};
// Splits one argv element of a pipe transport into literal text and macros (${name},
// $name, $(name); "$$" is a '$'); an error names an unknown macro or a malformed one.
// transports.cc.
Result<std::vector<PipeArgumentPart>> splitPipeArgument(std::string_view text);
// The macros that take a value per recipient (${recipient}, ${user}, ...).
bool isPerRecipientPipeMacro(std::string_view name);

struct TransportConfig {
  std::string name;  // a config name (isName); never "virtual"
  TransportType type = TransportType::Smtp;
  SmtpTransportSettings smtp;  // type smtp
  LmtpTransportSettings lmtp;  // type lmtp
  PipeTransportSettings pipe;  // type pipe
  std::string origin;          // "file:line:column" of the entry
};

// The transport called `name` among `configured` (the `transports:` entries) or the built-in
// ones; nullopt when there is none. transports.cc.
std::optional<TransportConfig> findTransport(const std::vector<TransportConfig>& configured,
                                             std::string_view name);
// "name:nexthop" (or a bare "name") when findTransport() knows `name`; nullopt otherwise (a
// relay.transport value may also be a plain next hop).
std::optional<TransportRef> transportRef(const std::vector<TransportConfig>& configured,
                                         std::string_view text);

}  // namespace petrel::config
