// The before-queue filter's client state machine; see proxy_client.h for the states and the
// driver contract. Replies are read by the shared ReplyReader (reply.h), as ClientSession's.
#include "petrel/smtp/proxy_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "petrel/core/assert.h"
#include "petrel/core/strings.h"
#include "petrel/smtp/client_session.h"

namespace petrel::smtp {

namespace {

// RFC 5321 4.5.3.1.4: a command line is at most 512 octets with its CRLF.
constexpr size_t MaxCommandLine = 512;
constexpr std::string_view Unavailable = "[UNAVAILABLE]";

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
  }
  return out;
}

}  // namespace

std::string proxyMailCommand(const MailParams& mail) {
  std::string c = fmt::format("MAIL FROM:<{}>", mail.sender.text);
  if (mail.size) c += fmt::format(" SIZE={}", *mail.size);
  if (!mail.body.empty()) c += " BODY=" + mail.body;
  if (mail.smtputf8) c += " SMTPUTF8";
  if (!mail.dsn_ret.empty()) c += " RET=" + mail.dsn_ret;
  if (!mail.dsn_envid.empty()) c += " ENVID=" + encodeXtext(mail.dsn_envid);
  return c;
}

std::string proxyRcptCommand(const RcptParams& rcpt) {
  std::string c = fmt::format("RCPT TO:<{}>", rcpt.recipient.text);
  if (auto n = notifyParam(rcpt.dsn_notify)) c += " NOTIFY=" + *n;
  if (auto o = orcptParam(rcpt.dsn_orcpt)) c += " ORCPT=" + *o;
  return c;
}

std::vector<std::string> xforwardCommands(const std::vector<XforwardAttribute>& attributes,
                                          const std::vector<std::string>& offered) {
  std::vector<std::string> out;
  std::string line;
  for (const XforwardAttribute& a : attributes) {
    std::string name = upper(a.name);
    if (std::find(offered.begin(), offered.end(), name) == offered.end()) continue;
    std::string value = a.value.empty() ? std::string(Unavailable) : encodeXtext(a.value);
    // A value too long for any line (a 500-octet HELO name) is not worth a broken command.
    std::string item = fmt::format("{}={}", name, value);
    if (std::string_view("XFORWARD ").size() + item.size() + 2 > MaxCommandLine) {
      item = fmt::format("{}={}", name, Unavailable);
    }
    if (!line.empty() && line.size() + 1 + item.size() + 2 > MaxCommandLine) {
      out.push_back(std::move(line));
      line.clear();
    }
    line += line.empty() ? "XFORWARD " + item : " " + item;
  }
  if (!line.empty()) out.push_back(std::move(line));
  return out;
}

ProxyClient::ProxyClient(std::string ehlo_name) : ehlo_name_(std::move(ehlo_name)) {
  PETREL_ASSERT(!ehlo_name_.empty() && ehlo_name_.find(' ') == std::string::npos);
}

ProxyClient::Step ProxyClient::onInput(std::string_view bytes) {
  if (state_ == State::Failed) return {};
  reader_.feed(bytes);
  while (state_ != State::Failed) {
    std::optional<Reply> r = reader_.next();
    if (!r) {
      if (reader_.error()) failWith(fmt::format("protocol error: {}", *reader_.error()));
      break;
    }
    onReply(*r);
  }
  return std::exchange(out_, Step{});
}

bool ProxyClient::waiting() const {
  switch (state_) {
    case State::Greeting:
    case State::Ehlo:
    case State::Quit:
      return true;
    case State::Ready:
      return prelude_waiting_ || (request_ && request_sent_);
    case State::Failed:
      return false;
  }
  return false;
}

