// check_host(); see check_host.h for the states and limits. The RFC 7208 section that
// decides each result is named where it is decided.
#include "petrel/spf/check_host.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <optional>

#include "petrel/dns/names.h"
#include "petrel/spf/macro.h"

namespace petrel::spf {

namespace {

using dns::Answer;
using dns::Type;

// Asked to get an answer later when nothing needs DNS (resolver.h: a name that cannot exist
// is answered NxDomain without asking any server), so that `done` never runs inside
// checkHost().
constexpr const char* DeferName = "spf-no-query..invalid";

// RFC 7208 4.3: a malformed <domain> (empty label, label over 63 octets) or one that is not
// multi-label gives "none" without any lookup.
bool validDomain(std::string_view d) {
  if (!d.empty() && d.back() == '.') d.remove_suffix(1);
  if (d.empty() || d.size() > 253 || d.find('.') == std::string_view::npos) return false;
  size_t start = 0;
  while (start <= d.size()) {
    size_t dot = d.find('.', start);
    size_t len = (dot == std::string_view::npos ? d.size() : dot) - start;
    if (len == 0 || len > 63) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

bool prefixMatch(const IpAddress& a, const IpAddress& b, int bits) {
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    int mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((a.bytes[i] & mask) != (b.bytes[i] & mask)) return false;
  }
  return true;
}

std::string describe(const Answer& a, Type type) {
  switch (a.status) {
    case Answer::Status::Found: {
      std::vector<std::string> items;
      switch (type) {
        case Type::A:
        case Type::AAAA:
          items = a.addresses;
          break;
        case Type::MX:
          for (const auto& m : a.mx)
            items.push_back(fmt::format("{} {}", m.preference, m.exchange));
          break;
        case Type::TXT:
          for (const auto& t : a.txt) items.push_back(fmt::format("\"{}\"", t));
          break;
        case Type::PTR:
          items = a.ptr;
          break;
      }
      return fmt::format("{}", fmt::join(items, ", "));
    }
    case Answer::Status::TempFail:
      return fmt::format("TempFail ({})", a.error);
    default:
      return std::string(dns::statusName(a.status));
  }
}

bool isVoid(const Answer& a) {
  return a.status == Answer::Status::NxDomain || a.status == Answer::Status::NoData;
}

struct Frame {
  std::string domain;
  Record record;
  size_t next = 0;  // the mechanism being evaluated
};

class Impl final : public Evaluation {
 public:
  Impl(dns::Resolver& resolver, Request request, Done done, Limits limits)
      : resolver_(resolver),
        request_(std::move(request)),
        done_(std::move(done)),
        limits_(limits) {}

  void start();

 private:
  using Then = std::function<void(const Answer&)>;

  void ask(const std::string& name, Type type, bool counts_void, Then then);
  void deferFinish(Outcome result, std::string problem);
  void finish(Outcome result, std::string problem = {});

  void fetchRecord(const std::string& domain, const std::string& via,
                   std::function<void(std::optional<Record>, std::string why)> then);
  void evaluate();
  void matched();
  void noMatch();
  void frameDone(Outcome result, std::string term);
  void explain(Frame top);
  void explainWith(const std::string& text);

  bool countTerm();
  // Expands a domain-spec of the current frame ("" = the current domain); false after
  // finish() (permerror) or when %{p} must be found first (then `retry` runs later).
  // `on_error`: the result when the expansion fails (permerror; fail for exp=, whose
  // troubles are ignored).
  std::optional<std::string> target(const std::string& spec, const std::function<void()>& retry,
                                    Outcome on_error = Outcome::PermError);
  void findValidatedNames(std::function<void(std::vector<std::string>)> then);
  // Sets the %{p} value (RFC 7208 7.3), then runs `then`.
  void findValidatedName(std::function<void()> then);
  void lookupAddresses(std::shared_ptr<std::vector<std::string>> names, size_t index,
                       bool skip_errors, std::shared_ptr<std::vector<std::string>> found,
                       std::function<void()> then);
  bool matchesAny(const std::vector<std::string>& addresses, int cidr4, int cidr6) const;

  void evalA(const Mechanism& m, const std::string& domain);
  void evalMx(const Mechanism& m, const std::string& domain);
  void evalPtr(const std::string& domain);
  void evalExists(const std::string& domain);
  void evalInclude(const std::string& domain);
  void next() {
    ++stack_.back().next;
    evaluate();
  }

  Type addressType() const { return ip_.v6 ? Type::AAAA : Type::A; }

  dns::Resolver& resolver_;
  Request request_;
  Done done_;
  Limits limits_;
  IpAddress ip_;
  MacroValues macros_;
  bool have_validated_name_ = false;
  std::vector<Frame> stack_;
  Report report_;
  bool finished_ = false;
  dns::QueryHandlePtr pending_;
};

void Impl::start() {
  auto ip = IpAddress::parse(request_.ip);
  if (!ip) {
    deferFinish(Outcome::PermError, fmt::format("'{}' is not an IP address", request_.ip));
    return;
  }
  ip_ = ip->unmapped();
  std::string domain = dns::normalizeName(request_.domain);
  // RFC 7208 4.3: the local part defaults to "postmaster".
  size_t at = request_.sender.rfind('@');
  macros_.sender = request_.sender;
  macros_.local_part = at == std::string::npos ? "" : request_.sender.substr(0, at);
  if (macros_.local_part.empty()) macros_.local_part = "postmaster";
  macros_.sender_domain =
      at == std::string::npos ? request_.sender : request_.sender.substr(at + 1);
  macros_.domain = domain;
  macros_.ip = ip_;
  macros_.helo = request_.helo;
  macros_.receiver = request_.receiver;
  macros_.timestamp = request_.timestamp != 0 ? request_.timestamp : (long long)std::time(nullptr);
  if (!validDomain(request_.domain)) {
    deferFinish(Outcome::None,
                fmt::format("'{}' is not a valid multi-label domain name", request_.domain));
    return;
  }
  fetchRecord(domain, "check_host", [this](std::optional<Record> record, std::string why) {
    if (!record) {
      finish(Outcome::None, std::move(why));  // RFC 7208 4.5: no record
      return;
    }
    stack_.push_back({macros_.domain, std::move(*record), 0});
    evaluate();
  });
}

void Impl::ask(const std::string& name, Type type, bool counts_void, Then then) {
  pending_ = resolver_.query(
      name, type, [this, name, type, counts_void, then = std::move(then)](Answer a) mutable {
        Then next = std::move(then);
        bool void_answer = isVoid(a);
        report_.lookups.push_back({name, type, describe(a, type), void_answer});
        if (counts_void && void_answer && ++report_.void_lookups > limits_.void_lookups) {
          // RFC 7208 4.6.4: more than 2 void lookups is a permerror.
          finish(Outcome::PermError, fmt::format("more than {} void lookups (at {} {})",
                                                 limits_.void_lookups, name, dns::typeName(type)));
          return;
        }
        next(a);
      });
}

void Impl::deferFinish(Outcome result, std::string problem) {
  pending_ = resolver_.query(DeferName, Type::TXT,
                             [this, result, problem = std::move(problem)](Answer) mutable {
                               finish(result, std::move(problem));
                             });
}

void Impl::finish(Outcome result, std::string problem) {
  if (finished_) return;
  finished_ = true;
  report_.result = result;
  report_.problem = std::move(problem);
  Done done = std::move(done_);
  done(std::move(report_));  // may destroy this
}

void Impl::fetchRecord(const std::string& domain, const std::string& via,
                       std::function<void(std::optional<Record>, std::string)> then) {
  ask(domain, Type::TXT, true, [this, domain, via, then = std::move(then)](const Answer& a) {
    if (a.status == Answer::Status::TempFail) {
      // RFC 7208 4.4: a DNS error other than NXDOMAIN is temperror.
      report_.records.push_back({via, domain, "(temporary DNS failure)"});
      finish(Outcome::TempError, fmt::format("TXT lookup of {} failed: {}", domain, a.error));
      return;
    }
    std::vector<const std::string*> spf;
    for (const auto& t : a.txt) {
      if (isSpfRecord(t)) spf.push_back(&t);
    }
    if (spf.empty()) {
      report_.records.push_back({via, domain, "(no SPF record)"});
      then(std::nullopt, fmt::format("no SPF record at {}", domain));
      return;
    }
    if (spf.size() > 1) {
      // RFC 7208 4.5: more than one record is permerror.
      report_.records.push_back({via, domain, fmt::format("({} SPF records)", spf.size())});
      finish(Outcome::PermError, fmt::format("{} has {} SPF records", domain, spf.size()));
      return;
    }
    report_.records.push_back({via, domain, *spf[0]});
    auto record = parseRecord(*spf[0]);
    if (!record) {
      finish(Outcome::PermError,
             fmt::format("syntax error in the record of {}: {}", domain, record.error().message()));
      return;
    }
    then(std::move(*record), {});
  });
}

bool Impl::countTerm() {
  // RFC 7208 4.6.4: at most 10 terms that cause DNS queries.
  if (++report_.dns_terms > limits_.dns_terms) {
    finish(Outcome::PermError, fmt::format("more than {} DNS-querying terms", limits_.dns_terms));
    return false;
  }
  return true;
}

std::optional<std::string> Impl::target(const std::string& spec, const std::function<void()>& retry,
                                        Outcome on_error) {
  macros_.domain = stack_.back().domain;
  if (spec.empty()) return macros_.domain;
  if (!have_validated_name_ && usesMacro(spec, 'p')) {
    findValidatedName(retry);
    return std::nullopt;
  }
  auto expanded = expandMacros(spec, macros_, false);
  if (!expanded) {
    finish(on_error, on_error != Outcome::PermError ? std::string()
                                                    : fmt::format("bad domain-spec '{}': {}", spec,
                                                                  expanded.error().message()));
    return std::nullopt;
  }
  return *expanded;
}

void Impl::evaluate() {
  for (;;) {
    Frame& f = stack_.back();
    if (f.next == f.record.mechanisms.size()) {
      noMatch();
      return;
    }
    const Mechanism& m = f.record.mechanisms[f.next];
    switch (m.kind) {
      case MechanismKind::All:
        matched();
        return;
      case MechanismKind::Ip4:
      case MechanismKind::Ip6:
        // RFC 7208 5.6: an ip4 mechanism never matches an IPv6 client, nor ip6 an IPv4 one.
        if (m.network.v6 == ip_.v6 && prefixMatch(m.network, ip_, ip_.v6 ? m.cidr6 : m.cidr4)) {
          matched();
          return;
        }
        ++f.next;
        continue;
      default:
        break;
    }
    auto domain = target(m.domain_spec, [this] { evaluate(); });
    if (!domain) return;  // finished, or waiting for %{p}
    if (!countTerm()) return;
    switch (m.kind) {
      case MechanismKind::A:
        evalA(m, *domain);
        return;
      case MechanismKind::Mx:
        evalMx(m, *domain);
        return;
      case MechanismKind::Ptr:
        evalPtr(*domain);
        return;
      case MechanismKind::Exists:
        evalExists(*domain);
        return;
      case MechanismKind::Include:
        evalInclude(*domain);
        return;
      default:
        return;
    }
  }
}

bool Impl::matchesAny(const std::vector<std::string>& addresses, int cidr4, int cidr6) const {
  for (const auto& text : addresses) {
    auto a = IpAddress::parse(text);
    if (a && a->v6 == ip_.v6 && prefixMatch(*a, ip_, ip_.v6 ? cidr6 : cidr4)) return true;
  }
  return false;
}

void Impl::evalA(const Mechanism& m, const std::string& domain) {
  int cidr4 = m.cidr4;
  int cidr6 = m.cidr6;
  ask(domain, addressType(), true, [this, cidr4, cidr6, domain](const Answer& a) {
    if (a.status == Answer::Status::TempFail) {
      finish(Outcome::TempError, fmt::format("a: lookup of {} failed: {}", domain, a.error));
      return;
    }
    if (matchesAny(a.addresses, cidr4, cidr6)) {
      matched();
    } else {
      next();
    }
  });
}

void Impl::lookupAddresses(std::shared_ptr<std::vector<std::string>> names, size_t index,
                           bool skip_errors, std::shared_ptr<std::vector<std::string>> found,
                           std::function<void()> then) {
  if (index == names->size()) {
    then();
    return;
  }
  const std::string name = (*names)[index];
  // The address lookups that validate PTR names (skip_errors) do not count as void lookups:
  // RFC 7208 5.5 makes their failures harmless, and the names come from the client's reverse
  // zone, not from the domain's record. pyspf counts them; see docs/spf.md.
  ask(name, addressType(), !skip_errors,
      [this, names, index, skip_errors, found, then = std::move(then), name](const Answer& a) {
        if (a.status == Answer::Status::TempFail && !skip_errors) {
          finish(Outcome::TempError, fmt::format("lookup of {} failed: {}", name, a.error));
          return;
        }
        // found[index] records the addresses of names[index] as one comma-joined entry.
        (*found)[index] = fmt::format("{}", fmt::join(a.addresses, ","));
        lookupAddresses(names, index + 1, skip_errors, found, then);
      });
}

std::vector<std::string> splitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t c = s.find(',', start);
    out.push_back(s.substr(start, c == std::string::npos ? std::string::npos : c - start));
    if (c == std::string::npos) break;
    start = c + 1;
  }
  return out;
}

void Impl::evalMx(const Mechanism& m, const std::string& domain) {
  int cidr4 = m.cidr4;
  int cidr6 = m.cidr6;
  ask(domain, Type::MX, true, [this, cidr4, cidr6, domain](const Answer& a) {
    if (a.status == Answer::Status::TempFail) {
      finish(Outcome::TempError, fmt::format("mx: lookup of {} failed: {}", domain, a.error));
      return;
    }
    auto names = std::make_shared<std::vector<std::string>>();
    for (const auto& mx : a.mx) {
      if (mx.exchange != ".") names->push_back(mx.exchange);  // a null MX names no host
    }
    // RFC 7208 4.6.4: more than 10 MX names is a permerror.
    if (int(names->size()) > limits_.mx_names) {
      finish(Outcome::PermError,
             fmt::format("mx: {} has more than {} MX records", domain, limits_.mx_names));
      return;
    }
    auto found = std::make_shared<std::vector<std::string>>(names->size());
    lookupAddresses(names, 0, false, found, [this, found, cidr4, cidr6] {
      for (const auto& joined : *found) {
        if (matchesAny(splitComma(joined), cidr4, cidr6)) {
          matched();
          return;
        }
      }
      next();
    });
  });
}

void Impl::findValidatedNames(std::function<void(std::vector<std::string>)> then) {
  // RFC 7208 5.5: PTR names of the client, the first 10, each confirmed by an address lookup
  // that finds the client; a failing lookup only drops its name.
  auto reverse = dns::reverseName(ipText(ip_));
  ask(*reverse, Type::PTR, true, [this, then = std::move(then)](const Answer& a) {
    auto names = std::make_shared<std::vector<std::string>>(a.ptr);
    if (int(names->size()) > limits_.ptr_names) names->resize(size_t(limits_.ptr_names));
    auto found = std::make_shared<std::vector<std::string>>(names->size());
    lookupAddresses(names, 0, true, found, [this, names, found, then] {
      std::vector<std::string> validated;
      for (size_t i = 0; i < names->size(); ++i) {
        if (matchesAny(splitComma((*found)[i]), 32, 128)) validated.push_back((*names)[i]);
      }
      then(std::move(validated));
    });
  });
}

void Impl::findValidatedName(std::function<void()> then) {
  findValidatedNames([this, then = std::move(then)](std::vector<std::string> names) {
    // RFC 7208 7.3: %{p} prefers the domain itself, then a subdomain of it, then any.
    const std::string& d = stack_.back().domain;
    auto exact = std::find(names.begin(), names.end(), d);
    auto sub = std::find_if(names.begin(), names.end(),
                            [&d](const std::string& n) { return n.ends_with("." + d); });
    if (exact != names.end()) {
      macros_.validated_name = *exact;
    } else if (sub != names.end()) {
      macros_.validated_name = *sub;
    } else if (!names.empty()) {
      macros_.validated_name = names.front();
    } else {
      macros_.validated_name = "unknown";
    }
    have_validated_name_ = true;
    then();
  });
}

void Impl::evalPtr(const std::string& domain) {
  std::string target = dns::normalizeName(domain);
  findValidatedNames([this, target](std::vector<std::string> names) {
    for (const auto& n : names) {
      if (n == target || n.ends_with("." + target)) {
        matched();
        return;
      }
    }
    next();
  });
}

void Impl::evalExists(const std::string& domain) {
  // RFC 7208 5.7: always an A lookup, whatever the client's address family.
  ask(domain, Type::A, true, [this, domain](const Answer& a) {
    if (a.status == Answer::Status::TempFail) {
      finish(Outcome::TempError, fmt::format("exists: lookup of {} failed: {}", domain, a.error));
      return;
    }
    if (a.found()) {
      matched();
    } else {
      next();
    }
  });
}

void Impl::evalInclude(const std::string& domain) {
  std::string d = dns::normalizeName(domain);
  fetchRecord(d, "include", [this, d](std::optional<Record> record, std::string why) {
    if (!record) {
      // RFC 7208 5.2: an included domain without a record is a permerror.
      finish(Outcome::PermError, fmt::format("include: {}", why));
      return;
    }
    stack_.push_back({d, std::move(*record), 0});
    evaluate();
  });
}

void Impl::matched() {
  const Frame& f = stack_.back();
  const Mechanism& m = f.record.mechanisms[f.next];
  frameDone(m.qualifier, m.text);
}

void Impl::noMatch() {
  Frame& f = stack_.back();
  if (!f.record.redirect) {
    frameDone(Outcome::Neutral, {});  // RFC 7208 4.7: the default result is neutral
    return;
  }
  auto domain = target(*f.record.redirect, [this] { noMatch(); });
  if (!domain) return;
  if (!countTerm()) return;
  std::string d = dns::normalizeName(*domain);
  fetchRecord(d, "redirect", [this, d](std::optional<Record> record, std::string why) {
    if (!record) {
      // RFC 7208 6.1: a redirect to a domain without a record is a permerror.
      finish(Outcome::PermError, fmt::format("redirect: {}", why));
      return;
    }
    // The redirect's target replaces this record, exp= included (RFC 7208 6.2).
    stack_.back() = Frame{d, std::move(*record), 0};
    evaluate();
  });
}

void Impl::frameDone(Outcome result, std::string term) {
  Frame done = std::move(stack_.back());
  stack_.pop_back();
  if (stack_.empty()) {
    report_.mechanism = term.empty() ? "(no match: default neutral)" : term;
    if (result == Outcome::Fail && done.record.exp) {
      explain(std::move(done));
    } else {
      finish(result);
    }
    return;
  }
  // RFC 7208 5.2: include matches when the included record passes; fail, softfail and
  // neutral do not match; errors ended the evaluation already.
  if (result == Outcome::Pass) {
    matched();
  } else {
    next();
  }
}

void Impl::explain(Frame top) {
  // RFC 7208 6.2: any trouble with the explanation leaves it out, the result stays fail.
  stack_.push_back(std::move(top));
  const std::string spec = *stack_.back().record.exp;
  auto domain = target(
      spec,
      [this] {
        Frame again = std::move(stack_.back());
        stack_.pop_back();
        explain(std::move(again));
      },
      Outcome::Fail);
  if (!domain) return;  // finished, or waiting for %{p}
  ask(*domain, Type::TXT, false, [this](const Answer& a) {
    if (!a.found() || a.txt.size() != 1) {
      finish(Outcome::Fail);
      return;
    }
    explainWith(a.txt.front());
  });
}

void Impl::explainWith(const std::string& text) {
  bool ascii = std::all_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  if (!ascii) {
    finish(Outcome::Fail);
    return;
  }
  if (!have_validated_name_ && usesMacro(text, 'p')) {
    findValidatedName([this, text] { explainWith(text); });
    return;
  }
  auto expanded = expandMacros(text, macros_, true);
  if (expanded) report_.explanation = std::move(*expanded);
  finish(Outcome::Fail);
}

}  // namespace

Request mailFromRequest(std::string ip, std::string mail_from, std::string helo) {
  if (mail_from.empty() || mail_from == "<>") return heloRequest(std::move(ip), std::move(helo));
  Request r;
  size_t at = mail_from.rfind('@');
  r.domain = at == std::string::npos ? mail_from : mail_from.substr(at + 1);
  r.ip = std::move(ip);
  r.sender = std::move(mail_from);
  r.helo = std::move(helo);
  return r;
}

Request heloRequest(std::string ip, std::string helo) {
  Request r;
  r.ip = std::move(ip);
  r.domain = helo;
  r.sender = "postmaster@" + helo;
  r.helo = std::move(helo);
  return r;
}

EvaluationPtr checkHost(dns::Resolver& resolver, Request request, Done done, Limits limits) {
  auto impl = std::make_unique<Impl>(resolver, std::move(request), std::move(done), limits);
  impl->start();
  return impl;
}

}  // namespace petrel::spf
