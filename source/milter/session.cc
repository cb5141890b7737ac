// The milter conversation state machine and the mapping of its modifications; see session.h.
#include "petrel/milter/session.h"

#include <fmt/format.h>

#include <algorithm>

#include "petrel/core/strings.h"

namespace petrel::milter {

namespace {

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',' || s[i] == '\t')) ++i;
    size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != ',' && s[i] != '\t') ++i;
    if (i > start) out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

// A milter may name "{daemon_name}" or "daemon_name"; the wire form has braces unless it is one
// character.
std::string wireMacroName(std::string_view name) {
  if (name.size() <= 1 || name.front() == '{') return std::string(name);
  return fmt::format("{{{}}}", name);
}

char macroCommand(MacroStage s) {
  switch (s) {
    case MacroStage::Connect: return cmd::Connect;
    case MacroStage::Helo: return cmd::Helo;
    case MacroStage::Mail: return cmd::Mail;
    case MacroStage::Rcpt: return cmd::Rcpt;
    case MacroStage::Data: return cmd::Data;
    case MacroStage::EndOfMessage: return cmd::EndOfBody;
    case MacroStage::EndOfHeader: return cmd::EndOfHeader;
  }
  return cmd::Connect;
}

// Postfix sends a field's value as its queue file holds it: lines joined by LF, the space
// after the colon left out unless the milter asked for it.
std::string headerValue(const content::HeaderField& f, bool leading_space) {
  std::string_view v = f.value();
  if (!leading_space && !v.empty() && v.front() == ' ') v.remove_prefix(1);
  std::string out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\r' && i + 1 < v.size() && v[i + 1] == '\n') continue;
    out += v[i];
  }
  return out;
}

// Text from a milter that goes into a reply or a log line: no control characters.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s) out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
  return out;
}

bool isdigit(char c) { return c >= '0' && c <= '9'; }

constexpr std::string_view NoReplyRejectText = "Command rejected";
constexpr std::string_view TempfailText = "Service unavailable - try again later";

}  // namespace

MacroLists postfixMacros() {
  MacroLists m;
  m[size_t(MacroStage::Connect)] = {"j", "{daemon_name}", "{daemon_addr}", "v", "_"};
  m[size_t(MacroStage::Helo)] = {"{tls_version}", "{cipher}", "{cipher_bits}", "{cert_subject}",
                                 "{cert_issuer}"};
  m[size_t(MacroStage::Mail)] = {"i",           "{auth_type}", "{auth_authen}", "{auth_author}",
                                 "{mail_addr}", "{mail_host}", "{mail_mailer}"};
  m[size_t(MacroStage::Rcpt)] = {"i", "{rcpt_addr}", "{rcpt_host}", "{rcpt_mailer}"};
  m[size_t(MacroStage::Data)] = {"i"};
  m[size_t(MacroStage::EndOfMessage)] = {"i"};
  m[size_t(MacroStage::EndOfHeader)] = {"i"};
  return m;
}

Options mtaOffer() {
  Options o;
  o.actions = action::All;
  o.protocol = proto::All;
  return o;
}

Session::Session(const MessageFacts& facts, const std::vector<content::HeaderField>& header,
                 std::string_view body, MacroLists lists)
    : facts_(facts), header_(header), body_(body), lists_(std::move(lists)) {}

Step Session::start() {
  negotiating_ = true;
  return Step{optionNegotiation(mtaOffer()), Wait::Command, false};
}

void Session::fail(std::string why) {
  if (done_) return;
  done_ = true;
  outcome_.verdict = Outcome::Verdict::Failed;
  outcome_.failure = std::move(why);
  if (waiting_) outcome_.stage = stageName(waiting_->kind);
}

Step Session::failNow(std::string why) {
  fail(std::move(why));
  Step s;
  s.send = abort() + quit();
  s.done = true;
  return s;
}

Step Session::negotiate(const Packet& p) {
  negotiating_ = false;
  Result<Options> o = parseOptions(p);
  if (!o) return failNow(o.error().message());
  if (o->version < 2 || o->version > ProtocolVersion) {
    return failNow(fmt::format("protocol version {} is not supported", o->version));
  }
  Options offer = mtaOffer();
  if ((o->protocol & ~offer.protocol) != 0) {
    return failNow(fmt::format("protocol flags 0x{:x} are not supported",
                               o->protocol & ~offer.protocol));
  }
  negotiated_ = *o;
  negotiated_.actions &= offer.actions;
  outcome_.header_leading_space = (o->protocol & proto::HeaderLeadingSpace) != 0;
  for (const auto& [stage, names] : o->symbol_lists) {
    std::vector<std::string> list;
    for (const std::string& w : words(names)) list.push_back(wireMacroName(w));
    lists_[size_t(stage)] = std::move(list);
  }
  uint32_t f = negotiated_.protocol;
  auto wanted = [f](uint32_t no) { return (f & no) == 0; };
  if (wanted(proto::NoConnect)) items_.push_back({Kind::Connect, 0});
  if (wanted(proto::NoHelo)) items_.push_back({Kind::Helo, 0});
  if (wanted(proto::NoMail)) items_.push_back({Kind::Mail, 0});
  if (wanted(proto::NoRcpt)) {
    for (size_t i = 0; i < facts_.recipients.size(); ++i) items_.push_back({Kind::Rcpt, i});
  }
  if (wanted(proto::NoData) && o->version >= 4) items_.push_back({Kind::Data, 0});
  if (wanted(proto::NoHeaders)) {
    for (size_t i = 0; i < header_.size(); ++i) items_.push_back({Kind::Header, i});
  }
  if (wanted(proto::NoEndOfHeader)) items_.push_back({Kind::EndOfHeader, 0});
  if (wanted(proto::NoBody)) {
    for (size_t at = 0; at < body_.size(); at += BodyChunk) items_.push_back({Kind::Body, at});
  }
  items_.push_back({Kind::EndOfMessage, 0});
  return advance({});
}

