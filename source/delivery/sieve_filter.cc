// Sieve at Maildir delivery; see headers/petrel/delivery/sieve_filter.h.
#include "petrel/delivery/sieve_filter.h"

#include <fmt/format.h>

#include <algorithm>
#include <variant>

#include "petrel/core/mail_address.h"
#include "petrel/core/strings.h"

namespace petrel::delivery {

namespace {

// Script text in a log line: bounded, control characters replaced.
std::string loggable(std::string_view s) {
  std::string out(s.substr(0, 200));
  for (char &c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

Result<sieve::ProgramPtr> compileFile(SieveCache &cache, const std::string &path) {
  CachedScript script = cache.file(path);
  switch (script.status) {
    case CachedScript::Status::Compiled:
      return script.program;
    case CachedScript::Status::Missing:
      return Error::config(fmt::format("{}: cannot read the script: no such file", path));
    case CachedScript::Status::Broken:
      break;
  }
  return Error::config(script.error);
}

// A part of a path made from an address or a script name: nothing that leaves the directory.
bool safePart(std::string_view part) {
  return !part.empty() && part.size() <= 255 && part.front() != '.' &&
         part.find('/') == std::string_view::npos && part.find('\0') == std::string_view::npos;
}

// The recipient's keys, lower-cased: the address, then without its extension (the mailbox
// table's order; alice+lists@ has alice@'s script unless it has its own).
std::vector<std::string> recipientKeys(std::string_view address, const std::string &delimiters) {
  std::vector<std::string> keys{toLower(address)};
  if (!delimiters.empty()) {
    std::string bare = toLower(MailAddress(address).withoutExtension(delimiters));
    if (bare != keys.front()) keys.push_back(std::move(bare));
  }
  return keys;
}

// One recipient's personal scripts: where they come from, and what was found.
struct Personal {
  const SieveScripts &scripts;
  std::string owner;  // the key the script was found under (else the bare address)
  CachedScript script;
  std::optional<std::string> deferred;  // the table failed

  Personal(const SieveScripts &s, std::string_view address) : scripts(s) {
    std::vector<std::string> keys = recipientKeys(address, s.options.recipient_delimiter);
    owner = keys.back();
    if (s.user_table) {
      fromTable(keys);
    } else if (!s.user_dir.empty()) {
      fromDirectory(keys);
    }
  }

  void fromDirectory(const std::vector<std::string> &keys) {
    for (const std::string &key : keys) {
      auto path = pathOf(key, "", ".sieve");
      if (!path) return;
      script = scripts.cache->file(*path);
      if (script.status != CachedScript::Status::Missing) {
        owner = key;
        return;
      }
    }
  }

  void fromTable(const std::vector<std::string> &keys) {
    for (const std::string &key : keys) {
      lookup::LookupResult r = scripts.user_table->lookup(key);
      if (r.status == lookup::LookupStatus::NotFound) continue;
      if (r.status != lookup::LookupStatus::Found) {
        deferred = fmt::format("{}: {}", scripts.user_table->describe(), r.error);
        return;
      }
      owner = key;
      script = scripts.cache->text(r.value, scripts.user_table->describe() + ": " + key);
      return;
    }
  }

  // <user_dir>/<domain>/<local><sub><suffix>, or nothing for parts that could leave it.
  std::optional<std::string> pathOf(const std::string &key, std::string_view sub,
                                    std::string_view suffix) const {
    size_t at = key.rfind('@');
    if (at == std::string::npos) return std::nullopt;
    std::string local = key.substr(0, at), domain = key.substr(at + 1);
    if (!safePart(local) || !safePart(domain)) return std::nullopt;
    return fmt::format("{}/{}/{}{}{}", scripts.user_dir, domain, local, sub, suffix);
  }

  // include :personal / :global "name", compiled (null: no such script).
  Result<sieve::ProgramPtr> include(sieve::IncludeLocation where, std::string_view name) const {
    if (!safePart(name)) return Error::permanent(fmt::format("bad script name \"{}\"",
                                                             loggable(name)));
    CachedScript found;
    if (where == sieve::IncludeLocation::Global) {
      if (scripts.global_dir.empty()) {
        return Error::permanent("no delivery.sieve.global_dir to include from");
      }
      found = scripts.cache->file(fmt::format("{}/{}.sieve", scripts.global_dir, name));
    } else if (scripts.user_table) {
      std::string key = fmt::format("{}/{}", owner, name);
      lookup::LookupResult r = scripts.user_table->lookup(key);
      if (r.status == lookup::LookupStatus::NotFound) return sieve::ProgramPtr();
      if (r.status != lookup::LookupStatus::Found) {
        return Error::temporary(fmt::format("{}: {}", scripts.user_table->describe(), r.error));
      }
      found = scripts.cache->text(r.value, scripts.user_table->describe() + ": " + key);
    } else if (!scripts.user_dir.empty()) {
      auto path = pathOf(owner, "/", fmt::format("{}.sieve", name));
      if (!path) return sieve::ProgramPtr();
      found = scripts.cache->file(*path);
    }
    if (found.status == CachedScript::Status::Broken) return Error::permanent(found.error);
    return found.program;  // null when Missing
  }
};

// The `include :global "name"` commands of a global script (literal names: one with a
// variable is left to the run) resolve in global_dir and compile, or the load fails naming
// the include's file:line:column. A missing one is an error unless :optional.
Result<bool> checkGlobalIncludes(const std::vector<sieve::Command> &commands,
                                 const std::string &file, const SieveScripts &scripts,
                                 size_t depth) {
  for (const sieve::Command &c : commands) {
    if (auto r = checkGlobalIncludes(c.block, file, scripts, depth); !r) return r;
    if (c.name != "include") continue;
    bool global = false, optional = false;
    const std::string *name = nullptr;
    for (const sieve::ArgumentAt &a : c.arguments) {
      if (const auto *tag = std::get_if<sieve::Tag>(&a.value)) {
        global = global || tag->name == "global";
        optional = optional || tag->name == "optional";
      } else if (const auto *list = std::get_if<sieve::StringList>(&a.value)) {
        if (list->values.size() == 1) name = &list->values.front();
      }
    }
    if (!global || name == nullptr || name->find("${") != std::string::npos) continue;
    auto problem = [&](std::string what) {
      return Error::config(fmt::format("{}:{}:{}: include :global \"{}\": {}", file, c.at.line,
                                       c.at.column, loggable(*name), what));
    };
    if (!safePart(*name)) return problem("bad script name");
    if (scripts.global_dir.empty()) return problem("no delivery.sieve.global_dir to include from");
    std::string path = fmt::format("{}/{}.sieve", scripts.global_dir, *name);
    CachedScript found = scripts.cache->file(path);
    if (found.status == CachedScript::Status::Broken) return problem(found.error);
    if (found.status == CachedScript::Status::Missing) {
      if (optional) continue;
      return problem(fmt::format("{}: no such script", path));
    }
    if (depth + 1 >= scripts.options.run_limits.max_include_depth) continue;  // the run says
    auto r = checkGlobalIncludes(found.program->script().commands, path, scripts, depth + 1);
    if (!r) return r;
  }
  return true;
}

}  // namespace

Result<SieveScriptsPtr> loadSieveScripts(const config::Config &cfg, const lookup::Warn &warn) {
  const config::Delivery::Sieve &s = cfg.delivery.sieve;
  if (!s.enabled()) return SieveScriptsPtr();
  auto scripts = std::make_shared<SieveScripts>();
  scripts->options.recipient_delimiter = cfg.recipient_delimiter;
  scripts->user_dir = s.user_scripts;
  scripts->global_dir = s.global_dir;
  scripts->cache = std::make_shared<SieveCache>(scripts->options);
  for (auto [path, slot] : {std::pair{&s.global_before, &scripts->before},
                            std::pair{&s.global_after, &scripts->after}}) {
    if (path->empty()) continue;
    auto program = compileFile(*scripts->cache, *path);
    if (!program) {
      return Error::config(fmt::format("delivery.sieve: {}", program.error().message()));
    }
    *slot = std::move(program.value());
    if (auto r = checkGlobalIncludes((*slot)->script().commands, *path, *scripts, 0); !r) {
      return Error::config(fmt::format("delivery.sieve: {}", r.error().message()));
    }
  }
  if (s.user_table) {
    scripts->user_table =
        lookup::makeTable(*s.user_table, warn ? warn : [](const std::string &) {});
  }
  return SieveScriptsPtr(std::move(scripts));
}

SieveDecision decideFilings(const SieveScripts &scripts, const sieve::MessageView &message,
                            const sieve::Envelope &envelope) {
  SieveDecision d;
  std::vector<const sieve::Program *> sequence;
  Personal personal(scripts, envelope.to);
  if (personal.deferred) {
    d.deferred = std::move(personal.deferred);
    return d;
  }
  if (scripts.before) sequence.push_back(scripts.before.get());
  if (personal.script.status == CachedScript::Status::Broken) {
    d.notes.push_back(fmt::format("{} (script skipped)", personal.script.error));
  } else if (personal.script.program) {
    sequence.push_back(personal.script.program.get());
  }
  if (scripts.after) sequence.push_back(scripts.after.get());
  sieve::Options options = scripts.options;
  options.include_program = [&personal](sieve::IncludeLocation where, std::string_view name) {
    return personal.include(where, name);
  };

  bool keep = true;  // the implicit keep of the sequence so far
  std::vector<std::string> keep_flags;
  auto file = [&d](std::string folder, const std::vector<std::string> &flags) {
    Filing f{std::move(folder), maildirFlags(flags)};
    bool seen = std::any_of(d.filings.begin(), d.filings.end(),
                            [&f](const Filing &g) { return g.folder == f.folder; });
    if (!seen) d.filings.push_back(std::move(f));
  };
  for (const sieve::Program *program : sequence) {
    sieve::Outcome outcome = sieve::run(*program, message, envelope, options);
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
