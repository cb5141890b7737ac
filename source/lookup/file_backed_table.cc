// FileBackedTable and logicalLines(): see file_backed_table.h for the states and the format
// rules. This file owns reading (open, fstat, read to the end), deciding when to reload and
// the warn-once bookkeeping; it knows nothing of any backend's syntax.
#include "file_backed_table.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "petrel/core/strings.h"

namespace petrel::lookup {

namespace {

bool isBlank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

bool FileBackedTable::FileIdentity::operator==(const FileIdentity& o) const {
  return device == o.device && inode == o.inode && size == o.size &&
         mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec &&
         ctime.tv_sec == o.ctime.tv_sec && ctime.tv_nsec == o.ctime.tv_nsec;
}

FileBackedTable::FileBackedTable(std::string_view type, std::string path, Warn warn)
    : path_(std::move(path)),
      description_(fmt::format("{}:{}", type, path_)),
      warn_(std::move(warn)) {
  snapshot_ = std::make_shared<const Snapshot>(
      Snapshot{nullptr, fmt::format("table {}: not loaded yet", description_)});
}

LookupResult FileBackedTable::lookup(std::string_view key) const {
  std::shared_ptr<const Snapshot> snapshot = current();
  if (!snapshot->error.empty()) {
    return LookupResult::tempFail(snapshot->error);
  }
  return snapshot->contents->find(key);
}

void FileBackedTable::refresh() {
  if (path_.empty() || path_.front() != '/') {
    failed(fmt::format("table {}: path is not absolute", description_));
    return;
  }
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    failed(fmt::format("table {}: cannot open: {}", description_, systemErrorText(errno)));
    return;
  }
  if (loaded_ &&
      *loaded_ == FileIdentity{st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim}) {
    return;
  }
  load();
}

void FileBackedTable::warn(const std::string& message) const {
  if (warn_) {
    warn_(message);
  }
}

void FileBackedTable::warnLine(size_t line, std::string_view what) const {
  warn(fmt::format("table {}: line {}: {}", description_, line, what));
}

std::shared_ptr<const FileBackedTable::Snapshot> FileBackedTable::current() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

void FileBackedTable::publish(std::shared_ptr<const Snapshot> snapshot) {
  std::lock_guard lock(mutex_);
  snapshot_ = std::move(snapshot);
}

void FileBackedTable::load() {
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
  publish(std::make_shared<const Snapshot>(Snapshot{parse(text), {}}));
  loaded_ = FileIdentity{st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
  reported_problem_.clear();
}

// The file cannot be read now. Before the first good load lookups answer TempFail; after it
// they keep the last good contents. Either way the problem is warned about once.
void FileBackedTable::failed(std::string problem) {
  bool have_contents = current()->error.empty();
  loaded_.reset();  // whatever comes back next is loaded afresh
  std::string message = problem;
  if (have_contents) {
    message += ": keeping the previous contents";
  } else {
    publish(std::make_shared<const Snapshot>(Snapshot{nullptr, problem}));
  }
  if (message != reported_problem_) {
    warn(message);
    reported_problem_ = std::move(message);
  }
}

std::vector<LogicalLine> logicalLines(
    std::string_view text, const std::function<void(size_t, std::string_view)>& problem) {
  std::vector<LogicalLine> lines;
  size_t number = 0;
  for (std::string_view raw : split(text, '\n')) {
    ++number;
    if (!raw.empty() && raw.back() == '\r') {
      raw.remove_suffix(1);
    }
    std::string_view content = trim(raw);
    if (content.empty() || content.front() == '#') {
      continue;  // Postfix skips these even between a line and its continuation
    }
    if (!isBlank(raw.front())) {
      lines.push_back({number, std::string(raw)});
    } else if (!lines.empty()) {
      lines.back().text.append(raw);
    } else {
      problem(number,
              "a line that starts with a blank continues the line before it, but there "
              "is none: skipping");
    }
  }
  for (LogicalLine& line : lines) {
    line.text.resize(trim(line.text).size());  // never starts with a blank, so trim = rtrim
  }
  return lines;
}

}  // namespace petrel::lookup
