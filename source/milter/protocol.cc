// The milter wire codec; see protocol.h.
#include "petrel/milter/protocol.h"

#include <fmt/format.h>

namespace petrel::milter {

namespace {

void put32(std::string& out, uint32_t v) {
  out += static_cast<char>((v >> 24) & 0xff);
  out += static_cast<char>((v >> 16) & 0xff);
  out += static_cast<char>((v >> 8) & 0xff);
  out += static_cast<char>(v & 0xff);
}

uint32_t get32(std::string_view s, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(s[at + i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

// A NUL inside a string would end it early on the other side: such octets are left out.
void putString(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c != '\0') out += c;
  }
  out += '\0';
}

// Reads a NUL-terminated string at `at`; nullopt when the NUL is missing.
std::optional<std::string> takeString(std::string_view data, size_t& at) {
  size_t end = data.find('\0', at);
  if (end == std::string_view::npos) return std::nullopt;
  std::string s(data.substr(at, end - at));
  at = end + 1;
  return s;
}

Error truncated(char kind) {
  return Error::permanent(fmt::format("malformed {} reply", replyName(kind)));
}

}  // namespace

std::string encode(char command, std::string_view data) {
  std::string out;
  out.reserve(5 + data.size());
  put32(out, static_cast<uint32_t>(data.size() + 1));
  out += command;
  out += data;
  return out;
}

Status PacketReader::feed(std::string_view bytes) {
  if (pos_ > 0 && pos_ == in_.size()) {
    in_.clear();
    pos_ = 0;
  }
  in_.append(bytes);
  // Check the length of the packet at the front now, so that a huge announced length is
  // refused before its octets are held.
  if (in_.size() - pos_ >= 4) {
    uint32_t len = get32(in_, pos_);
    if (len == 0) return Error::permanent("milter packet of length 0");
    if (len > MaxPacket) {
      return Error::permanent(fmt::format("milter packet of {} octets (limit {})", len, MaxPacket));
    }
  }
  return okStatus();
}

std::optional<Packet> PacketReader::next() {
  if (in_.size() - pos_ < 4) return std::nullopt;
  uint32_t len = get32(in_, pos_);
  if (len == 0 || len > MaxPacket || in_.size() - pos_ - 4 < len) return std::nullopt;
  Packet p;
  p.command = in_[pos_ + 4];
  p.data = in_.substr(pos_ + 5, len - 1);
  pos_ += 4 + len;
  if (pos_ == in_.size()) {
    in_.clear();
    pos_ = 0;
  }
  return p;
}

std::string optionNegotiation(const Options& offer) {
  std::string d;
  put32(d, offer.version);
  put32(d, offer.actions);
  put32(d, offer.protocol);
  return encode(cmd::OptionNegotiation, d);
}

std::string connect(std::string_view hostname, char family, uint16_t port,
                    std::string_view address) {
  std::string d;
  putString(d, hostname);
  d += family;
  if (family != 'U') {
    d += static_cast<char>((port >> 8) & 0xff);
    d += static_cast<char>(port & 0xff);
    putString(d, address);
  }
  return encode(cmd::Connect, d);
}

std::string helo(std::string_view name) {
  std::string d;
  putString(d, name);
  return encode(cmd::Helo, d);
}

namespace {
std::string envelopeCommand(char command, std::string_view address,
                            const std::vector<std::string>& args) {
  std::string d;
  putString(d, fmt::format("<{}>", address));
  for (const std::string& a : args) putString(d, a);
  return encode(command, d);
}
}  // namespace

std::string mail(std::string_view sender, const std::vector<std::string>& args) {
  return envelopeCommand(cmd::Mail, sender, args);
}

std::string rcpt(std::string_view recipient, const std::vector<std::string>& args) {
  return envelopeCommand(cmd::Rcpt, recipient, args);
}

std::string data() { return encode(cmd::Data, {}); }

std::string header(std::string_view name, std::string_view value) {
  std::string d;
  putString(d, name);
  putString(d, value);
  return encode(cmd::Header, d);
}

std::string endOfHeader() { return encode(cmd::EndOfHeader, {}); }
std::string body(std::string_view chunk) { return encode(cmd::Body, chunk); }
std::string endOfBody() { return encode(cmd::EndOfBody, {}); }
std::string abort() { return encode(cmd::Abort, {}); }
std::string quit() { return encode(cmd::Quit, {}); }

std::string macros(char for_command, const std::vector<std::pair<std::string, std::string>>& m) {
  std::string d(1, for_command);
  for (const auto& [name, value] : m) {
    putString(d, name);
    putString(d, value);
  }
  return encode(cmd::Macro, d);
}

Result<Options> parseOptions(const Packet& p) {
  if (p.command != reply::OptionNegotiation) {
    return Error::permanent(
        fmt::format("option negotiation answered with {}", replyName(p.command)));
  }
  if (p.data.size() < 12) return truncated(p.command);
  Options o;
  o.version = get32(p.data, 0);
  o.actions = get32(p.data, 4);
  o.protocol = get32(p.data, 8);
  // v6: then pairs of a stage number and a NUL-terminated list of macro names
  size_t at = 12;
  while (at < p.data.size()) {
    if (p.data.size() - at < 4) return truncated(p.command);
    uint32_t stage = get32(p.data, at);
    at += 4;
    auto names = takeString(p.data, at);
    if (!names) return truncated(p.command);
    if (stage < MacroStages) o.symbol_lists.emplace_back(MacroStage(stage), std::move(*names));
  }
  return o;
}

Result<Reply> parseReply(const Packet& p) {
  Reply r;
  r.kind = p.command;
  std::string_view d = p.data;
  size_t at = 0;
  switch (p.command) {
    case reply::Accept:
    case reply::Continue:
    case reply::Discard:
    case reply::Reject:
    case reply::Tempfail:
    case reply::Skip:
    case reply::Progress:
    case reply::Shutdown:
    case reply::ConnectionFailed:
      return r;
    case reply::ReplaceBody:
      r.value = p.data;
      return r;
    case reply::AddRcpt:
    case reply::DelRcpt:
    case reply::ReplyCode:
    case reply::Quarantine: {
      auto s = takeString(d, at);
      if (!s) return truncated(p.command);
      r.name = std::move(*s);
      return r;
    }
    case reply::AddRcptWithArgs:
    case reply::ChangeFrom: {
      auto s = takeString(d, at);
      if (!s) return truncated(p.command);
      r.name = std::move(*s);
      // The arguments are optional.
      if (at < d.size()) {
        auto args = takeString(d, at);
        if (!args) return truncated(p.command);
        r.value = std::move(*args);
      }
      return r;
    }
    case reply::AddHeader: {
      auto name = takeString(d, at);
      if (!name) return truncated(p.command);
      auto value = takeString(d, at);
      if (!value) return truncated(p.command);
      r.name = std::move(*name);
      r.value = std::move(*value);
      return r;
    }
    case reply::InsertHeader:
    case reply::ChangeHeader: {
      if (d.size() < 4) return truncated(p.command);
      r.index = get32(d, 0);
      at = 4;
      auto name = takeString(d, at);
      if (!name) return truncated(p.command);
      auto value = takeString(d, at);
      if (!value) return truncated(p.command);
      r.name = std::move(*name);
      r.value = std::move(*value);
      return r;
    }
    case reply::SetSymbolList: {
      if (d.size() < 4) return truncated(p.command);
      r.index = get32(d, 0);
      at = 4;
      auto names = takeString(d, at);
      if (!names) return truncated(p.command);
      r.name = std::move(*names);
      return r;
    }
    default:
      return Error::permanent(fmt::format("unknown milter reply 0x{:02x}",
                                          static_cast<unsigned char>(p.command)));
  }
}

std::string_view replyName(char kind) {
  switch (kind) {
    case reply::AddRcpt: return "SMFIR_ADDRCPT";
    case reply::DelRcpt: return "SMFIR_DELRCPT";
    case reply::AddRcptWithArgs: return "SMFIR_ADDRCPT_PAR";
    case reply::Shutdown: return "SMFIR_SHUTDOWN";
    case reply::Accept: return "SMFIR_ACCEPT";
    case reply::ReplaceBody: return "SMFIR_REPLBODY";
    case reply::Continue: return "SMFIR_CONTINUE";
    case reply::Discard: return "SMFIR_DISCARD";
    case reply::ChangeFrom: return "SMFIR_CHGFROM";
    case reply::ConnectionFailed: return "SMFIR_CONN_FAIL";
    case reply::AddHeader: return "SMFIR_ADDHEADER";
    case reply::InsertHeader: return "SMFIR_INSHEADER";
    case reply::SetSymbolList: return "SMFIR_SETSYMLIST";
    case reply::ChangeHeader: return "SMFIR_CHGHEADER";
    case reply::Progress: return "SMFIR_PROGRESS";
    case reply::Quarantine: return "SMFIR_QUARANTINE";
    case reply::Reject: return "SMFIR_REJECT";
    case reply::Skip: return "SMFIR_SKIP";
    case reply::Tempfail: return "SMFIR_TEMPFAIL";
    case reply::ReplyCode: return "SMFIR_REPLYCODE";
    case reply::OptionNegotiation: return "SMFIC_OPTNEG";
    default: return "unknown reply";
  }
}

}  // namespace petrel::milter
