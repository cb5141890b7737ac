// Postfix access(5) maps: check_client_access, check_reverse_client_hostname_access,
// check_helo_access, check_sender_access, check_recipient_access, check_sender_mx_access and
// check_sender_ns_access. What is looked up:
//   - a client: its name (client_name; the unverified reverse_client_name for the reverse
//     check) and parent domains, unless "unknown", then its address and the address's shorter
//     IPv4 prefixes;
//   - the HELO name and its parent domains;
//   - an address: itself, without its extension, its domain, parent domains, "localpart@";
//   - the sender domain's MX (resp. NS) hosts: each host name and parent domains, then its
//     addresses (A and AAAA). No MX: the domain itself; no NS: the parent's; a null MX or a
//     domain that does not exist: no lookup (dunno); a DNS temporary failure: 450 4.4.3.
// Parent domains are keys as parent_domain_matches_subdomains says (KeyStyle); a table of
// patterns (regexp, cidr) is asked the whole string only.
// The value found is an access(5) action (access_action.h); one naming a restriction class
// runs that class in place (nested at most RestrictionClasses::MaxDepth deep). A table that
// fails answers 451 4.3.0. A table that may block is asked on the pool (PolicyContext::offload);
// actions and classes run on the check's loop.
#include <fmt/format.h>

#include <algorithm>

#include "access_action.h"
#include "checks.h"
#include "petrel/core/cidr.h"
#include "petrel/core/mail_address.h"
#include "petrel/core/strings.h"
#include "petrel/dns/resolver.h"
#include "petrel/policy/restrictions.h"

namespace petrel::policy::checks {

namespace {

// MX or NS hosts of one domain that are looked up (Postfix caps its MX lists too).
constexpr size_t MaxServerHosts = 10;

// How a table is asked (Postfix smtpd_check.c and mail_addr_find.c): a table of exact keys
// ("fixed": inline, file, SQL, LDAP) gets the partial keys too (domain, parent domains,
// localpart@, address prefixes); a table of patterns (regexp, cidr) only the whole string,
// as access(5)'s REGULAR EXPRESSION TABLES section says. `parent_matches` is
// parent_domain_matches_subdomains naming smtpd_access_maps: parents are looked up as
// "example.com" (Postfix's default), and, unlike Postfix, as ".example.com" too, since a key
// with a leading dot can only mean the subdomains; off, only as ".example.com".
struct KeyStyle {
  bool fixed = true;
  bool parent_matches = true;
  std::string_view delimiters;  // recipient_delimiter: "user+foo" is also looked up as "user"
};

KeyStyle styleOf(const lookup::LookupTable& table, bool parent_matches,
                 std::string_view delimiters) {
  std::string what = table.describe();
  bool pattern = what.starts_with("regexp:") || what.starts_with("pcre:") ||
                 what.starts_with("cidr:");
  return KeyStyle{!pattern, parent_matches, delimiters};
}

// The parent domains of `name` (lower-case, no trailing dot), nearest first, in `style`.
void addParentKeys(std::string_view name, const KeyStyle& style,
                   std::vector<std::string>& keys) {
  for (size_t dot = name.find('.'); dot != std::string_view::npos;
       dot = name.find('.', dot + 1)) {
    if (dot + 1 >= name.size()) break;
    if (style.parent_matches) keys.emplace_back(name.substr(dot + 1));
    keys.emplace_back(name.substr(dot));
  }
}

// The keys an address is looked up with, in Postfix's order: the full address, the address
// without its extension, the domain, its parent domains, "localpart@" (with, then without the
// extension).
std::vector<std::string> addressKeys(std::string_view address, const KeyStyle& style) {
  MailAddress a(toLower(address));
  std::vector<std::string> keys{a.text()};
  if (!style.fixed || !a.hasDomain()) return keys;
  std::string bare_local(a.localWithoutExtension(style.delimiters));
  bool has_extension = bare_local.size() != a.local().size();
  std::string domain(a.domain());
  if (has_extension) keys.push_back(bare_local + "@" + domain);
  keys.push_back(domain);
  if (domain.front() != '[') addParentKeys(domain, style, keys);
  keys.push_back(std::string(a.local()) + "@");
  if (has_extension) keys.push_back(bare_local + "@");
  return keys;
}

// A host name: itself, then its parent domains (as for addresses). A name that is an address
// (a HELO of "192.0.2.1" or "[192.0.2.1]") has no parents.
void addNameKeys(std::string_view name, const KeyStyle& style, std::vector<std::string>& keys) {
  std::string n = toLower(name);
  if (!n.empty() && n.back() == '.') n.pop_back();
  if (n.empty()) return;
  keys.push_back(n);
  if (!style.fixed || n.front() == '[' || IpAddress::parse(n)) return;
  addParentKeys(n, style, keys);
}

// A client address: itself, then (IPv4 only) the shorter dotted prefixes "1.2.3", "1.2", "1"
// as Postfix does for tables of exact keys; a cidr table matches the address against its
// blocks.
void addAddressKeys(std::string_view ip, const KeyStyle& style, std::vector<std::string>& keys) {
  keys.emplace_back(ip);
  if (!style.fixed || ip.find(':') != std::string_view::npos) return;
  std::string prefix(ip);
  for (size_t dot = prefix.rfind('.'); dot != std::string::npos; dot = prefix.rfind('.')) {
    prefix.resize(dot);
    keys.push_back(prefix);
  }
}

// A name from the DNS as it may go into a reply: control characters made '?'.
std::string printableName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 32 || u == 127) c = '?';
  }
  return out;
}

