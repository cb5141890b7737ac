// run(): the evaluation of a compiled script (RFC 5228 2.10: actions collected in order, the
// implicit keep cancelled by fileinto, redirect, discard and reject but not by :copy), with the
// extensions' state: variables and match variables (RFC 5229), the internal flags
// (RFC 5232), include frames (RFC 6609). Every command, test and comparison is charged to the
// step budget; a limit hit, an action conflict or a missing include is a run-time error,
// and then the outcome is the implicit keep alone.
#include <fmt/format.h>

#include <map>
#include <set>

#include "match.h"
#include "petrel/core/strings.h"
#include "petrel/sieve/interpreter.h"
#include "spec.h"

namespace petrel::sieve {

namespace {

struct RunError {
  std::string what;
};

[[noreturn]] void fail(Position at, std::string what) {
  throw RunError{fmt::format("{}:{}: {}", at.line, at.column, std::move(what))};
}

enum class Flow { Next, Stop, Return };

struct Frame {
  std::set<std::string> required;
  std::map<std::string, std::string> locals;  // lower-case names
  std::set<std::string> global_names;
  std::vector<std::string> match_vars;
  bool variables() const { return required.count("variables") != 0; }
};

// Flags as RFC 5232 keeps them: a set without duplicates (case-insensitive), in order.
std::vector<std::string> flagList(const std::vector<std::string>& strings) {
  std::vector<std::string> out;
  for (const auto& s : strings) {
    for (auto part : split(s, ' ')) {
      std::string f(trim(part));
      if (f.empty()) continue;
      bool dup = false;
      for (const auto& have : out) dup = dup || iequals(have, f);
      if (!dup) out.push_back(f);
    }
  }
  return out;
}

std::string joinFlags(const std::vector<std::string>& flags) {
  std::string s;
  for (const auto& f : flags) s += (s.empty() ? "" : " ") + f;
  return s;
}

class Runner {
 public:
  Runner(const MessageView& m, const Envelope& e, const Options& o) : msg_(m), env_(e), opt_(o) {
    budget_.max = o.run_limits.max_steps;
  }

  Outcome run(const Program& p) {
    Outcome out;
    try {
      Frame top;
      runScript(p.script(), top, 0);
    } catch (const RunError& e) {
      out.error = e.what;
      Action keep;
      keep.implicit = true;
      out.actions.push_back(keep);
      return out;
    }
    out.actions = std::move(actions_);
    if (implicit_keep_) {
      Action keep;
      keep.implicit = true;
      keep.flags = flagList({internalFlags()});
      out.actions.push_back(std::move(keep));
    }
    return out;
  }

 private:
  void step(Position at) {
    if (!budget_.charge()) {
      fail(at, fmt::format("CPU budget of {} steps exhausted", budget_.max));
    }
  }

  Flow runScript(const Script& s, Frame& f, size_t depth) {
    for (const auto& c : s.commands) {
      if (c.name == "require") {
        for (const auto& cap : stringsOf(c.arguments.front().value)) f.required.insert(cap);
      }
    }
    Flow flow = runBlock(s.commands, f, depth);
    return flow == Flow::Stop ? Flow::Stop : Flow::Next;
  }

  Flow runBlock(const std::vector<Command>& block, Frame& f, size_t depth) {
    bool chain_done = false;  // an earlier branch of this if/elsif chain was taken
    for (const auto& c : block) {
      step(c.at);
      if (c.name == "if" || c.name == "elsif" || c.name == "else") {
        if (c.name == "if") chain_done = false;
        if (chain_done) continue;
        if (c.name == "else" || evaluate(c.tests.front(), f)) {
          chain_done = true;
          Flow flow = runBlock(c.block, f, depth);
          if (flow != Flow::Next) return flow;
        }
        continue;
      }
      Flow flow = execute(c, f, depth);
      if (flow != Flow::Next) return flow;
    }
    return Flow::Next;
  }

  Parsed parsed(const Command& c, const Frame& f) {
    auto r = classify(c.name, false, c.at, c.arguments, f.required);
    if (auto* e = std::get_if<SyntaxError>(&r)) fail(e->at, e->what);  // compile() checked
    return std::move(std::get<Parsed>(r));
  }
  Parsed parsed(const Test& t, const Frame& f) {
    auto r = classify(t.name, true, t.at, t.arguments, f.required);
    if (auto* e = std::get_if<SyntaxError>(&r)) fail(e->at, e->what);
    return std::move(std::get<Parsed>(r));
  }