bool Session::expectsReply(Kind k) const {
  uint32_t f = negotiated_.protocol;
  switch (k) {
    case Kind::Connect: return (f & proto::NoReplyConnect) == 0;
    case Kind::Helo: return (f & proto::NoReplyHelo) == 0;
    case Kind::Mail: return (f & proto::NoReplyMail) == 0;
    case Kind::Rcpt: return (f & proto::NoReplyRcpt) == 0;
    case Kind::Data: return (f & proto::NoReplyData) == 0;
    case Kind::Header: return (f & proto::NoReplyHeader) == 0;
    case Kind::EndOfHeader: return (f & proto::NoReplyEndOfHeader) == 0;
    case Kind::Body: return (f & proto::NoReplyBody) == 0;
    case Kind::EndOfMessage: return true;
  }
  return true;
}

std::vector<std::pair<std::string, std::string>> Session::macroValues(
    MacroStage stage, const MilterRecipient* rcpt) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& name : lists_[size_t(stage)]) {
    if (rcpt != nullptr && name == "{rcpt_addr}") {
      out.emplace_back(name, rcpt->address);
      continue;
    }
    if (rcpt != nullptr && name == "{rcpt_host}") {
      size_t at = rcpt->address.rfind('@');
      if (at != std::string::npos) out.emplace_back(name, rcpt->address.substr(at + 1));
      continue;
    }
    auto it = facts_.macros.find(name);
    if (it != facts_.macros.end() && !it->second.empty()) out.emplace_back(name, it->second);
  }
  return out;
}

void Session::encodeItem(const Item& item, std::string& out) const {
  auto withMacros = [&](MacroStage stage, const MilterRecipient* rcpt = nullptr) {
    auto values = macroValues(stage, rcpt);
    if (!values.empty()) out += macros(macroCommand(stage), values);
  };
  switch (item.kind) {
    case Kind::Connect:
      withMacros(MacroStage::Connect);
      out += connect(facts_.client_name, facts_.family, facts_.client_port, facts_.client_addr);
      return;
    case Kind::Helo:
      withMacros(MacroStage::Helo);
      out += helo(facts_.helo);
      return;
    case Kind::Mail:
      withMacros(MacroStage::Mail);
      out += mail(facts_.sender, facts_.sender_args);
      return;
    case Kind::Rcpt: {
      const MilterRecipient& r = facts_.recipients[item.index];
      withMacros(MacroStage::Rcpt, &r);
      out += rcpt(r.address, r.args);
      return;
    }
    case Kind::Data:
      withMacros(MacroStage::Data);
      out += data();
      return;
    case Kind::Header: {
      const content::HeaderField& f = header_[item.index];
      out += header(f.name, headerValue(f, outcome_.header_leading_space));
      return;
    }
    case Kind::EndOfHeader:
      withMacros(MacroStage::EndOfHeader);
      out += endOfHeader();
      return;
    case Kind::Body:
      out += body(body_.substr(item.index, BodyChunk));
      return;
    case Kind::EndOfMessage:
      withMacros(MacroStage::EndOfMessage);
      out += endOfBody();
      return;
  }
}

// Sends commands until one that the milter answers.
Step Session::advance(std::string out) {
  while (next_ < items_.size()) {
    const Item item = items_[next_++];
    encodeItem(item, out);
    if (expectsReply(item.kind)) {
      waiting_ = item;
      bool content = item.kind == Kind::Body || item.kind == Kind::EndOfMessage;
      return Step{std::move(out), content ? Wait::Content : Wait::Command, false};
    }
  }
  // Unreachable: the end of message is always answered.
  return finish(Outcome::Verdict::Continue);
}

std::string Session::stageName(Kind k) const {
  switch (k) {
    case Kind::Connect: return "CONNECT";
    case Kind::Helo: return "HELO";
    case Kind::Mail: return "MAIL";
    case Kind::Rcpt: return "RCPT";
    case Kind::Data: return "DATA";
    case Kind::Header: return "END-OF-MESSAGE";  // Postfix names the header stage so too
    case Kind::EndOfHeader: return "END-OF-MESSAGE";
    case Kind::Body: return "END-OF-MESSAGE";
    case Kind::EndOfMessage: return "END-OF-MESSAGE";
  }
  return "END-OF-MESSAGE";
}