// The first key the table has; NotFound when none; the failure when the table fails.
lookup::LookupResult firstFound(const lookup::LookupTable& table,
                                const std::vector<std::string>& keys) {
  for (const std::string& key : keys) {
    lookup::LookupResult r = table.lookup(key);
    if (r.status != lookup::LookupStatus::NotFound) return r;
  }
  return lookup::LookupResult::notFound();
}

// What every access map shares: its table, the restriction classes its values may name, and
// turning a lookup into a decision.
class AccessMap : public Check {
 public:
  AccessMap(std::string rule, lookup::TablePtr table, const CheckEnvironment& env,
            bool permit_allowed)
      : rule_(std::move(rule)),
        table_(std::move(table)),
        classes_(env.classes),
        permit_allowed_(permit_allowed),
        delimiters_(env.recipient_delimiter),
        style_(styleOf(*table_, env.parent_domain_matches_subdomains, delimiters_)) {}

  bool blocking() const override { return table_->blocking(); }

 protected:
  // Looks `keys` up (on the pool when the table may block) and answers with the action of
  // the first one found; `not_found` when none is.
  void answer(const PolicyContext& ctx, std::vector<std::string> keys, AccessSubject subject,
              Done done, Decision not_found = dunno()) const {
    if (!table_->blocking() || !ctx.offload) {
      act(ctx, firstFound(*table_, keys), subject, std::move(not_found), std::move(done));
      return;
    }
    auto found = std::make_shared<lookup::LookupResult>(lookup::LookupResult::notFound());
    ctx.offload([this, found, keys = std::move(keys)] { *found = firstFound(*table_, keys); },
                [this, &ctx, found, subject = std::move(subject), not_found = std::move(not_found),
                 done = std::move(done)]() mutable {
                  act(ctx, std::move(*found), subject, std::move(not_found), std::move(done));
                });
  }

  const lookup::LookupTable& table() const { return *table_; }
  const KeyStyle& style() const { return style_; }
  const std::string& rule() const { return rule_; }