  // RFC 5229 3: "${name}" and "${N}" replaced in strings when variables is required.
  std::string expand(const std::string& s, const Frame& f) {
    if (!f.variables() || s.find("${") == std::string::npos) return s;
    std::string out;
    for (size_t i = 0; i < s.size();) {
      if (s.compare(i, 2, "${") == 0) {
        size_t end = s.find('}', i + 2);
        if (end != std::string::npos) {
          std::string name = toLower(std::string_view(s).substr(i + 2, end - i - 2));
          bool digits = !name.empty() && name.find_first_not_of("0123456789") == std::string::npos;
          bool ident = !name.empty() && name.find_first_not_of(
              "abcdefghijklmnopqrstuvwxyz0123456789_.") == std::string::npos && !digits &&
              !(name[0] >= '0' && name[0] <= '9');
          if (digits) {
            size_t n = name.size() > 3 ? 1000 : std::stoul(name);
            if (n < f.match_vars.size()) out += f.match_vars[n];
            i = end + 1;
            continue;
          }
          if (ident) {
            out += variable(name, f);
            i = end + 1;
            continue;
          }
        }
      }
      out += s[i++];
    }
    return out;
  }

  std::vector<std::string> expand(const std::vector<std::string>& l, const Frame& f) {
    std::vector<std::string> out;
    for (const auto& s : l) out.push_back(expand(s, f));
    return out;
  }

  std::string variable(const std::string& name, const Frame& f) {
    if (f.global_names.count(name) || name.rfind("global.", 0) == 0) {
      auto it = globals_.find(name.rfind("global.", 0) == 0 ? name.substr(7) : name);
      return it == globals_.end() ? "" : it->second;
    }
    auto it = f.locals.find(name);
    return it == f.locals.end() ? "" : it->second;
  }

  void setVariable(std::string name, std::string value, Frame& f) {
    name = toLower(name);
    if (value.size() > 64 * 1024) value.resize(64 * 1024);  // bounded like Pigeonhole's 4 KiB+
    if (f.global_names.count(name)) {
      globals_[name] = std::move(value);
    } else if (name.rfind("global.", 0) == 0) {
      globals_[name.substr(7)] = std::move(value);
    } else {
      f.locals[name] = std::move(value);
    }
  }

  std::string internalFlags() { return internal_flags_; }

  std::string& flagVariable(const Parsed& p, Frame& f, std::string& scratch) {
    if (p.positional.size() == 2) {
      scratch = toLower(expand(stringsOf(*p.positional[0]).front(), f));
      return scratch;
    }
    scratch.clear();
    return scratch;
  }

  void addAction(Action a, Position at) {
    // RFC 5228 2.10.3: the same action twice is done once (flags merged).
    for (auto& have : actions_) {
      bool same_store = (have.kind == Action::Kind::Keep || have.kind == Action::Kind::FileInto) &&
                        (a.kind == Action::Kind::Keep || a.kind == Action::Kind::FileInto) &&
                        storeTarget(have) == storeTarget(a);
      bool same = same_store || (have.kind == a.kind && a.kind == Action::Kind::Redirect &&
                                 iequals(have.target, a.target)) ||
                  (have.kind == a.kind && a.kind == Action::Kind::Discard);
      if (same) {
        have.flags = flagList({joinFlags(have.flags), joinFlags(a.flags)});
        have.copy = have.copy && a.copy;
        return;
      }
    }
    if (actions_.size() >= opt_.run_limits.max_actions) {
      fail(at, fmt::format("more than {} actions", opt_.run_limits.max_actions));
    }
    actions_.push_back(std::move(a));
  }

  static std::string storeTarget(const Action& a) {
    return a.kind == Action::Kind::Keep || iequals(a.target, "INBOX") ? "INBOX" : a.target;
  }

  void checkReject(Action::Kind kind, Position at) {
    bool rejecting = kind == Action::Kind::Reject || kind == Action::Kind::Ereject;
    for (const auto& a : actions_) {
      bool other_reject = a.kind == Action::Kind::Reject || a.kind == Action::Kind::Ereject;
      bool stores = a.kind == Action::Kind::Keep || a.kind == Action::Kind::FileInto ||
                    a.kind == Action::Kind::Redirect || a.kind == Action::Kind::Vacation;
      if ((rejecting && (stores || other_reject)) || (!rejecting && other_reject)) {
        fail(at, "reject conflicts with another action (RFC 5429 2.1)");
      }
    }
  }