Step Session::finish(Outcome::Verdict v, std::optional<smtp::Reply> reply) {
  done_ = true;
  outcome_.verdict = v;
  outcome_.reply = std::move(reply);
  if (waiting_) outcome_.stage = stageName(waiting_->kind);
  // Anything sent before a verdict other than at the end of message may still be taken
  // apart by the milter: abort first, as Postfix does, then quit.
  Step s;
  if (!waiting_ || waiting_->kind != Kind::EndOfMessage) s.send = abort();
  s.send += quit();
  s.done = true;
  return s;
}

Step Session::onPacket(const Packet& p) {
  if (done_) return Step{{}, Wait::None, true};
  if (negotiating_) return negotiate(p);
  if (!waiting_) return failNow(fmt::format("unexpected {}", replyName(p.command)));
  Result<Reply> r = parseReply(p);
  if (!r) return failNow(r.error().message());
  bool at_end = waiting_->kind == Kind::EndOfMessage;
  const Wait wait =
      waiting_->kind == Kind::Body || waiting_->kind == Kind::EndOfMessage ? Wait::Content
                                                                            : Wait::Command;
  auto modification = [&](uint32_t needs) -> Step {
    if (!at_end) return failNow(fmt::format("{} before the end of the message", replyName(r->kind)));
    if ((negotiated_.actions & needs) == 0) {
      outcome_.warnings.push_back(
          fmt::format("{} was not negotiated: ignored", replyName(r->kind)));
    } else {
      outcome_.modifications.push_back(Modification{r->kind, r->index, r->name, r->value});
    }
    return Step{{}, wait, false};
  };
  switch (r->kind) {
    case reply::Continue:
      if (at_end) return finish(Outcome::Verdict::Continue);
      return advance({});
    case reply::Accept:
      return finish(Outcome::Verdict::Accept);
    case reply::Reject:
      return finish(Outcome::Verdict::Reject,
                    smtp::Reply(550, "5.7.1", std::string(NoReplyRejectText)));
    case reply::Tempfail:
    case reply::Shutdown:
    case reply::ConnectionFailed:
      // Postfix answers SMFIR_SHUTDOWN with 421 and a disconnect; here the message is
      // refused and the session goes on.
      return finish(Outcome::Verdict::Tempfail,
                    smtp::Reply(451, "4.7.1", std::string(TempfailText)));
    case reply::Discard:
      return finish(Outcome::Verdict::Discard);
    case reply::ReplyCode: {
      auto reply = parseReplyCode(r->name);
      if (!reply) return failNow(fmt::format("malformed SMFIR_REPLYCODE \"{}\"",
                                             printable(r->name)));
      auto v = reply->temporary() ? Outcome::Verdict::Tempfail : Outcome::Verdict::Reject;
      return finish(v, std::move(reply));
    }
    case reply::Skip:
      if (waiting_->kind != Kind::Body) return failNow("SMFIR_SKIP outside the body");
      while (next_ < items_.size() && items_[next_].kind == Kind::Body) ++next_;
      return advance({});
    case reply::Progress:
      return Step{{}, wait, false};
    case reply::AddHeader: return modification(action::AddHeaders);
    case reply::InsertHeader: return modification(action::AddHeaders);
    case reply::ChangeHeader: return modification(action::ChangeHeaders);
    case reply::AddRcpt: return modification(action::AddRcpt);
    case reply::AddRcptWithArgs: return modification(action::AddRcptWithArgs);
    case reply::DelRcpt: return modification(action::DelRcpt);
    case reply::ChangeFrom: return modification(action::ChangeFrom);
    case reply::ReplaceBody: return modification(action::ChangeBody);
    case reply::Quarantine: return modification(action::Quarantine);
    default:
      return failNow(fmt::format("unexpected {}", replyName(r->kind)));
  }
}

std::optional<smtp::Reply> parseReplyCode(std::string_view text) {
  smtp::Reply reply;
  reply.lines.clear();
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    std::string_view line = text.substr(start, end == std::string_view::npos ? text.npos : end - start);
    start = end == std::string_view::npos ? text.size() : end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() < 3 || (line[0] != '4' && line[0] != '5') || !isdigit(line[1]) ||
        !isdigit(line[2]) || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
      return std::nullopt;
    }
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (!reply.lines.empty() && code != reply.code) return std::nullopt;
    reply.code = code;
    std::string_view rest = line.size() > 4 ? line.substr(4) : std::string_view();
    // "5.7.1 text": the enhanced code, when there is one and its class matches.
    size_t sp = rest.find(' ');
    std::string_view first = rest.substr(0, sp);
    if (first.size() >= 5 && first[0] == line[0] && first[1] == '.' &&
        std::all_of(first.begin(), first.end(), [](char c) { return isdigit(c) || c == '.'; })) {
      reply.enhanced = std::string(first);
      rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
    }
    reply.lines.push_back(printable(rest));
  }
  if (reply.lines.empty()) return std::nullopt;
  if (reply.enhanced.empty()) reply.enhanced = reply.code >= 500 ? "5.7.1" : "4.7.1";
  return reply;
}

}  // namespace petrel::milter
