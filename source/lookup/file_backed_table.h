// FileBackedTable: the load and reload state machine shared by the backends that read one
// text file (file, regexp, cidr), and the Postfix logical-line reader of regexp and cidr files.
// Private to source/lookup/; other areas see only LookupTable.
//
// A backend derives from FileBackedTable and supplies parse(): text in, immutable
// TableContents out (bad lines are warned about and skipped, never fatal). This class owns
// the rest. States (snapshot = what lookups see):
//   never loaded ──load ok──▶ loaded ──file changed──▶ reload ──ok──▶ loaded (new snapshot)
//        │                      │                          └─fails─▶ keep the old snapshot
//        └─cannot read─▶ TempFail snapshot (every lookup 4xx) ──file appears──▶ loaded
// Once the table has loaded, a file that disappears or becomes unreadable keeps serving the
// last good contents (an editor or `mv` replacing the file must not defer all mail); the
// table warns once per new problem, not once per refresh().
//
// Lookups copy a shared_ptr to the immutable snapshot under a mutex held for nanoseconds, so
// a reload never blocks them for the duration of a parse. Nothing watches the file (no
// inotify): the main thread calls refresh() about once a second.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/core/result.h"
#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {

// What one version of the file parsed into. Immutable once published, so find() may run on
// several threads at once without a lock.
class TableContents {
 public:
  virtual ~TableContents() = default;
  // `key` exactly as the caller passed it. Found or NotFound; TempFail only when matching
  // itself failed (e.g. a regular expression hit its match limit).
  virtual LookupResult find(std::string_view key) const = 0;
};

using ContentsPtr = std::shared_ptr<const TableContents>;

class FileBackedTable : public LookupTable {
 public:
  LookupResult lookup(std::string_view key) const final;
  // Stats the file; reads and parses it when its identity (inode, size, mtime, ctime) changed.
  void refresh() final;
  std::string describe() const final { return description_; }

 protected:
  // describe() is "<type>:<path>". The constructor does not load: a derived constructor must
  // call refresh() as its last statement, because refresh() calls the derived parse().
  FileBackedTable(std::string_view type, std::string path, Warn warn);

  // The whole file in, the table out. Warns about each bad line (warnLine()) and skips it.
  // Main thread only (constructor and refresh()).
  virtual ContentsPtr parse(std::string_view text) const = 0;

  void warn(const std::string& message) const;
  // "table <describe()>: line <line>: <what>"
  void warnLine(size_t line, std::string_view what) const;

 private:
  // What tells us the file changed. ctime is included as well: it moves on every write and
  // rename, which catches a same-size rewrite within one mtime tick more often.
  struct FileIdentity {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    timespec mtime{};
    timespec ctime{};
    bool operator==(const FileIdentity& o) const;
  };

  // What lookups see. Immutable once published.
  struct Snapshot {
    ContentsPtr contents;
    std::string error;  // non-empty: never loaded; every lookup answers TempFail with it
  };

  std::shared_ptr<const Snapshot> current() const;
  void publish(std::shared_ptr<const Snapshot> snapshot);
  void load();
  void failed(std::string problem);

  const std::string path_;
  const std::string description_;
  const Warn warn_;

  // Main thread only (constructor and refresh()).
  std::optional<FileIdentity> loaded_;  // the file the current snapshot came from
  std::string reported_problem_;        // last problem warned about, to warn once

  mutable std::mutex mutex_;  // guards snapshot_ (the pointer, not the snapshot)
  std::shared_ptr<const Snapshot> snapshot_;
};

// One logical line of a Postfix-style table file (regexp_table(5), cidr_table(5)).
struct LogicalLine {
  size_t number = 0;  // 1-based number of its first physical line, for messages
  std::string text;   // continuations appended as written (their leading blanks kept); never
                      // starts with a blank; trailing blanks (and a CR of CRLF) trimmed
};

// Splits `text` as Postfix's readlline() does: blank lines and lines whose first non-blank is
// '#' are skipped, also between a line and its continuations; a line that starts with a
// blank (space or tab) continues the logical line before it. A continuation with nothing to
// continue is reported through `problem(line, what)` and dropped.
std::vector<LogicalLine> logicalLines(std::string_view text,
                                      const std::function<void(size_t, std::string_view)>& problem);

// Postfix's "if /pattern/ ... endif" structure, shared by the regexp and cidr tables. A rule
// type has `kind` (Rule::Kind::Match, If, Endif) and `depth` (the ifs around it).

// Parses every logical line with `parse(line, depth)` (which sets kind and depth); a line it
// refuses is warned about and skipped; an if never closed is warned about.
template <typename Rule, typename Parse, typename WarnLine>
std::vector<Rule> parseRuleLines(std::string_view text, Parse parse, WarnLine warn_line) {
  std::vector<Rule> rules;
  std::vector<size_t> open_ifs;  // line numbers of the ifs not closed yet
  for (const LogicalLine& line : logicalLines(text, warn_line)) {
    Result<Rule> rule = parse(line, open_ifs.size());
    if (!rule) {
      warn_line(line.number, rule.error().message() + ": skipping");
      continue;
    }
    if (rule->kind == Rule::Kind::If) {
      open_ifs.push_back(line.number);
    } else if (rule->kind == Rule::Kind::Endif) {
      open_ifs.pop_back();
    }
    rules.push_back(std::move(*rule));
  }
  for (size_t line : open_ifs) {
    warn_line(line, "if without endif: the rules after it apply only when it matches");
  }
  return rules;
}

// Postfix's if/endif walk: a rule deeper than the ifs that matched so far is skipped; an endif
// is reached only when its if matched, and closes it. `applies(rule)` answers for If and
// Match rules (an error stops the walk). Returns the first Match rule that applies, or null.
template <typename Rule, typename Applies>
Result<const Rule*> firstMatchingRule(const std::vector<Rule>& rules, Applies applies) {
  size_t depth = 0;
  for (const Rule& rule : rules) {
    if (depth < rule.depth) continue;
    if (rule.kind == Rule::Kind::Endif) {
      --depth;
      continue;
    }
    Result<bool> ok = applies(rule);
    if (!ok) return ok.error();
    if (!*ok) continue;
    if (rule.kind == Rule::Kind::If) {
      ++depth;
      continue;
    }
    return &rule;
  }
  return static_cast<const Rule*>(nullptr);
}

}  // namespace petrel::lookup