  Flow execute(const Command& c, Frame& f, size_t depth) {
    if (c.name == "require") return Flow::Next;
    Parsed p = parsed(c, f);
    const std::string& n = c.name;
    if (n == "stop") return Flow::Stop;
    if (n == "return") return Flow::Return;
    if (n == "keep" || n == "fileinto") {
      Action a;
      a.kind = n == "keep" ? Action::Kind::Keep : Action::Kind::FileInto;
      if (a.kind == Action::Kind::FileInto) {
        a.target = expand(stringsOf(*p.positional[0]).front(), f);
      }
      a.copy = p.has("copy");
      a.create = p.has("create");
      a.flags = p.has("flags") ? flagList(expand(*p.strings("flags"), f))
                               : flagList({internal_flags_});
      checkReject(a.kind, c.at);
      if (!a.copy) implicit_keep_ = false;
      addAction(std::move(a), c.at);
    } else if (n == "discard") {
      implicit_keep_ = false;
      Action a;
      a.kind = Action::Kind::Discard;
      addAction(std::move(a), c.at);
    } else if (n == "redirect") {
      Action a;
      a.kind = Action::Kind::Redirect;
      a.target = expand(stringsOf(*p.positional[0]).front(), f);
      ParsedAddress addr = splitAddress(a.target);
      if (!addr.valid || hasControlCharacter(a.target)) {
        fail(c.at, fmt::format("redirect to a bad address \"{}\"", a.target));
      }
      a.copy = p.has("copy");
      checkReject(a.kind, c.at);
      if (++redirects_ > opt_.run_limits.max_redirects) {
        fail(c.at, fmt::format("more than {} redirects", opt_.run_limits.max_redirects));
      }
      if (!a.copy) implicit_keep_ = false;
      addAction(std::move(a), c.at);
    } else if (n == "reject" || n == "ereject") {
      Action a;
      a.kind = n == "reject" ? Action::Kind::Reject : Action::Kind::Ereject;
      a.target = expand(stringsOf(*p.positional[0]).front(), f);
      checkReject(a.kind, c.at);
      implicit_keep_ = false;
      addAction(std::move(a), c.at);
    } else if (n == "vacation") {
      vacation(c, p, f);
    } else if (n == "setflag" || n == "addflag" || n == "removeflag") {
      std::string var;
      flagVariable(p, f, var);
      std::vector<std::string> given = flagList(expand(stringsOf(*p.positional.back()), f));
      std::string current = var.empty() ? internal_flags_ : variable(var, f);
      std::vector<std::string> now = flagList({current});
      if (n == "setflag") {
        now = given;
      } else if (n == "addflag") {
        now = flagList({joinFlags(now), joinFlags(given)});
      } else {
        std::vector<std::string> kept;
        for (const auto& have : now) {
          bool drop = false;
          for (const auto& g : given) drop = drop || iequals(g, have);
          if (!drop) kept.push_back(have);
        }
        now = kept;
      }
      if (var.empty()) {
        internal_flags_ = joinFlags(now);
      } else {
        setVariable(var, joinFlags(now), f);
      }
    } else if (n == "set") {
      std::string name = stringsOf(*p.positional[0]).front();
      std::string value = expand(stringsOf(*p.positional[1]).front(), f);
      // RFC 5229 4.1: modifiers apply by precedence: case, first-letter case, quoting, length.
      if (p.has("lower")) value = toLower(value);
      if (p.has("upper")) {
        for (auto& ch : value) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      }
      if (!value.empty() && p.has("lowerfirst")) value[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(value[0])));
      if (!value.empty() && p.has("upperfirst")) value[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(value[0])));
      if (p.has("quotewildcard")) {
        std::string q;
        for (char ch : value) {
          if (ch == '*' || ch == '?' || ch == '\\') q += '\\';
          q += ch;
        }
        value = q;
      }
      if (p.has("length")) value = fmt::format("{}", value.size());
      setVariable(name, std::move(value), f);
    } else if (n == "global") {
      for (const auto& g : expand(stringsOf(*p.positional[0]), f)) f.global_names.insert(toLower(g));
    } else if (n == "include") {
      return include(c, p, f, depth);
    }
    return Flow::Next;
  }

