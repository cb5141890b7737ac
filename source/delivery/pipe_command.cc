// The pipe agent's pure rules; see delivery/pipe_command.h.
#include "petrel/delivery/pipe_command.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <ctime>

#include "petrel/core/strings.h"

namespace petrel::delivery {

namespace {

bool hasFlag(std::string_view flags, char f) { return flags.find(f) != std::string_view::npos; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return out;
}

// The address split at its right-most '@' (pipe(8): text left and right of it).
std::pair<std::string_view, std::string_view> splitAddress(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos) return {address, {}};
  return {address.substr(0, at), address.substr(at + 1)};
}

// Flags h and u on a whole address (${recipient}, ${original_recipient}).
std::string foldAddress(std::string_view address, std::string_view flags) {
  auto [local, domain] = splitAddress(address);
  std::string out = hasFlag(flags, 'u') ? lower(local) : std::string(local);
  if (address.rfind('@') != std::string_view::npos) {
    out += '@';
    out += hasFlag(flags, 'h') ? lower(domain) : std::string(domain);
  }
  return out;
}

// RFC 5322 3.2.3 atext, plus '.' between atoms.
bool isAtext(unsigned char c) {
  if (c >= 128) return true;  // 8-bit transparent, as Postfix's quote_822_local
  if (isalnum(c)) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) !=
         std::string_view::npos;
}

bool needsQuoting(std::string_view local) {
  if (local.empty() || local.front() == '.' || local.back() == '.') return true;
  for (size_t i = 0; i < local.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(local[i]);
    if (c == '.') {
      if (local[i + 1] == '.') return true;
      continue;
    }
    if (!isAtext(c)) return true;
  }
  return false;
}

struct RecipientParts {
  std::string recipient, original, user, extension, mailbox, domain;
};

RecipientParts partsOf(const PipeRecipient& r, std::string_view flags) {
  RecipientParts p;
  std::string folded = foldAddress(r.address, flags);
  std::string orig = foldAddress(r.orig_address.empty() ? r.address : r.orig_address, flags);
  p.recipient = hasFlag(flags, 'q') ? quoteLocalPart(folded) : folded;
  p.original = hasFlag(flags, 'q') ? quoteLocalPart(orig) : orig;
  auto [local, domain] = splitAddress(r.address);
  p.mailbox = hasFlag(flags, 'u') ? lower(local) : std::string(local);
  size_t plus = p.mailbox.find('+');
  p.user = p.mailbox.substr(0, plus);
  p.extension = plus == std::string::npos ? "" : p.mailbox.substr(plus + 1);
  p.domain = hasFlag(flags, 'h') ? lower(domain) : std::string(domain);
  return p;
}

// "host[ip]" as queued: the two client macros.
std::pair<std::string, std::string> clientParts(std::string_view client) {
  size_t open = client.rfind('[');
  if (open == std::string_view::npos || client.back() != ']') return {std::string(client), ""};
  return {std::string(client.substr(0, open)),
          std::string(client.substr(open + 1, client.size() - open - 2))};
}

}  // namespace

std::vector<std::vector<size_t>> pipeRuns(size_t recipients, uint32_t max_recipients) {
  std::vector<std::vector<size_t>> runs;
  size_t per_run = max_recipients == 0 ? recipients : max_recipients;
  for (size_t i = 0; i < recipients; ++i) {
    if (runs.empty() || runs.back().size() >= per_run) runs.emplace_back();
    runs.back().push_back(i);
  }
  return runs;
}

std::string quoteLocalPart(std::string_view address) {
  if (address.empty()) return "";  // <> stays <>
  auto [local, domain] = splitAddress(address);
  if (!needsQuoting(local)) return std::string(address);
  std::string out = "\"";
  for (char c : local) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  if (address.rfind('@') != std::string_view::npos) {
    out += '@';
    out += domain;
  }
  return out;
}

