// DNS block and allow lists (RFC 5782), as Postfix: reject_rbl_client (the client address,
// IPv4 octets or IPv6 nibbles reversed), reject_rhsbl_client / _reverse_client / _helo /
// _sender / _recipient (a domain), permit_dnswl_client and permit_rhswl_client. The argument
// is the list's domain with an optional filter of the A answers, "bl.example=127.0.0.[2..11]".
//
// A listed name is one with an A record in 127/8 that the filter accepts. Answers outside
// 127/8 and the 127.255.255.x codes lists use for "query refused" or "over quota" never list
// (they would otherwise block everyone), and neither does an IPv4 list that lists 127.0.0.1
// (RFC 5782 5 says a working list must not); each is logged as a warning. A DNS failure is
// never a refusal: the check lets the next one decide and logs it. When listed, the list's TXT
// record (bounded, control characters removed) becomes part of the reply, as Postfix's
// default_rbl_reply: "554 5.7.1 Service unavailable; Client host [1.2.3.4] blocked using
// bl.example; reason".
#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>

#include "checks.h"
#include "petrel/core/mail_address.h"
#include "petrel/core/strings.h"
#include "petrel/dns/resolver.h"

namespace petrel::policy::checks {

namespace {

constexpr size_t MaxReason = 500;  // Postfix's cap on the TXT text in a reply

// One octet's filter: "2", "[2..11]", "[2;4;7..9]".
struct OctetFilter {
  std::vector<std::pair<int, int>> ranges;
  bool matches(int v) const {
    return std::any_of(ranges.begin(), ranges.end(),
                       [v](const auto& r) { return v >= r.first && v <= r.second; });
  }
};

std::optional<int> octet(std::string_view s) {
  if (s.empty() || s.size() > 3 || !std::all_of(s.begin(), s.end(), ::isdigit)) return {};
  int v = std::stoi(std::string(s));
  return v <= 255 ? std::optional<int>(v) : std::nullopt;
}

std::optional<OctetFilter> parseOctet(std::string_view s) {
  OctetFilter f;
  if (auto v = octet(s)) {
    f.ranges.emplace_back(*v, *v);
    return f;
  }
  if (s.size() < 3 || s.front() != '[' || s.back() != ']') return {};
  for (std::string_view part : split(s.substr(1, s.size() - 2), ';')) {
    size_t dots = part.find("..");
    auto lo = octet(part.substr(0, dots));
    auto hi = dots == std::string_view::npos ? lo : octet(part.substr(dots + 2));
    if (!lo || !hi || *lo > *hi) return {};
    f.ranges.emplace_back(*lo, *hi);
  }
  return f.ranges.empty() ? std::nullopt : std::optional<OctetFilter>(f);
}

// "=127.0.0.[2..11]": four octet filters (Postfix's rbl_match_addr syntax; the octets of a
// range are written between dots, so "[2..11]" holds its dots inside the brackets).
std::optional<std::array<OctetFilter, 4>> parseFilter(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '[') ++depth;
    if (s[i] == ']') --depth;
    if (s[i] == '.' && depth == 0) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(s.substr(start));
  if (parts.size() != 4) return {};
  std::array<OctetFilter, 4> out;
  for (size_t i = 0; i < 4; ++i) {
    auto f = parseOctet(parts[i]);
    if (!f) return {};
    out[i] = *f;
  }
  return out;
}

std::optional<std::array<int, 4>> ipv4(std::string_view text) {
  in_addr a{};
  if (inet_pton(AF_INET, std::string(text).c_str(), &a) != 1) return {};
  auto* b = reinterpret_cast<const unsigned char*>(&a);
  return std::array<int, 4>{b[0], b[1], b[2], b[3]};
}

// The name a client address is looked up as: "4.3.2.1" or 32 reversed nibbles.
std::optional<std::string> reversedAddress(std::string_view ip) {
  if (auto v4 = ipv4(ip)) {
    return fmt::format("{}.{}.{}.{}", (*v4)[3], (*v4)[2], (*v4)[1], (*v4)[0]);
  }
  in6_addr a{};
  if (inet_pton(AF_INET6, std::string(ip).c_str(), &a) != 1) return {};
  std::string out;
  for (int i = 15; i >= 0; --i) {
    out += fmt::format("{:x}.{:x}.", a.s6_addr[i] & 0xf, a.s6_addr[i] >> 4);
  }
  out.pop_back();
  return out;
}

// A domain as a DNS list key: lower case, no trailing dot; nullopt for what no list holds
// (an address literal, a name without a dot, "unknown").
std::optional<std::string> listableDomain(std::string_view name) {
  std::string d = toLower(trim(name));
  while (!d.empty() && d.back() == '.') d.pop_back();
  if (d.empty() || d == "unknown" || d.front() == '[' || d.find('.') == std::string::npos ||
      ipv4(d) || d.find(':') != std::string::npos) {
    return std::nullopt;
  }
  return d;
}

std::string reasonText(const std::vector<std::string>& txt) {
  std::string out;
  for (const std::string& t : txt) {
    if (!out.empty()) out += " / ";
    out += t;
  }
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 32 || u == 127) c = ' ';
  }
  if (out.size() > MaxReason) out.resize(MaxReason);
  return std::string(trim(out));
}