  void vacation(const Command& c, const Parsed& p, Frame& f) {
    if (has_vacation_) fail(c.at, "more than one vacation action (RFC 5230 4.7)");
    has_vacation_ = true;
    checkReject(Action::Kind::Vacation, c.at);
    Action a;
    a.kind = Action::Kind::Vacation;
    Vacation& v = a.vacation;
    // RFC 5230 4.1: :days 0 is raised to the minimum, one day; :seconds likewise (RFC 6131).
    if (p.has("days")) v.seconds = std::max<uint64_t>(1, std::get<uint64_t>(*p.tags.at("days"))) * 86400;
    if (p.has("seconds")) v.seconds = std::max<uint64_t>(86400, std::get<uint64_t>(*p.tags.at("seconds")));
    if (v.seconds > 365ull * 86400) v.seconds = 365ull * 86400;
    if (const auto* s = p.strings("subject")) v.subject = expand(s->front(), f);
    if (const auto* s = p.strings("from")) v.from = expand(s->front(), f);
    if (const auto* s = p.strings("addresses")) v.addresses = expand(*s, f);
    v.mime = p.has("mime");
    if (const auto* s = p.strings("handle")) v.handle = expand(s->front(), f);
    v.reason = expand(stringsOf(*p.positional[0]).front(), f);
    addAction(std::move(a), c.at);
  }

  Flow include(const Command& c, const Parsed& p, Frame& f, size_t depth) {
    std::string name = expand(stringsOf(*p.positional[0]).front(), f);
    IncludeLocation where = p.has("global") ? IncludeLocation::Global : IncludeLocation::Personal;
    std::string key = fmt::format("{}:{}", where == IncludeLocation::Global ? "global" : "personal", name);
    if (p.has("once") && included_.count(key)) return Flow::Next;
    included_.insert(key);
    if (depth + 1 > opt_.run_limits.max_include_depth) {
      fail(c.at, fmt::format("includes nested deeper than {}", opt_.run_limits.max_include_depth));
    }
    if (opt_.include_program) {
      auto program = opt_.include_program(where, name);
      if (!program) {
        fail(c.at, fmt::format("include \"{}\": {}", name, program.error().message()));
      }
      if (!*program) {
        if (p.has("optional")) return Flow::Next;
        fail(c.at, fmt::format("include \"{}\": no such script", name));
      }
      Frame inner;
      return runScript((*program)->script(), inner, depth + 1);
    }
    if (!opt_.include) {
      if (p.has("optional")) return Flow::Next;
      fail(c.at, fmt::format("include \"{}\": no scripts to include from", name));
    }
    auto text = opt_.include(where, name);
    if (!text) {
      if (p.has("optional")) return Flow::Next;
      fail(c.at, fmt::format("include \"{}\": {}", name, text.error().message()));
    }
    auto program = compile(*text, opt_);
    if (auto* e = std::get_if<SyntaxError>(&program)) {
      fail(c.at, fmt::format("include \"{}\": {}", name, e->message()));
    }
    Frame inner;
    return runScript(std::get<ProgramPtr>(program)->script(), inner, depth + 1);
  }

  // ---- tests ----