 private:
  void act(const PolicyContext& ctx, lookup::LookupResult r, const AccessSubject& subject,
           Decision not_found, Done done) const {
    if (r.status == lookup::LookupStatus::NotFound) return done(std::move(not_found));
    if (r.status != lookup::LookupStatus::Found) {
      return done(decide(Decision::Kind::Defer, rule_, 451, "4.3.0",
                         fmt::format("{}: Temporary lookup failure", subject.rejected)));
    }
    AccessAction a = parseAccessAction(rule_, table_->describe(), r.value, subject);
    if (!a.restriction_class.empty()) return runClass(ctx, a.restriction_class, subject, done);
    if (a.decision.kind == Decision::Kind::Permit && !permit_allowed_) {
      // Postfix: OK is not allowed in MX/NS maps (a spammer chooses his MX hosts); DUNNO is
      // how an entry exempts a host.
      a.decision = accessConfigError(rule_, table_->describe(), r.value, subject,
                                     "OK is not allowed here, use DUNNO");
      a.decision.kind = Decision::Kind::Dunno;
      a.decision.code = 0;
      a.decision.enhanced.clear();
      a.decision.text.clear();
    }
    done(std::move(a.decision));
  }

  // A value naming a restriction class: the class runs in place of the value.
  void runClass(const PolicyContext& ctx, const std::string& name, const AccessSubject& subject,
                const Done& done) const {
    std::shared_ptr<const RestrictionClasses> classes = classes_.lock();
    const RestrictionList* list = classes ? classes->find(name) : nullptr;
    if (list == nullptr) {
      return done(
          accessConfigError(rule_, table_->describe(), name, subject, "unknown restriction class"));
    }
    if (ctx.class_depth >= RestrictionClasses::MaxDepth) {
      return done(accessConfigError(rule_, table_->describe(), name, subject,
                                    "restriction classes nested too deep (a loop?)"));
    }
    auto nested = std::make_shared<PolicyContext>(ctx);
    ++nested->class_depth;
    list->evaluateNested(*nested, [nested, classes, name, done](Decision d) {
      if (d.rule.empty()) d.rule = name;
      done(std::move(d));
    });
  }

  std::string rule_;
  lookup::TablePtr table_;
  std::weak_ptr<const RestrictionClasses> classes_;
  bool permit_allowed_;
  std::string delimiters_;  // style_ views it
  KeyStyle style_;
};

enum class Subject { Client, ReverseClient, Helo, Sender, Recipient };

class AccessCheck final : public AccessMap {
 public:
  AccessCheck(std::string rule, Subject subject, lookup::TablePtr table,
              const CheckEnvironment& env)
      : AccessMap(std::move(rule), std::move(table), env, true), subject_(subject) {}

  void run(const PolicyContext& ctx, Done done) const override {
    std::vector<std::string> keys;
    AccessSubject subject;
    switch (subject_) {
      case Subject::Client:
      case Subject::ReverseClient: {
        const std::string& name =
            subject_ == Subject::Client ? ctx.client.client_name : ctx.client.reverse_client_name;
        if (!name.empty() && name != "unknown") addNameKeys(name, style(), keys);
        addAddressKeys(ctx.client_ip, style(), keys);
        // Postfix: "<name[ip]>: Client host rejected: ...", the reverse check
        // "<reverse name>: Unverified Client host rejected: ..." ("unknown" without one).
        if (subject_ == Subject::Client) {
          subject.triggers = fmt::format("<{}>: Client host", clientNamaddr(ctx));
        } else {
          subject.triggers = fmt::format("<{}>: Unverified Client host",
                                         name.empty() ? "unknown" : printableName(name));
        }
        subject.rejected = subject.triggers + " rejected";
        break;
      }
      case Subject::Helo:
        if (ctx.helo.empty()) return done(dunno());
        addNameKeys(ctx.helo, style(), keys);
        subject.triggers = fmt::format("<{}>: Helo command", ctx.helo);
        subject.rejected = subject.triggers + " rejected";
        break;
      case Subject::Sender:
        if (ctx.sender.empty()) return done(dunno());  // the null sender is not looked up
        keys = addressKeys(ctx.sender, style());
        subject.triggers = fmt::format("<{}>: Sender address", ctx.sender);
        subject.rejected = subject.triggers + " rejected";
        break;
      case Subject::Recipient:
        keys = addressKeys(ctx.recipient, style());
        subject.triggers = fmt::format("<{}>: Recipient address", ctx.recipient);
        subject.rejected = subject.triggers + " rejected";
        break;
    }
    answer(ctx, std::move(keys), std::move(subject), std::move(done));
  }

