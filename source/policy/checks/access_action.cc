// Postfix access(5) actions (access_action.h): the grammar of a table value. Reply codes and
// texts as Postfix's smtpd_check.c check_table_result: REJECT 554 5.7.1, DEFER 450 4.7.1,
// DEFER_IF_PERMIT / DEFER_IF_REJECT 450 4.7.1 "Service unavailable", an explicit 4NN/5NN; each
// takes an enhanced code leading its text as the reply's (its class made the reply's); anything wrong with a value is 451 4.3.5
// "Server configuration error" and a warning, never a permanent refusal.
#include "access_action.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "checks.h"
#include "petrel/core/strings.h"

namespace petrel::policy::checks {

namespace {

// Table values may come from SQL or LDAP: what goes into a log line, a reply or a header is
// bounded and has no control characters (no line break injection).
constexpr size_t MaxActionText = 400;

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, MaxActionText)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 32 || u == 127) ? ' ' : c;
  }
  return out;
}

// "Name: value" with an RFC 5322 field name and no control character but TAB: a table value
// never injects a line break into the header.
bool isHeaderField(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == 0 || colon == std::string_view::npos || text.size() > 998) return false;
  for (size_t i = 0; i < colon; ++i) {
    if (text[i] <= 32 || text[i] >= 127) return false;
  }
  return std::none_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 32 && u != '\t') || u == 127;
  });
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(c); });
}

// "4.7.1": class digit, dot, 1-3 digits, dot, 1-3 digits (RFC 3463).
bool isEnhancedCode(std::string_view s, char klass) {
  auto parts = split(s, '.');
  return parts.size() == 3 && parts[0].size() == 1 && parts[0][0] == klass && allDigits(parts[1]) &&
         parts[1].size() <= 3 && allDigits(parts[2]) && parts[2].size() <= 3;
}

// A leading enhanced code in an action's text becomes the reply's, its class made the
// reply's (Postfix dsn_split, then the reply code's class: "550 4.7.9" becomes 5.7.9, postgrey's
// "DEFER_IF_PERMIT 4.7.1 Greylisted" keeps 4.7.1); it is cut from `text`. Otherwise `fallback`.
std::string takeEnhancedCode(std::string& text, char klass, std::string_view fallback) {
  size_t end = text.find(' ');
  std::string_view given = std::string_view(text).substr(0, end);
  if (given.empty() || !(given[0] == '2' || given[0] == '4' || given[0] == '5') ||
      !isEnhancedCode(given, given[0])) {
    return std::string(fallback);
  }
  std::string enhanced = std::string(1, klass) + std::string(given.substr(1));
  text = end == std::string::npos ? "" : std::string(trim(std::string_view(text).substr(end)));
  return enhanced;
}

// "user@domain" with something on both sides and nothing that could break a queue record.
bool isRedirectAddress(std::string_view a) {
  size_t at = a.rfind('@');
  return at != std::string_view::npos && at > 0 && at + 1 < a.size() && a.size() <= 254 &&
         std::none_of(a.begin(), a.end(), [](char c) {
           auto u = static_cast<unsigned char>(c);
           return u <= 32 || u == 127 || c == '<' || c == '>';
         });
}

// "transport:destination" (Postfix FILTER): a transport name, then a non-empty next hop.
bool isFilterTarget(std::string_view t) {
  size_t colon = t.find(':');
  if (colon == 0 || colon == std::string_view::npos || colon + 1 >= t.size() || t.size() > 255) {
    return false;
  }
  for (size_t i = 0; i < colon; ++i) {
    if (!std::isalnum(static_cast<unsigned char>(t[i])) && t[i] != '-' && t[i] != '_') {
      return false;
    }
  }
  return std::none_of(t.begin(), t.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 32 || u == 127;
  });
}

constexpr std::array<std::string_view, 15> ActionWords{
    "ok",    "permit", "reject",  "defer",    "defer_if_permit", "defer_if_reject",
    "dunno", "hold",   "discard", "redirect", "filter",          "prepend",
    "warn",  "info",   "bcc"};

Decision withAction(PolicyAction::Kind kind, std::string text, std::string target = {}) {
  Decision d = dunno();
  d.actions.push_back({kind, std::move(text), std::move(target)});
  return d;
}

}  // namespace

bool isAccessActionWord(std::string_view word) {
  std::string w = toLower(word);
  return std::find(ActionWords.begin(), ActionWords.end(), w) != ActionWords.end();
}

Decision accessConfigError(std::string_view rule, std::string_view table, std::string_view value,
                           const AccessSubject& subject, std::string_view why) {
  Decision d = decide(Decision::Kind::Defer, rule, 451, "4.3.5",
                      fmt::format("{}: Server configuration error", subject.rejected));
  d.actions.push_back({PolicyAction::Kind::ConfigWarning,
                       fmt::format("access table {}: {}: \"{}\"", table, why, printable(value)),
                       {}});
  return d;
}