  bool evaluate(const Test& t, Frame& f) {
    step(t.at);
    const std::string& n = t.name;
    if (n == "true") return true;
    if (n == "false") return false;
    if (n == "not") return !evaluate(t.tests.front(), f);
    if (n == "allof") {
      for (const auto& s : t.tests) if (!evaluate(s, f)) return false;
      return true;
    }
    if (n == "anyof") {
      for (const auto& s : t.tests) if (evaluate(s, f)) return true;
      return false;
    }
    Parsed p = parsed(t, f);
    if (n == "size") {
      uint64_t limit = std::get<uint64_t>(*p.positional[0]);
      return p.has("over") ? msg_.size > limit : msg_.size < limit;
    }
    if (n == "exists") {
      for (const auto& name : expand(stringsOf(*p.positional[0]), f)) {
        if (fieldValues(name).empty()) return false;
      }
      return true;
    }
    std::vector<std::string> values;
    std::vector<std::string> keys = expand(stringsOf(*p.positional.back()), f);
    if (n == "header") {
      for (const auto& name : expand(stringsOf(*p.positional[0]), f)) {
        for (auto& v : fieldValues(name)) values.push_back(std::move(v));
      }
    } else if (n == "address") {
      for (const auto& name : expand(stringsOf(*p.positional[0]), f)) {
        for (const auto& v : fieldValues(name, false)) {
          for (const auto& a : addressList(v)) addPart(a, p.part, values);
        }
      }
    } else if (n == "envelope") {
      for (const auto& part : expand(stringsOf(*p.positional[0]), f)) {
        if (iequals(part, "from")) {
          addPart(splitAddress(env_.from), p.part, values);
        } else if (iequals(part, "to")) {
          addPart(splitAddress(env_.to), p.part, values);
        }
      }
    } else if (n == "body") {
      BodyTransform tr = p.has("raw") ? BodyTransform::Raw
                         : p.has("content") ? BodyTransform::Content : BodyTransform::Text;
      std::vector<std::string> types = p.has("content") ? expand(*p.strings("content"), f)
                                                        : std::vector<std::string>{};
      if (!budget_.charge(1 + msg_.body.size() / 256)) step(t.at);
      values = bodyTexts(msg_.fields, msg_.body, tr, types);
    } else if (n == "string") {
      for (auto& s : expand(stringsOf(*p.positional[0]), f)) {
        // RFC 5231 4.2 (via RFC 5229 5): :count counts the non-empty strings
        if (p.match != "count" || !s.empty()) values.push_back(std::move(s));
      }
    } else if (n == "hasflag") {
      if (p.positional.size() == 2) {
        for (const auto& var : expand(stringsOf(*p.positional[0]), f)) {
          for (auto& fl : flagList({variable(toLower(var), f)})) values.push_back(std::move(fl));
        }
      } else {
        values = flagList({internal_flags_});
      }
    }
    return compare(t, p, values, keys, f);
  }

  void addPart(const ParsedAddress& a, const std::string& part, std::vector<std::string>& out) {
    if (part == "all") {
      out.push_back(a.all);
    } else if (part == "localpart") {
      out.push_back(a.localpart);
    } else if (part == "domain") {
      out.push_back(a.domain);
    } else {
      // RFC 5233 4: the user is the local part before the first delimiter; the detail after
      // it, and an address without a delimiter has no detail (the comparison fails).
      size_t d = opt_.recipient_delimiter.empty() ? std::string::npos
                                                  : a.localpart.find_first_of(opt_.recipient_delimiter);
      if (part == "user") {
        out.push_back(a.localpart.substr(0, d));
      } else if (d != std::string::npos) {
        out.push_back(a.localpart.substr(d + 1));
      }
    }
  }

  std::vector<std::string> fieldValues(const std::string& name, bool decode = true) {
    std::vector<std::string> out;
    for (const auto& field : msg_.fields) {
      if (iequals(field.name, name)) out.push_back(headerValue(field.value(), decode));
    }
    return out;
  }

  bool compare(const Test& t, const Parsed& p, const std::vector<std::string>& values,
               const std::vector<std::string>& keys, Frame& f) {
    if (p.match == "count") {
      for (const auto& k : keys) {
        if (matchCount(p.comparator, p.relation, values.size(), k)) return true;
      }
      return false;
    }
    std::vector<std::string> captures;
    for (const auto& v : values) {
      for (const auto& k : keys) {
        bool hit = matchValue(p.comparator, p.match, p.relation, v, k,
                              p.match == "matches" ? &captures : nullptr, budget_);
        if (budget_.exhausted()) step(t.at);
        if (hit) {
          if (p.match == "matches" && f.variables()) f.match_vars = captures;
          return true;
        }
      }
    }
    return false;
  }

  const MessageView& msg_;
  const Envelope& env_;
  const Options& opt_;
  Budget budget_;
  std::vector<Action> actions_;
  bool implicit_keep_ = true;
  bool has_vacation_ = false;
  size_t redirects_ = 0;
  std::string internal_flags_;
  std::map<std::string, std::string> globals_;
  std::set<std::string> included_;
};

}  // namespace

Outcome run(const Program& program, const MessageView& message, const Envelope& envelope,
            const Options& options) {
  Runner r(message, envelope, options);
  return r.run(program);
}

}  // namespace petrel::sieve
