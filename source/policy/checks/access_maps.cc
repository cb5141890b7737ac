// Postfix access(5) maps: check_client_access, check_sender_access, check_recipient_access.
// The client's address, the sender or the recipient is looked up (addresses also as domain,
// parent domains and "localpart@"; client addresses as the IP and, for tables that are not
// cidr, its shorter prefixes). The value is an action: OK/PERMIT, REJECT [text], DEFER [text],
// DUNNO, 4NN/5NN [x.y.z] text; all digits means OK; PREPEND header, HOLD [text] and
// DISCARD [text] attach an action for the message and let the list go on; anything else is a
// configuration error answered with 451 4.3.5. A table that fails answers 451 4.3.0. A table that may block is
// asked on the pool (PolicyContext::offload).
#include <fmt/format.h>

#include <algorithm>

#include "checks.h"
#include "petrel/core/mail_address.h"
#include "petrel/core/strings.h"

namespace petrel::policy::checks {

namespace {

// The keys an address is looked up with (Postfix access(5), with
// parent_domain_matches_subdomains off, so parents are written ".example.com"): the full
// address, the domain, each parent domain as ".parent", then "localpart@".
std::vector<std::string> addressKeys(std::string_view address) {
  MailAddress a(toLower(address));
  std::vector<std::string> keys{a.text()};
  if (!a.hasDomain()) return keys;
  keys.emplace_back(a.domain());
  for (std::string& parent : a.parentDomains()) keys.push_back(std::move(parent));
  keys.push_back(std::string(a.local()) + "@");
  return keys;
}

// A client address: itself, then (IPv4 only) the shorter dotted prefixes "1.2.3", "1.2", "1"
// as Postfix does for non-cidr tables; a cidr table matches the address against its blocks.
std::vector<std::string> clientKeys(std::string_view ip, const lookup::LookupTable& table) {
  std::vector<std::string> keys{std::string(ip)};
  if (table.describe().starts_with("cidr:") || ip.find(':') != std::string_view::npos) {
    return keys;
  }
  std::string prefix(ip);
  for (size_t dot = prefix.rfind('.'); dot != std::string::npos; dot = prefix.rfind('.')) {
    prefix.resize(dot);
    keys.push_back(prefix);
  }
  return keys;
}

// "Name: value" with an RFC 5322 field name and no control character but TAB: a table value
// (perhaps from SQL) never injects a line break into the header.
bool isHeaderField(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  for (size_t i = 0; i < colon; ++i) {
    if (text[i] <= 32 || text[i] >= 127) return false;
  }
  return std::none_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 32 && u != '\t') || u == 127;
  });
}

}  // namespace

// An access(5) action; `subject` names what matched, for the reply text.
Decision accessAction(std::string_view rule, const std::string& value, const std::string& subject) {
  std::string_view v = trim(value);
  size_t space = v.find_first_of(" \t");
  std::string word = toLower(v.substr(0, space));
  std::string rest(space == std::string_view::npos ? "" : trim(v.substr(space + 1)));
  if (word == "ok" || word == "permit" ||
      (!word.empty() && std::all_of(word.begin(), word.end(), ::isdigit) && word.size() != 3)) {
    return decide(Decision::Kind::Permit, rule);
  }
  if (word == "dunno") return dunno();
  // Actions for later that let the evaluation go on (Postfix returns DUNNO after them).
  if (word == "prepend") {
    if (!isHeaderField(rest)) {
      return decide(Decision::Kind::Defer, rule, 451, "4.3.5",
                    fmt::format("{}: Server configuration error", subject));
    }
    Decision d = dunno();
    d.actions.push_back({PolicyAction::Kind::AddHeader, rest});
    return d;
  }
  if (word == "hold" || word == "discard") {
    Decision d = dunno();
    bool hold = word == "hold";
    // Logged as Postfix does: "<a@b>: Sender address triggers HOLD action" (not "rejected").
    std::string_view who = subject;
    if (who.ends_with(" rejected")) who.remove_suffix(9);
    d.actions.push_back({hold ? PolicyAction::Kind::Hold : PolicyAction::Kind::Discard,
                         fmt::format("{} {}", who,
                                     rest.empty() ? (hold ? "triggers HOLD action"
                                                          : "triggers DISCARD action")
                                                  : rest)});
    return d;
  }
  if (word == "reject") {
    return decide(Decision::Kind::Reject, rule, 554, "5.7.1",
                  fmt::format("{}: {}", subject, rest.empty() ? "Access denied" : rest));
  }
  if (word == "defer") {
    return decide(Decision::Kind::Defer, rule, 450, "4.7.1",
                  fmt::format("{}: {}", subject, rest.empty() ? "Access denied" : rest));
  }
  if (word.size() == 3 && (word[0] == '4' || word[0] == '5') && std::isdigit(word[1]) &&
      std::isdigit(word[2])) {
    int code = std::stoi(word);
    std::string enhanced = word[0] == '4' ? "4.7.1" : "5.7.1";
    // An enhanced code in the text is kept when its class matches the reply's.
    if (rest.size() >= 5 && rest[0] == word[0] && rest[1] == '.') {
      size_t end = rest.find(' ');
      enhanced = rest.substr(0, end);
      rest = end == std::string::npos ? "" : std::string(trim(std::string_view(rest).substr(end)));
    }
    return decide(code < 500 ? Decision::Kind::Defer : Decision::Kind::Reject, rule, code,
                  enhanced, fmt::format("{}: {}", subject, rest.empty() ? "Access denied" : rest));
  }
  return decide(Decision::Kind::Defer, rule, 451, "4.3.5",
                fmt::format("{}: Server configuration error", subject));
}

