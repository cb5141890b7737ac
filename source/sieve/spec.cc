// The table of commands and tests (RFC 5228 and extensions) and the argument classification
// described in spec.h. compile() walks the script with it; see validate in interpreter.cc.
#include "spec.h"

#include <fmt/format.h>

#include <algorithm>

namespace petrel::sieve {

namespace {

struct TagSpec {
  std::string_view name;
  ArgKind arg;
  std::string_view extension;  // "" for the base language
  std::string_view group;      // tags of one group exclude each other
};

struct NodeSpec {
  std::string_view name;
  bool is_test;
  std::string_view extension;
  std::vector<std::string_view> tag_sets;  // names of tag sets below
  std::vector<std::vector<ArgKind>> forms;  // accepted positional shapes
  int tests;
};

using K = ArgKind;

const std::vector<TagSpec>& allTags() {
  static const std::vector<TagSpec> tags = {
      {"comparator", K::String, "", "comparator"},
      {"is", K::None, "", "match"},
      {"contains", K::None, "", "match"},
      {"matches", K::None, "", "match"},
      {"count", K::String, "relational", "match"},
      {"value", K::String, "relational", "match"},
      {"all", K::None, "", "part"},
      {"localpart", K::None, "", "part"},
      {"domain", K::None, "", "part"},
      {"user", K::None, "subaddress", "part"},
      {"detail", K::None, "subaddress", "part"},
      {"over", K::None, "", "size"},
      {"under", K::None, "", "size"},
      {"raw", K::None, "body", "body"},
      {"text", K::None, "body", "body"},
      {"content", K::StringList, "body", "body"},
      {"copy", K::None, "copy", "copy"},
      {"create", K::None, "mailbox", "create"},
      {"flags", K::StringList, "imap4flags", "flags"},
      {"days", K::Number, "vacation", "period"},
      {"seconds", K::Number, "vacation-seconds", "period"},
      {"subject", K::String, "vacation", "subject"},
      {"from", K::String, "vacation", "from"},
      {"addresses", K::StringList, "vacation", "addresses"},
      {"mime", K::None, "vacation", "mime"},
      {"handle", K::String, "vacation", "handle"},
      {"lower", K::None, "variables", "case"},
      {"upper", K::None, "variables", "case"},
      {"lowerfirst", K::None, "variables", "casefirst"},
      {"upperfirst", K::None, "variables", "casefirst"},
      {"quotewildcard", K::None, "variables", "quotewildcard"},
      {"length", K::None, "variables", "length"},
      {"global", K::None, "include", "location"},
      {"personal", K::None, "include", "location"},
      {"once", K::None, "include", "once"},
      {"optional", K::None, "include", "optional"},
  };
  return tags;
}

// Named sets of tag names.
std::vector<std::string_view> tagSet(std::string_view set) {
  if (set == "match") return {"comparator", "is", "contains", "matches", "count", "value"};
  if (set == "address") return {"all", "localpart", "domain", "user", "detail"};
  if (set == "size") return {"over", "under"};
  if (set == "body") return {"raw", "text", "content"};
  if (set == "copy") return {"copy"};
  if (set == "fileinto") return {"copy", "create", "flags"};
  if (set == "keep") return {"flags"};
  if (set == "vacation") return {"days", "seconds", "subject", "from", "addresses", "mime", "handle"};
  if (set == "set") return {"lower", "upper", "lowerfirst", "upperfirst", "quotewildcard", "length"};
  if (set == "include") return {"global", "personal", "once", "optional"};
  return {};
}

const std::vector<NodeSpec>& allNodes() {
  static const std::vector<NodeSpec> nodes = {
      // commands
      {"require", false, "", {}, {{K::StringList}}, 0},
      {"if", false, "", {}, {{}}, 1},
      {"elsif", false, "", {}, {{}}, 1},
      {"else", false, "", {}, {{}}, 0},
      {"stop", false, "", {}, {{}}, 0},
      {"keep", false, "", {"keep"}, {{}}, 0},
      {"discard", false, "", {}, {{}}, 0},
      {"redirect", false, "", {"copy"}, {{K::String}}, 0},
      {"fileinto", false, "fileinto", {"fileinto"}, {{K::String}}, 0},
      {"reject", false, "reject", {}, {{K::String}}, 0},
      {"ereject", false, "ereject", {}, {{K::String}}, 0},
      {"vacation", false, "vacation", {"vacation"}, {{K::String}}, 0},
      {"setflag", false, "imap4flags", {}, {{K::StringList}, {K::String, K::StringList}}, 0},
      {"addflag", false, "imap4flags", {}, {{K::StringList}, {K::String, K::StringList}}, 0},
      {"removeflag", false, "imap4flags", {}, {{K::StringList}, {K::String, K::StringList}}, 0},
      {"set", false, "variables", {"set"}, {{K::String, K::String}}, 0},
      {"include", false, "include", {"include"}, {{K::String}}, 0},
      {"return", false, "include", {}, {{}}, 0},
      {"global", false, "include", {}, {{K::StringList}}, 0},
      // tests
      {"address", true, "", {"match", "address"}, {{K::StringList, K::StringList}}, 0},
      {"envelope", true, "envelope", {"match", "address"}, {{K::StringList, K::StringList}}, 0},
      {"header", true, "", {"match"}, {{K::StringList, K::StringList}}, 0},
      {"exists", true, "", {}, {{K::StringList}}, 0},
      {"size", true, "", {"size"}, {{K::Number}}, 0},
      {"allof", true, "", {}, {{}}, -1},
      {"anyof", true, "", {}, {{}}, -1},
      {"not", true, "", {}, {{}}, 1},
      {"true", true, "", {}, {{}}, 0},
      {"false", true, "", {}, {{}}, 0},
      {"body", true, "body", {"match", "body"}, {{K::StringList}}, 0},
      {"string", true, "variables", {"match"}, {{K::StringList, K::StringList}}, 0},
      {"hasflag", true, "imap4flags", {"match"}, {{K::StringList}, {K::StringList, K::StringList}}, 0},
  };
  return nodes;
}

const NodeSpec* findNode(std::string_view name, bool is_test) {
  for (const auto& n : allNodes()) {
    if (n.name == name && n.is_test == is_test) {
      return &n;
    }
  }
  return nullptr;
}

const TagSpec* findTag(std::string_view name) {
  for (const auto& t : allTags()) {
    if (t.name == name) {
      return &t;
    }
  }
  return nullptr;
}

bool fits(const Argument& a, ArgKind k) {
  switch (k) {
    case K::None: return false;
    case K::Number: return std::holds_alternative<uint64_t>(a);
    case K::StringList: return std::holds_alternative<StringList>(a);
    case K::String:
      return std::holds_alternative<StringList>(a) && !std::get<StringList>(a).bracketed;
  }
  return false;
}

std::string_view kindName(ArgKind k) {
  switch (k) {
    case K::None: return "nothing";
    case K::Number: return "a number";
    case K::StringList: return "a string list";
    case K::String: return "a string";
  }
  return "?";
}

const std::set<std::string_view>& comparators() {
  static const std::set<std::string_view> c = {"i;octet", "i;ascii-casemap", "i;ascii-numeric"};
  return c;
}

}  // namespace

const std::vector<std::string>& stringsOf(const Argument& a) {
  static const std::vector<std::string> none;
  if (const auto* l = std::get_if<StringList>(&a)) {
    return l->values;
  }
  return none;
}

const std::vector<std::string>* Parsed::strings(const std::string& tag) const {
  auto it = tags.find(tag);
  if (it == tags.end() || it->second == nullptr) {
    return nullptr;
  }
  return &stringsOf(*it->second);
}

bool knownCapability(std::string_view name) {
  static const std::set<std::string_view> caps = {
      "fileinto", "reject", "ereject", "envelope", "vacation", "vacation-seconds",
      "imap4flags", "subaddress", "variables", "body", "relational", "copy", "include",
      "mailbox", "comparator-i;octet", "comparator-i;ascii-casemap",
      "comparator-i;ascii-numeric"};
  return caps.count(name) != 0;
}

int testsTaken(std::string_view name, bool is_test) {
  const NodeSpec* n = findNode(name, is_test);
  return n == nullptr ? 0 : n->tests;
}

std::variant<Parsed, SyntaxError> classify(std::string_view name, bool is_test, Position at,
                                           const std::vector<ArgumentAt>& arguments,
                                           const std::set<std::string>& required) {
  const NodeSpec* node = findNode(name, is_test);
  if (node == nullptr) {
    return SyntaxError{at, fmt::format("unknown {} '{}'", is_test ? "test" : "command", name)};
  }
  if (!node->extension.empty() && required.count(std::string(node->extension)) == 0) {
    return SyntaxError{at, fmt::format("{} '{}' needs require \"{}\"",
                                       is_test ? "test" : "command", name, node->extension)};
  }
  std::vector<std::string_view> allowed;
  for (auto set : node->tag_sets) {
    auto names = tagSet(set);
    allowed.insert(allowed.end(), names.begin(), names.end());
  }
  Parsed p;
  std::set<std::string_view> groups;
  size_t i = 0;
  for (; i < arguments.size(); ++i) {
    const auto* tag = std::get_if<Tag>(&arguments[i].value);
    if (tag == nullptr) {
      break;
    }
    Position tat = arguments[i].at;
    const TagSpec* spec = findTag(tag->name);
    if (spec == nullptr || std::find(allowed.begin(), allowed.end(), tag->name) == allowed.end()) {
      return SyntaxError{tat, fmt::format("unknown tag ':{}' for '{}'", tag->name, name)};
    }
    if (!spec->extension.empty() && required.count(std::string(spec->extension)) == 0) {
      return SyntaxError{tat, fmt::format("tag ':{}' needs require \"{}\"", tag->name,
                                          spec->extension)};
    }
    if (!groups.insert(spec->group).second) {
      return SyntaxError{tat, fmt::format("tag ':{}' conflicts with an earlier tag", tag->name)};
    }
    const Argument* value = nullptr;
    if (spec->arg != K::None) {
      if (i + 1 >= arguments.size() || !fits(arguments[i + 1].value, spec->arg)) {
        return SyntaxError{tat, fmt::format("tag ':{}' needs {}", tag->name, kindName(spec->arg))};
      }
      value = &arguments[++i].value;
    }
    p.tags[tag->name] = value;
    if (spec->group == "match") {
      p.match = tag->name;
      if (value != nullptr) {
        std::string rel = stringsOf(*value).front();
        for (auto& c : rel) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        static const std::set<std::string> rels = {"gt", "ge", "lt", "le", "eq", "ne"};
        if (rels.count(rel) == 0) {
          return SyntaxError{arguments[i].at,
                             fmt::format("unknown relational operator \"{}\"", rel)};
        }
        p.relation = rel;
      }
    } else if (spec->group == "part") {
      p.part = tag->name;
    } else if (spec->group == "comparator") {
      p.comparator = stringsOf(*value).front();
      if (comparators().count(p.comparator) == 0) {
        return SyntaxError{arguments[i].at, fmt::format("unknown comparator \"{}\"", p.comparator)};
      }
      if (p.comparator == "i;ascii-numeric" &&
          required.count("comparator-i;ascii-numeric") == 0) {
        return SyntaxError{arguments[i].at,
                           "comparator \"i;ascii-numeric\" needs require "
                           "\"comparator-i;ascii-numeric\""};
      }
    }
  }
  if (p.comparator == "i;ascii-numeric" && (p.match == "contains" || p.match == "matches")) {
    return SyntaxError{at, fmt::format(":{} cannot be used with \"i;ascii-numeric\"", p.match)};
  }
  for (; i < arguments.size(); ++i) {
    if (std::holds_alternative<Tag>(arguments[i].value)) {
      return SyntaxError{arguments[i].at, "tagged arguments must come before the others"};
    }
    p.positional.push_back(&arguments[i].value);
  }
  for (const auto& form : node->forms) {
    if (form.size() != p.positional.size()) {
      continue;
    }
    bool ok = true;
    for (size_t k = 0; k < form.size(); ++k) {
      ok = ok && fits(*p.positional[k], form[k]);
    }
    if (ok) {
      if (name == "size" && !p.has("over") && !p.has("under")) {
        return SyntaxError{at, "size needs :over or :under"};
      }
      return p;
    }
  }
  std::string wanted;
  const auto& form = node->forms.front();
  for (size_t k = 0; k < form.size(); ++k) {
    wanted += (k == 0 ? "" : ", ") + std::string(kindName(form[k]));
  }
  return SyntaxError{at, fmt::format("'{}' takes {}", name, wanted.empty() ? "no arguments" : wanted)};
}

}  // namespace petrel::sieve