AccessAction parseAccessAction(std::string_view rule, std::string_view table,
                               std::string_view value, const AccessSubject& subject) {
  std::string_view v = trim(value);
  size_t space = v.find_first_of(" \t");
  std::string word = toLower(v.substr(0, space));
  std::string_view raw_rest = space == std::string_view::npos ? "" : trim(v.substr(space + 1));
  std::string rest = printable(raw_rest);
  auto result = [](Decision d) { return AccessAction{std::move(d), {}}; };
  auto text_or = [&rest](std::string_view fallback) {
    return rest.empty() ? std::string(fallback) : rest;
  };
  auto bad = [&](std::string_view why) {
    return result(accessConfigError(rule, table, value, subject, why));
  };

  // All digits (but a reply code) is OK, as Postfix: a table of numbers (a counter, a
  // timestamp) permits.
  if (word == "ok" || word == "permit" || (allDigits(word) && word.size() != 3)) {
    return result(decide(Decision::Kind::Permit, rule));
  }
  if (word == "dunno") return result(dunno());
  if (word == "reject") {
    std::string enhanced = takeEnhancedCode(rest, '5', "5.7.1");
    return result(decide(Decision::Kind::Reject, rule, 554, enhanced,
                         fmt::format("{}: {}", subject.rejected, text_or("Access denied"))));
  }
  if (word == "defer") {
    std::string enhanced = takeEnhancedCode(rest, '4', "4.7.1");
    return result(decide(Decision::Kind::Defer, rule, 450, enhanced,
                         fmt::format("{}: {}", subject.rejected, text_or("Access denied"))));
  }
  if (word == "defer_if_permit" || word == "defer_if_reject") {
    std::string enhanced = takeEnhancedCode(rest, '4', "4.7.1");
    Decision d = decide(Decision::Kind::Dunno, rule, 450, enhanced,
                        fmt::format("{}: {}", subject.rejected, text_or("Service unavailable")));
    d.pending = word == "defer_if_permit" ? Decision::Pending::DeferIfPermit
                                          : Decision::Pending::DeferIfReject;
    return result(std::move(d));
  }
  if (word.size() == 3 && (word[0] == '4' || word[0] == '5') && allDigits(word)) {
    int code = std::stoi(word);
    std::string enhanced = takeEnhancedCode(rest, word[0], word[0] == '4' ? "4.7.1" : "5.7.1");
    return result(decide(code < 500 ? Decision::Kind::Defer : Decision::Kind::Reject, rule, code,
                         enhanced,
                         fmt::format("{}: {}", subject.rejected, text_or("Access denied"))));
  }
  // Actions for the message that let the evaluation go on (Postfix returns DUNNO after them).
  if (word == "prepend") {
    // Checked as written: a line break in it is refused, not made a space.
    if (!isHeaderField(raw_rest)) return bad("PREPEND needs a header field \"Name: value\"");
    // As written, not cut to MaxActionText: the field check bounds it (998 octets, RFC 5322).
    return result(withAction(PolicyAction::Kind::AddHeader, std::string(raw_rest)));
  }
  if (word == "hold" || word == "discard") {
    bool hold = word == "hold";
    // Logged as Postfix does: "<a@b>: Sender address triggers HOLD action" (not "rejected").
    return result(withAction(
        hold ? PolicyAction::Kind::Hold : PolicyAction::Kind::Discard,
        fmt::format("{} {}", subject.triggers,
                    text_or(hold ? "triggers HOLD action" : "triggers DISCARD action"))));
  }
  if (word == "redirect") {
    if (!isRedirectAddress(rest)) return bad("REDIRECT needs a user@domain address");
    return result(withAction(PolicyAction::Kind::Redirect,
                             fmt::format("{} triggers REDIRECT {}", subject.triggers, rest), rest));
  }
  if (word == "filter") {
    if (!isFilterTarget(rest)) return bad("FILTER needs transport:destination");
    return result(withAction(PolicyAction::Kind::Filter,
                             fmt::format("{} triggers FILTER {}", subject.triggers, rest), rest));
  }
  if (word == "warn" || word == "info") {
    return result(withAction(
        word == "warn" ? PolicyAction::Kind::LogWarn : PolicyAction::Kind::LogInfo, rest));
  }
  // One word that is no action: a restriction class (smtpd_restriction_classes).
  if (space == std::string_view::npos && !word.empty()) {
    return AccessAction{dunno(), std::string(v)};
  }
  return bad("unknown action");
}

}  // namespace petrel::policy::checks

namespace petrel::policy::checks {

// A policy service's reply: the same actions as a table's value, but no restriction class (a
// service names none; Postfix answers such a reply as a configuration error too).
Decision accessAction(std::string_view rule, const std::string& value, const std::string& subject) {
  AccessSubject s{subject, subject};
  if (s.triggers.ends_with(" rejected")) s.triggers.resize(s.triggers.size() - 9);
  AccessAction a = parseAccessAction(rule, "policy service", value, s);
  if (!a.restriction_class.empty()) {
    return accessConfigError(rule, "policy service", value, s, "not an access(5) action");
  }
  return std::move(a.decision);
}

}  // namespace petrel::policy::checks