namespace {

Decision accessLookup(std::string_view rule, const lookup::LookupTable& table,
                      const std::vector<std::string>& keys, const std::string& subject) {
  for (const std::string& key : keys) {
    lookup::LookupResult r = table.lookup(key);
    if (r.status == lookup::LookupStatus::NotFound) continue;
    if (r.status != lookup::LookupStatus::Found) {
      return decide(Decision::Kind::Defer, rule, 451, "4.3.0",
                    fmt::format("{}: Temporary lookup failure", subject));
    }
    return accessAction(rule, r.value, subject);
  }
  return dunno();
}

enum class Subject { Client, Sender, Recipient };

class AccessCheck final : public Check {
 public:
  AccessCheck(std::string rule, Subject subject, lookup::TablePtr table)
      : rule_(std::move(rule)), subject_(subject), table_(std::move(table)) {}

  void run(const PolicyContext& ctx, Done done) const override {
    std::vector<std::string> keys;
    std::string subject;
    switch (subject_) {
      case Subject::Client:
        keys = clientKeys(ctx.client_ip, *table_);
        subject = fmt::format("Client host [{}]", ctx.client_ip);
        break;
      case Subject::Sender:
        if (ctx.sender.empty()) {  // the null sender is not looked up
          done(dunno());
          return;
        }
        keys = addressKeys(ctx.sender);
        subject = fmt::format("<{}>: Sender address rejected", ctx.sender);
        break;
      case Subject::Recipient:
        keys = addressKeys(ctx.recipient);
        subject = fmt::format("<{}>: Recipient address rejected", ctx.recipient);
        break;
    }
    if (!table_->blocking() || !ctx.offload) {
      done(accessLookup(rule_, *table_, keys, subject));
      return;
    }
    auto answer = std::make_shared<Decision>();
    ctx.offload(
        [this, answer, keys = std::move(keys), subject = std::move(subject)] {
          *answer = accessLookup(rule_, *table_, keys, subject);
        },
        [answer, done = std::move(done)] { done(std::move(*answer)); });
  }
  bool blocking() const override { return table_->blocking(); }

 private:
  std::string rule_;
  Subject subject_;
  lookup::TablePtr table_;
};

Result<CheckPtr> makeAccess(const CheckArgs& args, Subject subject) {
  lookup::TablePtr table;
  std::string ref(args.argument);
  if (args.env.tables && !ref.empty()) table = args.env.tables(ref);
  if (!table) return Error::config(fmt::format("{}: no table '{}'", args.name, ref));
  return CheckPtr(std::make_unique<AccessCheck>(fmt::format("{} {}", args.name, ref), subject,
                                                std::move(table)));
}

}  // namespace

Result<CheckPtr> makeCheckClientAccess(const CheckArgs& args) {
  return makeAccess(args, Subject::Client);
}
Result<CheckPtr> makeCheckSenderAccess(const CheckArgs& args) {
  return makeAccess(args, Subject::Sender);
}
Result<CheckPtr> makeCheckRecipientAccess(const CheckArgs& args) {
  return makeAccess(args, Subject::Recipient);
}

}  // namespace petrel::policy::checks