Result<std::vector<std::string>> expandPipeArgv(const config::PipeTransportSettings& settings,
                                                const PipeMessageInfo& message,
                                                const std::vector<PipeRecipient>& recipients) {
  std::string_view flags = settings.flags;
  std::string sender = message.sender.empty() ? settings.null_sender : message.sender;
  // pipe(8): an empty replacement stays empty; q quotes only a real address.
  if (hasFlag(flags, 'q') && !sender.empty()) sender = quoteLocalPart(sender);
  std::string nexthop = hasFlag(flags, 'h') ? lower(message.nexthop) : message.nexthop;
  // Plain variables, not a structured binding: lambdas below capture them (C++20 allows it,
  // older clang does not).
  std::pair<std::string, std::string> client = clientParts(message.client);
  const std::string& client_hostname = client.first;
  const std::string& client_address = client.second;
  std::vector<RecipientParts> parts;
  parts.reserve(recipients.size());
  for (const PipeRecipient& r : recipients) parts.push_back(partsOf(r, flags));

  auto messageValue = [&](const std::string& name) -> std::string {
    if (name == "sender") return sender;
    if (name == "nexthop") return nexthop;
    if (name == "size") return std::to_string(message.size);
    if (name == "client_address") return client_address;
    if (name == "client_hostname") return client_hostname;
    if (name == "client_helo") return message.helo;
    if (name == "client_protocol") return message.protocol;
    if (name == "queue_id") return message.queue_id;
    return "";  // client_port, sasl_method, sasl_username: not kept in the queue
  };
  auto recipientValue = [](const RecipientParts& p, const std::string& name) -> std::string {
    if (name == "recipient") return p.recipient;
    if (name == "original_recipient") return p.original;
    if (name == "user") return p.user;
    if (name == "extension") return p.extension;
    if (name == "mailbox") return p.mailbox;
    return p.domain;  // "domain"
  };

  std::vector<std::string> argv;
  for (const std::string& arg : settings.argv) {
    auto split = config::splitPipeArgument(arg);
    if (!split) return split.error();
    bool per_recipient = false;
    for (const config::PipeArgumentPart& p : *split) {
      per_recipient = per_recipient || (p.macro && config::isPerRecipientPipeMacro(p.text));
    }
    size_t copies = per_recipient ? parts.size() : 1;
    for (size_t k = 0; k < copies; ++k) {
      std::string out;
      for (const config::PipeArgumentPart& p : *split) {
        if (!p.macro) {
          out += p.text;
        } else if (config::isPerRecipientPipeMacro(p.text)) {
          out += recipientValue(parts[k], p.text);
        } else {
          out += messageValue(p.text);
        }
      }
      argv.push_back(std::move(out));
    }
  }
  return argv;
}

std::string pipeHeaderLines(std::string_view flags, std::string_view sender,
                            std::string_view null_sender, const std::vector<PipeRecipient>& rcpts,
                            int64_t now_unix) {
  std::string envelope_sender = sender.empty() ? std::string(null_sender) : std::string(sender);
  // Header values: never a line end from an address into the header (addresses from the
  // queue have none, but a header line is the wrong place to trust that).
  auto clean = [](std::string s) {
    for (char& c : s) {
      if (static_cast<unsigned char>(c) < 32 || c == 127) c = '_';
    }
    return s;
  };
  std::string out;
  if (hasFlag(flags, 'F')) {
    time_t t = static_cast<time_t>(now_unix);
    struct tm tm {};
    gmtime_r(&t, &tm);
    char date[32];
    strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
    out += fmt::format("From {}  {}\n", clean(quoteLocalPart(envelope_sender)), date);
  }
  if (hasFlag(flags, 'R')) {
    out += fmt::format("Return-Path: <{}>\n", clean(quoteLocalPart(envelope_sender)));
  }
  if (!rcpts.empty()) {
    if (hasFlag(flags, 'D')) {
      out += fmt::format("Delivered-To: {}\n", clean(lower(quoteLocalPart(rcpts[0].address))));
    }
    if (hasFlag(flags, 'O')) {
      const std::string& orig =
          rcpts[0].orig_address.empty() ? rcpts[0].address : rcpts[0].orig_address;
      out += fmt::format("X-Original-To: {}\n", clean(quoteLocalPart(orig)));
    }
  }
  return out;
}

bool hasDeliveredTo(std::string_view header, std::string_view address) {
  constexpr std::string_view Name = "delivered-to:";
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find('\n', pos);
    std::string_view line =
        header.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? header.size() : end + 1;
    if (line.size() > Name.size() && lower(line.substr(0, Name.size())) == Name) {
      std::string_view value = trim(line.substr(Name.size()));
      if (lower(value) == lower(address)) return true;
    }
  }
  return false;
}

PipeContentWriter::PipeContentWriter(std::string_view flags)
    : dot_(hasFlag(flags, '.')), from_(hasFlag(flags, '>')), blank_(hasFlag(flags, 'B')) {}

