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

Session::Session(const MessageFacts& facts, MacroLists lists)
    : facts_(facts), lists_(std::move(lists)) {}

Step Session::start() {
  negotiating_ = true;
  outcome_ = Outcome{};
  outcome_.stage = "CONNECT";
  return Step{optionNegotiation(mtaOffer()), Wait::Command, false};
}

void Session::fail(std::string why) {
  if (done_) return;
  done_ = true;
  outcome_.verdict = Outcome::Verdict::Failed;
  outcome_.reply.reset();
  outcome_.failure = std::move(why);
  if (waiting_) outcome_.stage = stageName(waiting_->kind);
  waiting_.reset();
}

Step Session::failNow(std::string why) {
  fail(std::move(why));
  Step s;
  s.send = milter::abort() + milter::quit();
  s.done = true;
  return s;
}

bool Session::wantsRejectedRecipients() const {
  return (negotiated_.protocol & proto::RcptRejected) != 0;
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
  header_leading_space_ = (o->protocol & proto::HeaderLeadingSpace) != 0;
  outcome_.header_leading_space = header_leading_space_;
  for (const auto& [stage, names] : o->symbol_lists) {
    std::vector<std::string> list;
    for (const std::string& w : words(names)) list.push_back(wireMacroName(w));
    lists_[size_t(stage)] = std::move(list);
  }
  return begin({{Kind::Connect, 0}});
}

bool Session::wanted(Kind k) const {
  uint32_t f = negotiated_.protocol;
  auto want = [f](uint32_t no) { return (f & no) == 0; };
  switch (k) {
    case Kind::Connect: return want(proto::NoConnect);
    case Kind::Helo: return want(proto::NoHelo);
    case Kind::Mail: return want(proto::NoMail);
    case Kind::Rcpt: return want(proto::NoRcpt);
    case Kind::Data: return want(proto::NoData) && negotiated_.version >= 4;
    case Kind::Header: return want(proto::NoHeaders);
    case Kind::EndOfHeader: return want(proto::NoEndOfHeader);
    case Kind::Body: return want(proto::NoBody);
    case Kind::EndOfMessage: return true;
  }
  return true;
}

// SMFIC_ABORT for a message the milter saw part of (Postfix sends it at the reset).
std::string Session::abortIfOpen() {
  if (!message_open_) return {};
  message_open_ = false;
  return milter::abort();
}

// A new stage: its commands (those the milter wants), sent up to the first it answers.
Step Session::begin(std::vector<Item> items, std::string out) {
  Outcome fresh;
  fresh.header_leading_space = header_leading_space_;
  if (!items.empty()) fresh.stage = stageName(items.front().kind);
  outcome_ = std::move(fresh);
  items_.clear();
  next_ = 0;
  waiting_.reset();
  if (done_) {
    // A closed conversation answers nothing (the driver applies the default action).
    outcome_.verdict = Outcome::Verdict::Failed;
    return Step{{}, Wait::None, true};
  }
  for (const Item& i : items) {
    if (wanted(i.kind)) items_.push_back(i);
  }
  const bool message = !items_.empty() && items_.front().kind != Kind::Connect &&
                       items_.front().kind != Kind::Helo;
  if (message) {
    message_open_ = true;
  }
  return advance(std::move(out));
}

Step Session::helo() {
  if (done_ || accepted_session_) return begin({});
  std::string out = abortIfOpen();
  skip_message_ = false;
  return begin({{Kind::Helo, 0}}, std::move(out));
}

Step Session::mail() {
  if (done_ || accepted_session_) return begin({});
  std::string out = abortIfOpen();
  skip_message_ = false;
  return begin({{Kind::Mail, 0}}, std::move(out));
}

Step Session::rcpt(const MilterRecipient& r, bool rejected) {
  if (idleForMessage() || (rejected && !wantsRejectedRecipients())) return begin({});
  rcpt_ = r;
  rcpt_rejected_ = rejected;
  return begin({{Kind::Rcpt, 0}});
}

Step Session::data() {
  if (idleForMessage()) return begin({});
  return begin({{Kind::Data, 0}});
}

Step Session::content(const std::vector<content::HeaderField>& header, std::string_view body) {
  if (idleForMessage()) return begin({});
  header_ = &header;
  body_ = body;
  std::vector<Item> items;
  for (size_t i = 0; i < header.size(); ++i) items.push_back({Kind::Header, i});
  items.push_back({Kind::EndOfHeader, 0});
  for (size_t at = 0; at < body.size(); at += BodyChunk) items.push_back({Kind::Body, at});
  items.push_back({Kind::EndOfMessage, 0});
  return begin(std::move(items));
}

