// compile(): the parsed script checked against the command table (spec.h): require'd
// capabilities known and required before use, require only at the start, if/elsif/else in
// order with their blocks, the tests and test lists each command and test takes, variable
// names of "set". And formatAction(), the stable text of an action.
#include <fmt/format.h>

#include "petrel/sieve/interpreter.h"
#include "spec.h"

namespace petrel::sieve {

namespace {

struct Failed {
  SyntaxError error;
};

[[noreturn]] void fail(Position at, std::string what) { throw Failed{{at, std::move(what)}}; }

void raise(std::variant<Parsed, SyntaxError>&& r) {
  if (auto* e = std::get_if<SyntaxError>(&r)) {
    throw Failed{std::move(*e)};
  }
}

bool validVariableName(std::string_view n) {
  if (n.empty()) {
    return false;
  }
  for (char c : n) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' ||
              (c >= '0' && c <= '9');
    if (!ok) {
      return false;
    }
  }
  return !(n[0] >= '0' && n[0] <= '9');
}

void checkTest(const Test& t, const std::set<std::string>& required) {
  raise(classify(t.name, true, t.at, t.arguments, required));
  int want = testsTaken(t.name, true);
  if (want == 0 && !t.tests.empty()) {
    fail(t.at, fmt::format("test '{}' takes no tests", t.name));
  }
  if (want == 1 && t.tests.size() != 1) {
    fail(t.at, fmt::format("test '{}' takes one test", t.name));
  }
  if (want == -1 && t.tests.empty()) {
    fail(t.at, fmt::format("test '{}' needs a test list", t.name));
  }
  for (const auto& sub : t.tests) {
    checkTest(sub, required);
  }
}

void checkBlock(const std::vector<Command>& block, std::set<std::string>& required, bool top) {
  bool requires_allowed = top;
  std::string_view previous;
  for (const auto& c : block) {
    if (c.name == "require") {
      if (!requires_allowed) {
        fail(c.at, "require must come before every other command");
      }
      raise(classify(c.name, false, c.at, c.arguments, required));
      for (const auto& cap : stringsOf(c.arguments.front().value)) {
        if (!knownCapability(cap)) {
          fail(c.arguments.front().at, fmt::format("unknown capability \"{}\"", cap));
        }
        required.insert(cap);
      }
      if (!c.tests.empty() || c.has_block) {
        fail(c.at, "require takes only a string list");
      }
      previous = c.name;
      continue;
    }
    requires_allowed = false;
    raise(classify(c.name, false, c.at, c.arguments, required));
    bool conditional = c.name == "if" || c.name == "elsif" || c.name == "else";
    if ((c.name == "elsif" || c.name == "else") && previous != "if" && previous != "elsif") {
      fail(c.at, fmt::format("'{}' without an 'if' before it", c.name));
    }
    int want = testsTaken(c.name, false);
    if (want == 1 && c.tests.size() != 1) {
      fail(c.at, fmt::format("'{}' needs one test", c.name));
    }
    if (want == 0 && !c.tests.empty()) {
      fail(c.tests.front().at, fmt::format("command '{}' takes no test", c.name));
    }
    if (conditional != c.has_block) {
      fail(c.at, conditional ? fmt::format("'{}' needs a block", c.name)
                             : fmt::format("command '{}' takes no block", c.name));
    }
    if (c.name == "set") {
      const auto& name = stringsOf(c.arguments[c.arguments.size() - 2].value).front();
      if (!validVariableName(name)) {
        fail(c.at, fmt::format("bad variable name \"{}\"", name));
      }
    }
    for (const auto& t : c.tests) {
      checkTest(t, required);
    }
    if (c.has_block) {
      checkBlock(c.block, required, false);
    }
    previous = c.name;
  }
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string flagText(const std::vector<std::string>& flags) {
  std::string joined;
  for (const auto& f : flags) {
    joined += (joined.empty() ? "" : " ") + f;
  }
  return quote(joined);
}

}  // namespace

std::variant<ProgramPtr, SyntaxError> compile(std::string_view text, const Options& options) {
  auto parsed = parseScript(text, options.parse_limits);
  if (auto* e = std::get_if<SyntaxError>(&parsed)) {
    return *e;
  }
  Script& script = std::get<Script>(parsed);
  std::set<std::string> required;
  try {
    checkBlock(script.commands, required, true);
  } catch (const Failed& f) {
    return f.error;
  }
  return std::make_shared<const Program>(std::move(script));
}

std::string formatAction(const Action& a) {
  std::string out;
  switch (a.kind) {
    case Action::Kind::Keep:
      out = "keep";
      if (!a.flags.empty()) {
        out += " :flags " + flagText(a.flags);
      }
      return out;
    case Action::Kind::FileInto:
      out = "fileinto";
      if (a.copy) out += " :copy";
      if (a.create) out += " :create";
      if (!a.flags.empty()) out += " :flags " + flagText(a.flags);
      return out + " " + quote(a.target);
    case Action::Kind::Redirect:
      return std::string("redirect") + (a.copy ? " :copy " : " ") + quote(a.target);
    case Action::Kind::Discard: return "discard";
    case Action::Kind::Reject: return "reject " + quote(a.target);
    case Action::Kind::Ereject: return "ereject " + quote(a.target);
    case Action::Kind::Vacation: {
      const Vacation& v = a.vacation;
      if (v.seconds % 86400 == 0) {
        out = fmt::format("vacation :days {}", v.seconds / 86400);
      } else {
        out = fmt::format("vacation :seconds {}", v.seconds);
      }
      if (v.subject) out += " :subject " + quote(*v.subject);
      if (v.from) out += " :from " + quote(*v.from);
      if (!v.addresses.empty()) {
        out += " :addresses [";
        for (size_t i = 0; i < v.addresses.size(); ++i) {
          out += (i == 0 ? "" : ", ") + quote(v.addresses[i]);
        }
        out += "]";
      }
      if (v.mime) out += " :mime";
      if (v.handle) out += " :handle " + quote(*v.handle);
      return out + " " + quote(v.reason);
    }
  }
  return out;
}

}  // namespace petrel::sieve