 private:
  Subject subject_;
};

// check_sender_mx_access / check_sender_ns_access: the sender domain's servers.
class ServerAccessCheck final : public AccessMap {
 public:
  ServerAccessCheck(std::string rule, dns::Type type, lookup::TablePtr table,
                    const CheckEnvironment& env)
      : AccessMap(std::move(rule), std::move(table), env, false), type_(type) {}

  void run(const PolicyContext& ctx, Done done) const override {
    MailAddress sender(ctx.sender);
    std::string domain = toLower(sender.domain());
    if (ctx.sender.empty() || !sender.hasDomain() || domain.empty() || domain.front() == '[' ||
        ctx.resolver == nullptr) {
      return done(dunno());
    }
    auto lookup = std::make_shared<Lookup>();
    lookup->check = this;
    lookup->ctx = &ctx;
    lookup->done = std::move(done);
    lookup->subject.triggers = fmt::format("<{}>: Sender address", ctx.sender);
    lookup->subject.rejected = lookup->subject.triggers + " rejected";
    askServers(lookup, std::move(domain));
  }

 private:
  // One evaluation in flight; the resolver's callbacks hold it, it holds their handles (they
  // are let go when it answers, which breaks the cycle).
  struct Lookup {
    const ServerAccessCheck* check = nullptr;
    const PolicyContext* ctx = nullptr;
    Done done;
    AccessSubject subject;
    std::vector<dns::QueryHandlePtr> handles;
    std::vector<std::string> hosts;
    std::vector<std::vector<std::string>> addresses;  // per host
    size_t pending = 0;
    bool address_failed = false;

    void answer(Decision d) {
      auto handles_done = std::move(handles);  // destroyed after `done`, on this loop
      Done finish = std::move(done);
      finish(std::move(d));
    }
  };
  using LookupPtr = std::shared_ptr<Lookup>;

  const char* typeText() const { return type_ == dns::Type::MX ? "MX" : "NS"; }

  Decision tempFail(const Lookup& l, std::string_view domain) const {
    return decide(Decision::Kind::Defer, rule(), 450, "4.4.3",
                  fmt::format("{}: unable to look up {} host for {}", l.subject.rejected,
                              typeText(), domain));
  }

  void askServers(const LookupPtr& l, std::string domain) const {
    l->handles.push_back(l->ctx->resolver->query(
        domain, type_, [this, l, domain](dns::Answer a) { serversAnswered(l, domain, a); }));
  }

  void serversAnswered(const LookupPtr& l, const std::string& domain, const dns::Answer& a) const {
    using Status = dns::Answer::Status;
    switch (a.status) {
      case Status::TempFail: return l->answer(tempFail(*l, domain));
      case Status::NxDomain: return l->answer(dunno());
      case Status::NoData:
        if (type_ == dns::Type::MX) {
          l->hosts.push_back(domain);  // no MX: the domain is its own mail host
          break;
        }
        // No NS here: the zone's are the parent's (a name inside a zone).
        if (size_t dot = domain.find('.'); dot != std::string::npos && dot + 1 < domain.size()) {
          return askServers(l, domain.substr(dot + 1));
        }
        return l->answer(dunno());
      case Status::Found:
        if (type_ == dns::Type::MX) {
          // A null MX (RFC 7505) says the domain takes no mail: nothing to check.
          if (std::any_of(a.mx.begin(), a.mx.end(), [](auto& m) { return m.exchange == "."; })) {
            return l->answer(dunno());
          }
          for (const dns::MxRecord& m : a.mx) l->hosts.push_back(m.exchange);
        } else {
          l->hosts = a.ns;
        }
        break;
    }
    if (l->hosts.size() > MaxServerHosts) l->hosts.resize(MaxServerHosts);
    l->addresses.resize(l->hosts.size());
    // An address where a host name belongs (broken DNS) is checked as the address it is.
    std::vector<bool> literal(l->hosts.size());
    for (size_t i = 0; i < l->hosts.size(); ++i) {
      literal[i] = IpAddress::parse(l->hosts[i]).has_value();
      if (literal[i]) {
        l->addresses[i].push_back(l->hosts[i]);
      } else {
        l->pending += 2;
      }
    }
    if (l->pending == 0) return addressesAnswered(l);  // on a resolver callback already
    for (size_t i = 0; i < l->hosts.size(); ++i) {
      if (literal[i]) continue;
      for (dns::Type t : {dns::Type::A, dns::Type::AAAA}) {
        l->handles.push_back(l->ctx->resolver->query(l->hosts[i], t, [this, l, i](dns::Answer a) {
          if (a.found()) {
            for (std::string& ip : a.addresses) l->addresses[i].push_back(std::move(ip));
          } else if (a.status == dns::Answer::Status::TempFail) {
            l->address_failed = true;
          }
          if (--l->pending == 0) addressesAnswered(l);
        }));
      }
    }
  }