Step Session::quit() {
  if (done_) return Step{{}, Wait::None, true};
  std::string out = abortIfOpen();
  done_ = true;
  out += milter::quit();
  return Step{std::move(out), Wait::None, true};
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
    // Postfix names a recipient it refused with the error mailer.
    if (rcpt != nullptr && rcpt_rejected_ && name == "{rcpt_mailer}") {
      out.emplace_back(name, "error");
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
    if (!values.empty()) out += milter::macros(macroCommand(stage), values);
  };
  switch (item.kind) {
    case Kind::Connect:
      withMacros(MacroStage::Connect);
      out += milter::connect(facts_.client_name, facts_.family, facts_.client_port,
                             facts_.client_addr);
      return;
    case Kind::Helo:
      withMacros(MacroStage::Helo);
      out += milter::helo(facts_.helo);
      return;
    case Kind::Mail:
      withMacros(MacroStage::Mail);
      out += milter::mail(facts_.sender, facts_.sender_args);
      return;
    case Kind::Rcpt:
      withMacros(MacroStage::Rcpt, &rcpt_);
      out += milter::rcpt(rcpt_.address, rcpt_.args);
      return;
    case Kind::Data:
      withMacros(MacroStage::Data);
      out += milter::data();
      return;
    case Kind::Header: {
      const content::HeaderField& f = (*header_)[item.index];
      out += milter::header(f.name, headerValue(f, header_leading_space_));
      return;
    }
    case Kind::EndOfHeader:
      withMacros(MacroStage::EndOfHeader);
      out += milter::endOfHeader();
      return;
    case Kind::Body:
      out += milter::body(body_.substr(item.index, BodyChunk));
      return;
    case Kind::EndOfMessage:
      withMacros(MacroStage::EndOfMessage);
      out += milter::endOfBody();
      return;
  }
}

// Sends commands until one that the milter answers; none left: the stage is answered.
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
  waiting_.reset();
  rcpt_rejected_ = false;
  return Step{std::move(out), Wait::None, false};
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

// The milter decided the stage: what that means for the rest of the session.
Step Session::answer(Outcome::Verdict v, std::optional<smtp::Reply> reply) {
  const Kind k = waiting_->kind;
  waiting_.reset();
  items_.clear();
  next_ = 0;
  if (rcpt_rejected_) {
    // A recipient we refused anyway: what the milter thinks of it changes nothing.
    rcpt_rejected_ = false;
    return Step{{}, Wait::None, false};
  }
  outcome_.verdict = v;
  outcome_.reply = std::move(reply);
  outcome_.stage = stageName(k);
  const bool connection = k == Kind::Connect || k == Kind::Helo;
  const bool decided = v != Outcome::Verdict::Continue;
  if (v == Outcome::Verdict::Accept && connection) accepted_session_ = true;
  if (k == Kind::EndOfMessage) {
    message_open_ = false;  // the milter is ready for the next message
    skip_message_ = true;
  } else if (decided && !connection && !(k == Kind::Rcpt && v != Outcome::Verdict::Accept &&
                                         v != Outcome::Verdict::Discard)) {
    // A reject or tempfail at RCPT is that recipient's; any other verdict at a message stage
    // is the message's.
    skip_message_ = true;
  }
  return Step{{}, Wait::None, false};
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
      if (at_end) return answer(Outcome::Verdict::Continue);
      return advance({});
    case reply::Accept:
      return answer(Outcome::Verdict::Accept);
    case reply::Reject:
      return answer(Outcome::Verdict::Reject,
                    smtp::Reply(550, "5.7.1", std::string(NoReplyRejectText)));
    case reply::Tempfail:
    case reply::Shutdown:
    case reply::ConnectionFailed:
      // Postfix answers SMFIR_SHUTDOWN with 421 and a disconnect; here the stage is refused
      // and the session goes on.
      return answer(Outcome::Verdict::Tempfail,
                    smtp::Reply(451, "4.7.1", std::string(TempfailText)));
    case reply::Discard:
      return answer(Outcome::Verdict::Discard);
    case reply::ReplyCode: {
      auto reply = parseReplyCode(r->name);
      if (!reply) return failNow(fmt::format("malformed SMFIR_REPLYCODE \"{}\"",
                                             printable(r->name)));
      auto v = reply->temporary() ? Outcome::Verdict::Tempfail : Outcome::Verdict::Reject;
      return answer(v, std::move(reply));
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