enum class Target { ClientAddress, ClientName, ReverseClientName, Helo, Sender, Recipient };

class DnsListCheck final : public Check,
                           public std::enable_shared_from_this<DnsListCheck> {
 public:
  DnsListCheck(std::string rule, Target target, bool permit, std::string list,
               std::optional<std::array<OctetFilter, 4>> filter)
      : rule_(std::move(rule)), target_(target), permit_(permit), list_(std::move(list)),
        filter_(std::move(filter)) {}

  void run(const PolicyContext& ctx, Done done) const override {
    std::optional<std::string> key = keyFor(ctx);
    if (!key || ctx.resolver == nullptr) {
      done(dunno());
      return;
    }
    auto lookup = std::make_shared<Lookup>();
    lookup->check = this;
    lookup->ctx = &ctx;
    lookup->done = std::move(done);
    lookup->name = *key + "." + list_;
    lookup->what = whatFor(ctx);
    lookup->self = lookup;
    Lookup* l = lookup.get();
    l->query = ctx.resolver->query(l->name, dns::Type::A, [l](dns::Answer a) { l->addresses(a); });
  }

 private:
  struct Lookup {
    const DnsListCheck* check;
    const PolicyContext* ctx;
    Done done;
    std::string name;  // "2.0.0.127.bl.example"
    std::string what;  // "127.0.0.2", "example.org"
    std::string listed_as;
    dns::QueryHandlePtr query;
    Decision pending;  // warnings gathered so far
    // Keeps the lookup alive while a query is out (the resolver answers every query, within
    // its timeouts); released by finish().
    std::shared_ptr<Lookup> self;

    void warn(std::string text) {
      pending.actions.push_back({PolicyAction::Kind::LogWarning, std::move(text)});
    }
    void finish(Decision d) {
      d.actions.insert(d.actions.begin(), pending.actions.begin(), pending.actions.end());
      std::shared_ptr<Lookup> keep = std::move(self);  // destroyed when finish() returns
      auto answer = std::move(done);
      answer(std::move(d));
    }

    void addresses(const dns::Answer& a) {
      if (a.status == dns::Answer::Status::TempFail) {
        warn(fmt::format("{}: DNS lookup of {} failed: {}; not using it", check->rule_, name,
                         a.error.empty() ? "temporary failure" : a.error));
        return finish(dunno());
      }
      if (!a.found()) return finish(dunno());
      for (const std::string& addr : a.addresses) {
        auto v4 = ipv4(addr);
        if (!v4 || (*v4)[0] != 127) {
          warn(fmt::format("{}: {} answered {}, outside 127.0.0.0/8: ignored", check->rule_,
                           name, addr));
        } else if ((*v4)[1] == 255 && (*v4)[2] == 255) {
          warn(fmt::format("{}: {} answered {}, an error code of the list (query refused or "
                           "over quota?): ignored",
                           check->rule_, name, addr));
        } else if (check->matches(*v4)) {
          listed_as = addr;
          break;
        }
      }
      if (listed_as.empty()) return finish(dunno());
      if (check->target_ == Target::ClientAddress && what == "127.0.0.1") {
        warn(fmt::format("{}: the list says 127.0.0.1 is listed, which RFC 5782 forbids: the "
                         "list is broken and not used",
                         check->rule_));
        return finish(dunno());
      }
      if (check->permit_) return permitUnlessRelaying();
      query = ctx->resolver->query(name, dns::Type::TXT,
                                   [this](dns::Answer txt) { rejectWith(txt); });  // this: kept by self
    }

    // A permit from an allow list never lets a recipient through that
    // reject_unauth_destination would refuse (as Postfix ignores it there).
    void permitUnlessRelaying() {
      bool recipient_stage = !ctx->recipient.empty();
      std::string rule = check->rule_;
      const PolicyContext* c = ctx;
      decideWithCallbacks(
          *ctx,
          [c, recipient_stage, rule] {
            if (recipient_stage && !c->is_our_destination(MailAddress(c->recipient).lowerDomain()) &&
                MailAddress(c->recipient).hasDomain()) {
              return dunno();
            }
            return decide(Decision::Kind::Permit, rule);
          },
          [this](Decision d) { finish(std::move(d)); });
    }

    void rejectWith(const dns::Answer& txt) {
      std::string reason = txt.found() ? reasonText(txt.txt) : "";
      std::string text = fmt::format("Service unavailable; {} [{}] blocked using {}{}",
                                     check->className(), what, check->list_,
                                     reason.empty() ? "" : "; " + reason);
      Decision d = decide(Decision::Kind::Reject, check->rule_, 554, "5.7.1", std::move(text));
      finish(std::move(d));
    }
  };

  bool matches(const std::array<int, 4>& a) const {
    if (!filter_) return true;
    for (size_t i = 0; i < 4; ++i) {
      if (!(*filter_)[i].matches(a[i])) return false;
    }
    return true;
  }

  std::optional<std::string> keyFor(const PolicyContext& ctx) const {
    switch (target_) {
      case Target::ClientAddress: return reversedAddress(ctx.client_ip);
      case Target::ClientName: return listableDomain(ctx.client.client_name);
      case Target::ReverseClientName: return listableDomain(ctx.client.reverse_client_name);
      case Target::Helo: return listableDomain(ctx.helo);
      case Target::Sender:
        return ctx.sender.empty() ? std::nullopt
                                  : listableDomain(MailAddress(ctx.sender).domain());
      case Target::Recipient:
        return ctx.recipient.empty() ? std::nullopt
                                     : listableDomain(MailAddress(ctx.recipient).domain());
    }
    return std::nullopt;
  }

  std::string whatFor(const PolicyContext& ctx) const {
    if (target_ == Target::ClientAddress) return ctx.client_ip;
    return keyFor(ctx).value_or("");
  }

  // Postfix's $rbl_class.
  std::string_view className() const {
    switch (target_) {
      case Target::ClientAddress:
      case Target::ClientName: return "Client host";
      case Target::ReverseClientName: return "Unverified Client host";
      case Target::Helo: return "Helo command";
      case Target::Sender: return "Sender address";
      case Target::Recipient: return "Recipient address";
    }
    return "";
  }

  std::string rule_;  // "reject_rbl_client bl.example"
  Target target_;
  bool permit_;
  std::string list_;
  std::optional<std::array<OctetFilter, 4>> filter_;
};