  // Each host's name (and parents), then its addresses, in the order the DNS gave them.
  void addressesAnswered(const LookupPtr& l) const {
    std::vector<std::string> keys;
    for (size_t i = 0; i < l->hosts.size(); ++i) {
      if (!IpAddress::parse(l->hosts[i])) addNameKeys(l->hosts[i], style(), keys);
      for (const std::string& ip : l->addresses[i]) addAddressKeys(ip, style(), keys);
    }
    // An address that did not resolve might have been listed: not found is not "dunno" then.
    Decision not_found =
        l->address_failed ? tempFail(*l, MailAddress(l->ctx->sender).domain()) : dunno();
    answer(
        *l->ctx, std::move(keys), l->subject, [l](Decision d) { l->answer(std::move(d)); },
        std::move(not_found));
  }

 private:
  dns::Type type_;
};

Result<lookup::TablePtr> tableOf(const CheckArgs& args) {
  lookup::TablePtr table;
  std::string ref(args.argument);
  if (args.env.tables && !ref.empty()) table = args.env.tables(ref);
  if (!table) return Error::config(fmt::format("{}: no table '{}'", args.name, ref));
  return table;
}

Result<CheckPtr> makeAccess(const CheckArgs& args, Subject subject) {
  auto table = tableOf(args);
  if (!table) return table.error();
  return CheckPtr(std::make_unique<AccessCheck>(fmt::format("{} {}", args.name, args.argument),
                                                subject, std::move(*table), args.env));
}

Result<CheckPtr> makeServerAccess(const CheckArgs& args, dns::Type type) {
  auto table = tableOf(args);
  if (!table) return table.error();
  return CheckPtr(std::make_unique<ServerAccessCheck>(
      fmt::format("{} {}", args.name, args.argument), type, std::move(*table), args.env));
}

}  // namespace

Result<CheckPtr> makeCheckClientAccess(const CheckArgs& args) {
  return makeAccess(args, Subject::Client);
}
Result<CheckPtr> makeCheckReverseClientHostnameAccess(const CheckArgs& args) {
  return makeAccess(args, Subject::ReverseClient);
}
Result<CheckPtr> makeCheckHeloAccess(const CheckArgs& args) {
  return makeAccess(args, Subject::Helo);
}
Result<CheckPtr> makeCheckSenderAccess(const CheckArgs& args) {
  return makeAccess(args, Subject::Sender);
}
Result<CheckPtr> makeCheckRecipientAccess(const CheckArgs& args) {
  return makeAccess(args, Subject::Recipient);
}
Result<CheckPtr> makeCheckSenderMxAccess(const CheckArgs& args) {
  return makeServerAccess(args, dns::Type::MX);
}
Result<CheckPtr> makeCheckSenderNsAccess(const CheckArgs& args) {
  return makeServerAccess(args, dns::Type::NS);
}

}  // namespace petrel::policy::checks
