// Sieve at Maildir delivery; see headers/petrel/delivery/sieve_filter.h.
#include "petrel/delivery/sieve_filter.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <variant>

#include "petrel/core/strings.h"

namespace petrel::delivery {

namespace {

constexpr size_t MaxScriptBytes = 1 << 20;

// Script text in a log line: bounded, control characters replaced.
std::string loggable(std::string_view s) {
  std::string out(s.substr(0, 200));
  for (char &c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

std::optional<std::string> readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text;
  text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (text.size() > MaxScriptBytes) text.resize(MaxScriptBytes);
  return text;
}

Result<sieve::ProgramPtr> compileFile(const std::string &path, const sieve::Options &options) {
  auto text = readFile(path);
  if (!text) return Error::config(fmt::format("{}: cannot read the script", path));
  auto compiled = sieve::compile(*text, options);
  if (auto *error = std::get_if<sieve::SyntaxError>(&compiled)) {
    return Error::config(fmt::format("{}:{}", path, error->message()));
  }
  return std::get<sieve::ProgramPtr>(std::move(compiled));
}

// The user's script: <dir>/<domain>/<local part>.sieve, lower-cased; nothing
// for an address whose parts could leave the directory.
std::optional<std::string> userScriptPath(const std::string &dir, std::string_view address) {
  size_t at = address.rfind('@');
  if (dir.empty() || at == std::string_view::npos) return std::nullopt;
  std::string local = toLower(address.substr(0, at));
  std::string domain = toLower(address.substr(at + 1));
  for (const std::string &part : {local, domain}) {
    if (part.empty() || part.front() == '.' || part.find('/') != std::string::npos ||
        part.find('\0') != std::string::npos) {
      return std::nullopt;
    }
  }
  return fmt::format("{}/{}/{}.sieve", dir, domain, local);
}

}  // namespace

Result<SieveScriptsPtr> loadSieveScripts(const config::Config &cfg) {
  const config::Delivery::Sieve &s = cfg.delivery.sieve;
  if (!s.enabled()) return SieveScriptsPtr();
  auto scripts = std::make_shared<SieveScripts>();
  scripts->options.recipient_delimiter = cfg.recipient_delimiter;
  scripts->user_dir = s.user_scripts;
  for (auto [path, slot] : {std::pair{&s.global_before, &scripts->before},
                            std::pair{&s.global_after, &scripts->after}}) {
    if (path->empty()) continue;
    auto program = compileFile(*path, scripts->options);
    if (!program) {
      return Error::config(fmt::format("delivery.sieve: {}", program.error().message()));
    }
    *slot = std::move(program.value());
  }
  return SieveScriptsPtr(std::move(scripts));
}

SieveDecision decideFilings(const SieveScripts &scripts, const sieve::MessageView &message,
                            const sieve::Envelope &envelope) {
  SieveDecision d;
  std::vector<const sieve::Program *> sequence;
  sieve::ProgramPtr personal;
  if (scripts.before) sequence.push_back(scripts.before.get());
  if (auto path = userScriptPath(scripts.user_dir, envelope.to)) {
    if (auto text = readFile(*path)) {
      auto compiled = sieve::compile(*text, scripts.options);
      if (auto *error = std::get_if<sieve::SyntaxError>(&compiled)) {
        d.notes.push_back(fmt::format("{}:{} (script skipped)", *path, error->message()));
      } else {
        personal = std::get<sieve::ProgramPtr>(std::move(compiled));
        sequence.push_back(personal.get());
      }
    }
  }
  if (scripts.after) sequence.push_back(scripts.after.get());

  bool keep = true;  // the implicit keep of the sequence so far
  std::vector<std::string> keep_flags;
  auto file = [&d](std::string folder, const std::vector<std::string> &flags) {
    Filing f{std::move(folder), maildirFlags(flags)};
    bool seen = std::any_of(d.filings.begin(), d.filings.end(),
                            [&f](const Filing &g) { return g.folder == f.folder; });
    if (!seen) d.filings.push_back(std::move(f));
  };
  for (const sieve::Program *program : sequence) {
    sieve::Outcome outcome = sieve::run(*program, message, envelope, scripts.options);
    if (outcome.error) d.notes.push_back(fmt::format("run-time error: {} (kept)", *outcome.error));
    keep = false;
    for (const sieve::Action &a : outcome.actions) {
      using Kind = sieve::Action::Kind;
      switch (a.kind) {
        case Kind::Keep:
          if (a.implicit) {
            keep = true;
            keep_flags = a.flags;
          } else {
            file("", a.flags);
          }
          break;
        case Kind::FileInto:
          if (auto folder = maildirFolderName(a.target)) {
            file(*folder, a.flags);
          } else {
            d.notes.push_back(fmt::format("fileinto \"{}\": not a folder name Petrel writes; kept",
                                          loggable(a.target)));
            file("", a.flags);
          }
          break;
        case Kind::Discard:
          break;
        case Kind::Redirect: {
          const std::string &target = a.target;
          if (std::any_of(d.redirects.begin(), d.redirects.end(),
                          [&target](const std::string &r) { return iequals(r, target); })) {
            break;  // RFC 5228 4.2: the same address once
          }
          if (d.redirects.size() >= scripts.options.run_limits.max_redirects) {
            // The interpreter counts per script; this counts for the whole sequence.
            d.notes.push_back(fmt::format("{}: more than {} redirects; kept instead",
                                          loggable(sieve::formatAction(a)),
                                          scripts.options.run_limits.max_redirects));
            file("", {});
            break;
          }
          d.redirects.push_back(target);
          break;
        }
        case Kind::Reject:
        case Kind::Ereject:
          if (!d.filings.empty() || !d.redirects.empty()) {
            // An earlier script of the sequence already stored or sent it: too late to refuse.
            d.notes.push_back(fmt::format("{}: the message was already filed; kept",
                                          loggable(sieve::formatAction(a))));
            break;
          }
          d.reject = a.target;
          break;
        case Kind::Vacation:
          if (d.vacation) {
            d.notes.push_back("a second vacation in the sequence: ignored");
          } else {
            d.vacation = a.vacation;
          }
          break;
      }
    }
    if (d.reject) {
      keep = false;
      break;
    }
    if (!keep) break;  // filed or discarded: the rest of the sequence does not run
  }
  if (sequence.empty()) keep = true;
  if (keep) file("", keep_flags);
  return d;
}

std::optional<std::string> maildirFolderName(std::string_view mailbox) {
  if (mailbox.empty() || mailbox.size() > 255) return std::nullopt;
  if (iequals(mailbox, "INBOX")) return std::string();
  std::string out;
  size_t start = 0;
  while (start <= mailbox.size()) {
    size_t end = mailbox.find_first_of("/.", start);
    if (end == std::string_view::npos) end = mailbox.size();
    std::string_view part = mailbox.substr(start, end - start);
    if (part.empty()) return std::nullopt;
    for (char c : part) {
      auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u >= 0x7f || c == '&') return std::nullopt;
    }
    if (!out.empty()) out += '.';
    out += part;
    start = end + 1;
    if (end == mailbox.size()) break;
  }
  return out;
}

std::string maildirFlags(const std::vector<std::string> &flags) {
  std::string out;
  for (const std::string &f : flags) {
    char letter = 0;
    if (iequals(f, "\\Draft")) letter = 'D';
    if (iequals(f, "\\Flagged")) letter = 'F';
    if (iequals(f, "\\Answered")) letter = 'R';
    if (iequals(f, "\\Seen")) letter = 'S';
    if (iequals(f, "\\Deleted")) letter = 'T';
    if (letter != 0 && out.find(letter) == std::string::npos) out += letter;
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace petrel::delivery