void ProxyClient::onReply(const Reply& r) {
  switch (state_) {
    case State::Greeting:
      if (r.code != 220) return failWith(fmt::format("greeting: {}", r.oneLine()));
      send(fmt::format("EHLO {}", ehlo_name_));
      state_ = State::Ehlo;
      return;
    case State::Ehlo:
      if (r.code != 250) return failWith(fmt::format("EHLO: {}", r.oneLine()));
      for (size_t i = 1; i < r.lines.size(); ++i) {
        std::vector<std::string_view> words = split(r.lines[i], ' ');
        if (words.empty() || upper(words[0]) != "XFORWARD") continue;
        for (size_t w = 1; w < words.size(); ++w) {
          if (!words[w].empty()) xforward_offered_.push_back(upper(words[w]));
        }
      }
      state_ = State::Ready;
      return advance();
    case State::Ready:
      break;
    case State::Quit:
      state_ = State::Failed;  // done; nothing more is read
      return;
    case State::Failed:
      return;
  }
  if (prelude_waiting_) {
    prelude_waiting_ = false;
    if (r.code / 100 != 2) {
      return failWith(fmt::format("{}: {}", split(prelude_line_, ' ')[0], r.oneLine()));
    }
    if (prelude_line_ == "RSET") transaction_open_ = false;
    return advance();
  }
  if (!request_ || !request_sent_) {
    // Nothing asked: a 421 before the filter hangs up, or a filter out of step.
    return failWith(fmt::format("unexpected reply: {}", r.oneLine()));
  }
  if (r.code == 421) {
    // The filter is going away: not an answer to pass on (the client would hang up too).
    return failWith(fmt::format("{}", r.oneLine()));
  }
  Request done = *request_;
  request_.reset();
  request_sent_ = false;
  if (done == Request::Mail) transaction_open_ = r.code / 100 == 2;
  if (done == Request::Data && r.code != 354) transaction_open_ = true;  // RSET before MAIL
  if (done == Request::EndOfData) transaction_open_ = false;
  out_.answer = r;
}

void ProxyClient::advance() {
  if (state_ != State::Ready || !request_ || request_sent_ || prelude_waiting_) return;
  if (!prelude_built_) {
    // Built once the filter's EHLO reply is known: what it offers, and whether a transaction
    // of an earlier MAIL is still open there.
    prelude_built_ = true;
    if (*request_ == Request::Mail) {
      if (transaction_open_) prelude_.push_back("RSET");
      for (std::string& x : xforwardCommands(xforward_, xforward_offered_)) {
        prelude_.push_back(std::move(x));
      }
    }
  }
  if (prelude_next_ < prelude_.size()) {
    prelude_line_ = prelude_[prelude_next_++];
    prelude_waiting_ = true;
    send(prelude_line_);
    return;
  }
  prelude_.clear();
  prelude_next_ = 0;
  request_sent_ = true;
  if (!request_line_.empty()) send(std::move(request_line_));
  request_line_.clear();
}

void ProxyClient::request(Request what, std::string line) {
  PETREL_ASSERT(!busy() && state_ != State::Failed);
  request_ = what;
  request_line_ = std::move(line);
  request_sent_ = false;
  prelude_.clear();
  prelude_next_ = 0;
  prelude_built_ = false;
}

ProxyClient::Step ProxyClient::mail(std::vector<XforwardAttribute> xforward, std::string command) {
  if (state_ == State::Failed) return std::exchange(out_, Step{});
  request(Request::Mail, std::move(command));
  xforward_ = std::move(xforward);
  advance();
  return std::exchange(out_, Step{});
}

ProxyClient::Step ProxyClient::rcpt(std::string command) {
  if (state_ == State::Failed) return std::exchange(out_, Step{});
  request(Request::Rcpt, std::move(command));
  advance();
  return std::exchange(out_, Step{});
}

ProxyClient::Step ProxyClient::data() {
  if (state_ == State::Failed) return std::exchange(out_, Step{});
  request(Request::Data, "DATA");
  advance();
  return std::exchange(out_, Step{});
}

ProxyClient::Step ProxyClient::endOfData() {
  if (state_ == State::Failed) return std::exchange(out_, Step{});
  request(Request::EndOfData, "");
  advance();
  return std::exchange(out_, Step{});
}

ProxyClient::Step ProxyClient::fail(std::string why) {
  if (state_ != State::Failed) failWith(std::move(why));
  return std::exchange(out_, Step{});
}

std::string ProxyClient::quit() {
  if (state_ != State::Ready || busy()) return {};
  state_ = State::Quit;
  return "QUIT\r\n";
}

void ProxyClient::failWith(std::string why) {
  state_ = State::Failed;
  request_.reset();
  request_sent_ = false;
  prelude_waiting_ = false;
  transaction_open_ = false;
  reader_.clear();
  out_.failure = sanitizeReplyText(why);
}

void ProxyClient::send(std::string line) { out_.send += line + "\r\n"; }

}  // namespace petrel::smtp