Result<CheckPtr> makeList(const CheckArgs& args, Target target, bool permit) {
  std::string_view arg = args.argument;
  size_t eq = arg.find('=');
  std::string list = toLower(arg.substr(0, eq));
  while (!list.empty() && list.back() == '.') list.pop_back();
  if (!listableDomain(list)) {
    return Error::config(fmt::format("{}: '{}' is not a DNS list domain", args.name, list));
  }
  std::optional<std::array<OctetFilter, 4>> filter;
  if (eq != std::string_view::npos) {
    filter = parseFilter(arg.substr(eq + 1));
    if (!filter) {
      return Error::config(fmt::format(
          "{}: bad reply filter '{}' (write e.g. {}=127.0.0.2 or {}=127.0.0.[2..11])", args.name,
          arg.substr(eq + 1), list, list));
    }
  }
  return CheckPtr(std::make_unique<DnsListCheck>(std::string(trim(args.text)), target,
                                                 permit, list, std::move(filter)));
}

}  // namespace

Result<CheckPtr> makeRejectRblClient(const CheckArgs& a) {
  return makeList(a, Target::ClientAddress, false);
}
Result<CheckPtr> makeRejectRhsblClient(const CheckArgs& a) {
  return makeList(a, Target::ClientName, false);
}
Result<CheckPtr> makeRejectRhsblReverseClient(const CheckArgs& a) {
  return makeList(a, Target::ReverseClientName, false);
}
Result<CheckPtr> makeRejectRhsblHelo(const CheckArgs& a) { return makeList(a, Target::Helo, false); }
Result<CheckPtr> makeRejectRhsblSender(const CheckArgs& a) {
  return makeList(a, Target::Sender, false);
}
Result<CheckPtr> makeRejectRhsblRecipient(const CheckArgs& a) {
  return makeList(a, Target::Recipient, false);
}
Result<CheckPtr> makePermitDnswlClient(const CheckArgs& a) {
  return makeList(a, Target::ClientAddress, true);
}
Result<CheckPtr> makePermitRhswlClient(const CheckArgs& a) {
  return makeList(a, Target::ClientName, true);
}

}  // namespace petrel::policy::checks