void PipeContentWriter::add(std::string_view wire, std::string& out) {
  constexpr std::string_view From = "From ";
  auto put = [&](char c) {
    if (c == '\n') {
      out += line_head_;
      line_head_.clear();
      out += '\n';
      at_line_start_ = true;
      return;
    }
    if (!at_line_start_) {
      out += c;
      return;
    }
    line_head_ += c;
    if (dot_ && line_head_ == ".") {
      out += "..";
    } else if (from_ && From.starts_with(line_head_)) {
      if (line_head_.size() < From.size()) return;  // could still be "From "
      out += ">From ";
    } else {
      out += line_head_;
    }
    line_head_.clear();
    at_line_start_ = false;
  };
  out.reserve(out.size() + wire.size() + 16);
  for (char c : wire) {
    if (pending_cr_) {
      pending_cr_ = false;
      if (c == '\n') {
        put('\n');
        continue;
      }
      put('\r');
    }
    if (c == '\r') {
      pending_cr_ = true;
      continue;
    }
    put(c);
  }
}

void PipeContentWriter::finish(std::string& out) {
  if (pending_cr_) {
    out += '\r';
    pending_cr_ = false;
  }
  out += line_head_;
  bool open_line = !at_line_start_ || !line_head_.empty();
  line_head_.clear();
  if (open_line) out += '\n';
  at_line_start_ = true;
  if (blank_) out += '\n';
}

std::string printablePipeOutput(std::string_view output, size_t limit) {
  std::string out;
  for (char ch : output.substr(0, limit)) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '\t' || c == '\n' || c == '\r') {
      out += ' ';
    } else if (c < 32 || c >= 127) {
      out += '_';
    } else {
      out += ch;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

namespace {

struct SysExit {
  int code;
  std::string_view dsn;
  std::string_view text;
};

// sysexits.h (EX_USAGE 64 .. EX_CONFIG 78) with the enhanced codes Postfix gives them.
constexpr std::array<SysExit, 15> SysExits = {{
    {64, "5.3.0", "command line usage error"},
    {65, "5.6.0", "data format error"},
    {66, "5.3.0", "cannot open input"},
    {67, "5.1.1", "user unknown"},
    {68, "5.1.2", "host name unknown"},
    {69, "5.3.0", "service unavailable"},
    {70, "5.3.0", "internal software error"},
    {71, "4.3.0", "system resource problem"},
    {72, "5.3.0", "critical OS file missing"},
    {73, "5.2.0", "can't create user output file"},
    {74, "5.3.0", "input/output error"},
    {75, "4.3.0", "temporary failure"},
    {76, "5.5.0", "remote error in protocol"},
    {77, "5.7.0", "permission denied"},
    {78, "5.3.5", "local configuration error"},
}};

// "4.2.2 mailbox full" -> the code's length (5 in "4.2.2"), when output starts with an
// RFC 3463 code of class 4 or 5 followed by a space or the end.
size_t leadingDsn(std::string_view s) {
  if (s.size() < 5 || (s[0] != '4' && s[0] != '5') || s[1] != '.') return 0;
  size_t i = 2;
  auto digits = [&](size_t max) {
    size_t n = 0;
    while (i < s.size() && n < max && isdigit(static_cast<unsigned char>(s[i]))) ++i, ++n;
    return n > 0;
  };
  if (!digits(3) || i >= s.size() || s[i] != '.') return 0;
  ++i;
  if (!digits(3)) return 0;
  if (i < s.size() && s[i] != ' ') return 0;
  return i;
}

}  // namespace

PipeVerdict pipeVerdict(const PipeExit& exit, std::string_view output, std::string_view command) {
  using S = PipeVerdict::Status;
  std::string with_output =
      output.empty() ? std::string() : fmt::format(". Command output: {}", output);
  if (exit.interrupted) {
    return {S::Deferred, "4.3.2", "delivery interrupted: mail system shutting down"};
  }
  if (exit.timed_out) {
    // pipe_command.c: PIPE_STAT_BOUNCE, which pipe(8) reports as 5.3.0.
    return {S::Bounced, "5.3.0",
            fmt::format("Command time limit exceeded: \"{}\"{}", command, with_output)};
  }
  if (!exit.exited) {
    return {
        S::Deferred, "4.3.0",
        fmt::format("Command died with signal {}: \"{}\"{}", exit.status, command, with_output)};
  }
  if (exit.status == 0) {
    return {S::Delivered, "2.0.0", std::string(output)};
  }
  if (size_t n = leadingDsn(output); n > 0) {
    std::string text(trim(output.substr(n)));
    return {output[0] == '4' ? S::Deferred : S::Bounced, std::string(output.substr(0, n)),
            text.empty() ? std::string(output.substr(0, n)) : text};
  }
  for (const SysExit& e : SysExits) {
    if (e.code == exit.status) {
      return {e.dsn[0] == '4' ? S::Deferred : S::Bounced, std::string(e.dsn),
              fmt::format("{}{}", e.text, with_output)};
    }
  }
  return {S::Bounced, "5.3.0",
          fmt::format("Command died with status {}: \"{}\"{}", exit.status, command, with_output)};
}

}  // namespace petrel::delivery
