// The Sendmail milter protocol, version 6, as the MTA side speaks it: the wire codec. A packet
// is a 4-octet big-endian length (of what follows), one command octet and its data. This file
// builds the MTA's commands (SMFIC_*) and takes apart the milter's replies (SMFIR_*), with the
// option negotiation's actions and protocol flags and the macro packets. Pure and bounded:
// bytes in, packets out, at most MaxPacket octets each; no I/O, no session state (session.h
// decides what to send when).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"

namespace petrel::milter {

// A larger packet is a protocol error (libmilter's own limit is 64 KiB of body per chunk; a
// header field or a reply text is far smaller). Bounds what one milter can make us hold.
constexpr size_t MaxPacket = 1024 * 1024;
// Body chunks we send (libmilter's MILTER_CHUNK_SIZE).
constexpr size_t BodyChunk = 65535;
constexpr uint32_t ProtocolVersion = 6;

// Commands, MTA -> milter.
namespace cmd {
constexpr char Abort = 'A';
constexpr char Body = 'B';
constexpr char Connect = 'C';
constexpr char Macro = 'D';
constexpr char EndOfBody = 'E';
constexpr char Helo = 'H';
constexpr char QuitNewConnection = 'K';
constexpr char Header = 'L';
constexpr char Mail = 'M';
constexpr char EndOfHeader = 'N';
constexpr char OptionNegotiation = 'O';
constexpr char Quit = 'Q';
constexpr char Rcpt = 'R';
constexpr char Data = 'T';
constexpr char Unknown = 'U';
}  // namespace cmd

// Replies, milter -> MTA.
namespace reply {
constexpr char AddRcpt = '+';
constexpr char DelRcpt = '-';
constexpr char AddRcptWithArgs = '2';
constexpr char Shutdown = '4';
constexpr char Accept = 'a';
constexpr char ReplaceBody = 'b';
constexpr char Continue = 'c';
constexpr char Discard = 'd';
constexpr char ChangeFrom = 'e';
constexpr char ConnectionFailed = 'f';
constexpr char AddHeader = 'h';
constexpr char InsertHeader = 'i';
constexpr char SetSymbolList = 'l';
constexpr char ChangeHeader = 'm';
constexpr char Progress = 'p';
constexpr char Quarantine = 'q';
constexpr char Reject = 'r';
constexpr char Skip = 's';
constexpr char Tempfail = 't';
constexpr char ReplyCode = 'y';
constexpr char OptionNegotiation = 'O';
}  // namespace reply

// SMFIF_*: what the milter may change at end of message.
namespace action {
constexpr uint32_t AddHeaders = 0x01;
constexpr uint32_t ChangeBody = 0x02;
constexpr uint32_t AddRcpt = 0x04;
constexpr uint32_t DelRcpt = 0x08;
constexpr uint32_t ChangeHeaders = 0x10;
constexpr uint32_t Quarantine = 0x20;
constexpr uint32_t ChangeFrom = 0x40;
constexpr uint32_t AddRcptWithArgs = 0x80;
constexpr uint32_t SetSymbolList = 0x100;
constexpr uint32_t All = 0x1ff;
}  // namespace action

// SMFIP_*: steps the milter does not want (NO*), steps it will not answer (NR_*), and manners.
namespace proto {
constexpr uint32_t NoConnect = 0x01;
constexpr uint32_t NoHelo = 0x02;
constexpr uint32_t NoMail = 0x04;
constexpr uint32_t NoRcpt = 0x08;
constexpr uint32_t NoBody = 0x10;
constexpr uint32_t NoHeaders = 0x20;
constexpr uint32_t NoEndOfHeader = 0x40;
constexpr uint32_t NoReplyHeader = 0x80;
constexpr uint32_t NoUnknown = 0x100;
constexpr uint32_t NoData = 0x200;
constexpr uint32_t Skip = 0x400;
constexpr uint32_t RcptRejected = 0x800;
constexpr uint32_t NoReplyConnect = 0x1000;
constexpr uint32_t NoReplyHelo = 0x2000;
constexpr uint32_t NoReplyMail = 0x4000;
constexpr uint32_t NoReplyRcpt = 0x8000;
constexpr uint32_t NoReplyData = 0x10000;
constexpr uint32_t NoReplyUnknown = 0x20000;
constexpr uint32_t NoReplyEndOfHeader = 0x40000;
constexpr uint32_t NoReplyBody = 0x80000;
constexpr uint32_t HeaderLeadingSpace = 0x100000;
constexpr uint32_t All = 0x1fffff;
}  // namespace proto

// The macro stages of SMFIR_SETSYMLIST (SMFIM_*), in protocol order.
enum class MacroStage : uint32_t {
  Connect = 0,
  Helo = 1,
  Mail = 2,
  Rcpt = 3,
  Data = 4,
  EndOfMessage = 5,
  EndOfHeader = 6,
};
constexpr size_t MacroStages = 7;

struct Packet {
  char command = 0;
  std::string data;
};

// One whole packet on the wire.
std::string encode(char command, std::string_view data);

// Collects what the milter sends and cuts it into packets.
class PacketReader {
 public:
  // Appends bytes; returns an error (permanent: the stream is unusable) for a packet longer
  // than MaxPacket or of length 0.
  Status feed(std::string_view bytes);
  // The next complete packet, if any.
  std::optional<Packet> next();
  size_t buffered() const { return in_.size() - pos_; }

 private:
  std::string in_;
  size_t pos_ = 0;
};

// ---- commands ----------------------------------------------------------------------------

struct Options {
  uint32_t version = ProtocolVersion;
  uint32_t actions = 0;
  uint32_t protocol = 0;
  // v6: macro names the milter asks for, per stage (empty: the MTA's defaults)
  std::vector<std::pair<MacroStage, std::string>> symbol_lists;
};

std::string optionNegotiation(const Options& offer);
// family '4', '6', 'L' (unix socket) or 'U' (unknown: no port or address follow)
std::string connect(std::string_view hostname, char family, uint16_t port,
                    std::string_view address);
std::string helo(std::string_view name);
// The address with its angle brackets, then ESMTP arguments ("SIZE=123").
std::string mail(std::string_view sender, const std::vector<std::string>& args);
std::string rcpt(std::string_view recipient, const std::vector<std::string>& args);
std::string data();
std::string header(std::string_view name, std::string_view value);
std::string endOfHeader();
std::string body(std::string_view chunk);
std::string endOfBody();
std::string abort();
std::string quit();
// `for_command` is the command the macros go with (cmd::Connect, ...).
std::string macros(char for_command, const std::vector<std::pair<std::string, std::string>>& m);

// ---- replies -----------------------------------------------------------------------------

Result<Options> parseOptions(const Packet& p);

struct Reply {
  char kind = 0;                 // one of reply::*
  uint32_t index = 0;            // insert/change header
  std::string name;              // header name; recipient or sender address; reply text
  std::string value;             // header value; ESMTP arguments; quarantine reason
};
// The fields of a reply packet; an error for a truncated one or an unknown command.
Result<Reply> parseReply(const Packet& p);

// A readable name for logs ("SMFIR_REJECT").
std::string_view replyName(char kind);

}  // namespace petrel::milter
