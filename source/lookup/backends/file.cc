// The `file` backend: a flat text file of `key value` lines, reloaded when it changes.
//
// Format: one entry per line, the key up to the first blank, the value the rest of the line
// (trimmed); blank lines and lines starting with '#' are ignored; a key without a value is
// warned about and skipped; for a duplicate key the first line wins. Keys are lower-cased.
//
// States (snapshot = what lookups see):
//   never loaded ──load ok──▶ loaded ──file changed──▶ reload ──ok──▶ loaded (new snapshot)
//        │                      │                          └─fails─▶ keep the old snapshot
//        └─cannot read─▶ TempFail snapshot (every lookup 4xx) ──file appears──▶ loaded
// Once the table has loaded, a file that disappears or becomes unreadable keeps serving the
// last good contents (an editor or `mv` replacing the file must not defer all mail); the
// table warns once per new problem, not once per refresh().
//
// Lookups copy a shared_ptr to the immutable snapshot under a mutex held for nanoseconds, so
// a reload never blocks them for the duration of a parse. This backend does not watch the
// file itself (no inotify): the main thread calls refresh() about once a second.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>

#include "petrel/core/strings.h"
#include "petrel/lookup/lookup_table.h"

namespace petrel::lookup {

namespace {

std::string systemErrorText(int err) {
  char buf[256];
  // strerror_r has two signatures (GNU returns char*, XSI int); these overloads pick either.
  struct Pick {
    static const char* text(int rc, const char* buf) { return rc == 0 ? buf : "unknown error"; }
    static const char* text(const char* s, const char*) { return s; }
  };
  return Pick::text(strerror_r(err, buf, sizeof buf), buf);
}

// What tells us the file changed. ctime is included as well: it moves on every write and
// rename, which catches a same-size rewrite within one mtime tick more often.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  timespec mtime{};
  timespec ctime{};

  static FileIdentity of(const struct stat& st) {
    return {st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
  }
  bool operator==(const FileIdentity& o) const {
    return device == o.device && inode == o.inode && size == o.size &&
           mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec &&
           ctime.tv_sec == o.ctime.tv_sec && ctime.tv_nsec == o.ctime.tv_nsec;
  }
};

// What lookups see. Immutable once published.
struct Snapshot {
  KeyValueMap map;
  std::string error;  // non-empty: never loaded; every lookup answers TempFail with it
};

class FileTable final : public LookupTable {
 public:
  FileTable(std::string path, Warn warn)
      : path_(std::move(path)), description_("file:" + path_), warn_(std::move(warn)) {
    snapshot_ = std::make_shared<const Snapshot>(
        Snapshot{{}, fmt::format("table {}: not loaded yet", description_)});
    refresh();
  }

  LookupResult lookup(std::string_view key) const override {
    std::shared_ptr<const Snapshot> snapshot = current();
    if (!snapshot->error.empty()) {
      return LookupResult::tempFail(snapshot->error);
    }
    const std::string* value = snapshot->map.find(key);
    return value ? LookupResult::found(*value) : LookupResult::notFound();
  }

  void refresh() override {
    if (path_.empty() || path_.front() != '/') {
      failed(fmt::format("table {}: path is not absolute", description_));
      return;
    }
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) {
      failed(fmt::format("table {}: cannot open: {}", description_, systemErrorText(errno)));
      return;
    }
    if (loaded_ && *loaded_ == FileIdentity::of(st)) {
      return;
    }
    load();
  }

  std::string describe() const override { return description_; }

 private:
  std::shared_ptr<const Snapshot> current() const {
    std::lock_guard lock(mutex_);
    return snapshot_;
  }

  void publish(std::shared_ptr<const Snapshot> snapshot) {
    std::lock_guard lock(mutex_);
    snapshot_ = std::move(snapshot);
  }

  void load() {
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      failed(fmt::format("table {}: cannot open: {}", description_, systemErrorText(errno)));
      return;
    }
    // The identity comes from the descriptor we read, taken before reading: if the file is
    // rewritten while we read it, the next refresh() sees a different identity and reloads.
    struct stat st {};
    std::string text;
    int read_errno = 0;
    if (::fstat(fd, &st) != 0) {
      read_errno = errno;
    } else {
      text.reserve(static_cast<size_t>(st.st_size));
      char buf[64 * 1024];
      for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
          text.append(buf, static_cast<size_t>(n));
        } else if (n == 0) {
          break;
        } else if (errno != EINTR) {
          read_errno = errno;
          break;
        }
      }
    }
    ::close(fd);
    if (read_errno != 0) {
      failed(fmt::format("table {}: cannot read: {}", description_, systemErrorText(read_errno)));
      return;
    }
    publish(std::make_shared<const Snapshot>(parse(text)));
    loaded_ = FileIdentity::of(st);
    reported_problem_.clear();
  }

  Snapshot parse(std::string_view text) const {
    Snapshot snapshot;
    size_t line_number = 0;
    for (std::string_view raw : split(text, '\n')) {
      ++line_number;
      std::string_view line = trim(raw);  // also drops a CR of CRLF files
      if (line.empty() || line.front() == '#') {
        continue;
      }
      size_t blank = line.find_first_of(" \t");
      std::string_view key = line.substr(0, blank);
      std::string_view value =
          blank == std::string_view::npos ? std::string_view{} : trim(line.substr(blank));
      if (value.empty()) {
        warn(fmt::format("table {}: line {}: missing value: skipping", description_, line_number));
        continue;
      }
      if (!snapshot.map.insert(key, std::string(value))) {
        warn(fmt::format("table {}: line {}: duplicate key \"{}\": keeping the first", description_,
                         line_number, key));
      }
    }
    return snapshot;
  }

  // The file cannot be read now. Before the first good load lookups answer TempFail; after
  // it they keep the last good contents. Either way the problem is warned about once.
  void failed(std::string problem) {
    bool have_contents = current()->error.empty();
    loaded_.reset();  // whatever comes back next is loaded afresh
    std::string message = problem;
    if (have_contents) {
      message += ": keeping the previous contents";
    } else {
      publish(std::make_shared<const Snapshot>(Snapshot{{}, problem}));
    }
    if (message != reported_problem_) {
      warn(message);
      reported_problem_ = std::move(message);
    }
  }

  void warn(const std::string& message) const {
    if (warn_) {
      warn_(message);
    }
  }

  const std::string path_;
  const std::string description_;
  const Warn warn_;

  // Main thread only (constructor and refresh()).
  std::optional<FileIdentity> loaded_;  // the file the current snapshot came from
  std::string reported_problem_;        // last problem warned about, to warn once

  mutable std::mutex mutex_;  // guards snapshot_ (the pointer, not the snapshot)
  std::shared_ptr<const Snapshot> snapshot_;
};

}  // namespace

TablePtr makeFileTable(const config::TableSpec& spec, const Warn& warn) {
  return std::make_shared<FileTable>(spec.path, warn);
}

}  // namespace petrel::lookup
