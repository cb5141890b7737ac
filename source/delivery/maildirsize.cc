// Maildir++ `maildirsize` (see headers/petrel/delivery/maildirsize.h): the format, the
// directory count and the blocking read / rebuild / append steps.
#include "petrel/delivery/maildirsize.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <vector>

#include "petrel/core/strings.h"

namespace petrel::delivery {

namespace {

std::atomic<uint64_t> rebuild_counter{0};

std::optional<uint64_t> decimal(std::string_view text) {
  text = trim(text);
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// A table's value in an error message: bounded, control characters as '?'.
std::string printable(std::string_view text) {
  std::string out(text.substr(0, 64));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}


Error systemError(std::string_view what, const std::string& path, int err) {
  return Error::temporary(fmt::format("{} {}: {}", what, path, systemErrorText(err)));
}

template <typename T>
std::optional<T> number(std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// ",S=<digits>" ending at ':', ',' or the name's end (Dovecot's maildir_sum_dir).
std::optional<uint64_t> sizeInName(std::string_view name) {
  size_t at = name.find(",S=");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = name.substr(at + 3);
  size_t digits = 0;
  while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
  if (digits == 0 || digits > 19) return std::nullopt;
  if (digits < rest.size() && rest[digits] != ':' && rest[digits] != ',') return std::nullopt;
  return number<uint64_t>(rest.substr(0, digits));
}

// Adds the files of one new/ or cur/ directory.
Status sumDirectory(const std::string& dir, QuotaUsage& usage) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR) return okStatus();
    return systemError("cannot open directory", dir, errno);
  }
  Status status = okStatus();
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.empty() || name.front() == '.') continue;
    if (auto size = sizeInName(name)) {
      usage.bytes += *size;
      ++usage.messages;
      continue;
    }
    struct stat st {};
    std::string path = dir + "/" + std::string(name);
    if (::stat(path.c_str(), &st) == 0) {
      usage.bytes += uint64_t(st.st_size);
      ++usage.messages;
    } else if (errno != ENOENT) {  // expunged meanwhile: not counted
      status = systemError("cannot stat", path, errno);
    }
  }
  ::closedir(d);
  return status;
}

// Reads up to MaildirsizeMaxBytes of the file; nullopt when it does not exist.
struct ReadFile {
  std::string text;
  size_t size = 0;  // bytes read (MaildirsizeMaxBytes: at least that many)
  int64_t mtime = 0;
};
Result<std::optional<ReadFile>> readMaildirsize(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<ReadFile>();
    return systemError("cannot open", path, errno);
  }
  ReadFile f;
  struct stat st {};
  if (::fstat(fd, &st) == 0) f.mtime = int64_t(st.st_mtime);
  f.text.resize(MaildirsizeMaxBytes);
  while (f.size < MaildirsizeMaxBytes) {
    ssize_t n = ::read(fd, f.text.data() + f.size, MaildirsizeMaxBytes - f.size);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return systemError("cannot read", path, err);
    }
    f.size += size_t(n);
  }
  ::close(fd);
  f.text.resize(f.size);
  return std::optional<ReadFile>(std::move(f));
}

// Writes a fresh file (limits, one summary line) into tmp/ and renames it over maildirsize.
Status rewriteMaildirsize(const std::string& maildir, const QuotaLimit& limit,
                          const QuotaUsage& usage) {
  std::string tmp = fmt::format("{}tmp/maildirsize.{}.{}", maildir, ::getpid(),
                                rebuild_counter.fetch_add(1, std::memory_order_relaxed));
  std::string target = maildir + "maildirsize";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ENOENT) {
    // A Maildir that never got mail has no tmp/ yet.
    ::mkdir((maildir + "tmp").c_str(), 0700);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  }
  if (fd < 0) return systemError("cannot create", tmp, errno);
  std::string text =
      fmt::format("{}\n{} {}\n", formatMaildirsizeLimit(limit), usage.bytes, usage.messages);
  bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size());
  int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), target.c_str()) != 0) {
    if (ok) err = errno;
    ::unlink(tmp.c_str());
    return systemError(ok ? "cannot rename into" : "cannot write", ok ? target : tmp, err);
  }
  return okStatus();
}

}  // namespace

bool quotaFull(const QuotaLimit& limit, const QuotaUsage& usage) {
  return (limit.bytes != 0 && usage.bytes >= limit.bytes) ||
         (limit.messages != 0 && usage.messages >= limit.messages);
}

bool quotaFits(const QuotaLimit& limit, const QuotaUsage& usage, uint64_t bytes,
               uint64_t messages) {
  return (limit.bytes == 0 || usage.bytes + bytes <= limit.bytes) &&
         (limit.messages == 0 || usage.messages + messages <= limit.messages);
}

std::string formatMaildirsizeLimit(const QuotaLimit& limit) {
  std::string out;
  if (limit.bytes != 0 || limit.messages == 0) out = fmt::format("{}S", limit.bytes);
  if (limit.messages != 0) {
    if (!out.empty()) out += ',';
    out += fmt::format("{}C", limit.messages);
  }
  return out;
}

std::optional<QuotaLimit> parseMaildirsizeLimit(std::string_view line) {
  QuotaLimit limit;
  if (line.empty()) return std::nullopt;
  for (std::string_view part : split(line, ',')) {
    if (part.size() < 2) return std::nullopt;
    auto value = number<uint64_t>(part.substr(0, part.size() - 1));
    if (!value) return std::nullopt;
    switch (part.back()) {
      case 'S': limit.bytes = *value; break;
      case 'C': limit.messages = *value; break;
      default: return std::nullopt;
    }
  }
  return limit;
}

Result<QuotaLimit> parseQuotaValue(std::string_view value) {
  std::string_view bytes = value;
  std::string_view messages;
  if (size_t comma = value.find(','); comma != std::string_view::npos) {
    bytes = value.substr(0, comma);
    messages = value.substr(comma + 1);
  }
  auto b = decimal(bytes);
  auto m = messages.empty() && value.find(',') == std::string_view::npos
               ? std::optional<uint64_t>(0)
               : decimal(messages);
  if (!b || !m) {
    return Error::permanent(fmt::format("quota \"{}\" is not <bytes> or <bytes>,<messages>",
                                        printable(value)));
  }
  return QuotaLimit{*b, *m};
}

std::optional<MaildirsizeContents> parseMaildirsize(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  // A last line without LF is a write in progress: not counted.
  size_t end = text.rfind('\n');
  if (end == std::string_view::npos) return std::nullopt;
  text = text.substr(0, end);
  MaildirsizeContents out;
  int64_t bytes = 0;
  int64_t messages = 0;
  bool first = true;
  for (std::string_view line : split(text, '\n')) {
    if (first) {
      auto limit = parseMaildirsizeLimit(line);
      if (!limit) return std::nullopt;
      out.limit = *limit;
      first = false;
      continue;
    }
    size_t space = line.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    auto b = number<int64_t>(line.substr(0, space));
    std::string_view rest = line.substr(space + 1);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    auto m = number<int64_t>(rest);
    if (!b || !m) return std::nullopt;
    bytes += *b;
    messages += *m;
    ++out.delta_lines;
  }
  if (first || bytes < 0 || messages < 0) return std::nullopt;
  out.usage = QuotaUsage{uint64_t(bytes), uint64_t(messages)};
  return out;
}

bool maildirsizeTrusted(const MaildirsizeContents& contents, const QuotaLimit& limit,
                        size_t file_size, int64_t mtime, int64_t now) {
  if (contents.limit != limit || contents.delta_lines == 0) return false;
  if (file_size >= MaildirsizeMaxBytes) return false;
  bool over = (limit.bytes != 0 && contents.usage.bytes > limit.bytes) ||
              (limit.messages != 0 && contents.usage.messages > limit.messages);
  // Over quota: the deltas may be wrong (lost updates, expunges by another program); the
  // spec asks for a recount before refusing mail on the file's word.
  if (over && (contents.delta_lines > 1 || mtime < now - MaildirsizeStaleSeconds)) return false;
  return true;
}

Result<QuotaUsage> countMaildir(const std::string& maildir) {
  QuotaUsage usage;
  std::vector<std::string> mailboxes{maildir};
  if (DIR* d = ::opendir(maildir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      // Maildir++ folders: ".name" (not "." and "..").
      if (name.size() < 2 || name.front() != '.' || name == "..") continue;
      mailboxes.push_back(maildir + std::string(name) + "/");
    }
    ::closedir(d);
  } else if (errno != ENOENT) {
    return systemError("cannot open directory", maildir, errno);
  }
  for (const std::string& box : mailboxes) {
    for (const char* sub : {"new", "cur"}) {
      if (Status s = sumDirectory(box + sub, usage); !s) return s.error();
    }
  }
  return usage;
}

Result<QuotaUsage> maildirUsage(const std::string& maildir, const QuotaLimit& limit,
                                int64_t now) {
  auto file = readMaildirsize(maildir + "maildirsize");
  if (!file) return file.error();
  if (*file) {
    const ReadFile& f = **file;
    auto contents = parseMaildirsize(f.text);
    if (contents && maildirsizeTrusted(*contents, limit, f.size, f.mtime, now)) {
      return contents->usage;
    }
  }
  auto counted = countMaildir(maildir);
  if (!counted) return counted.error();
  // A Maildir that does not exist yet has nothing to account: no file until it gets mail.
  struct stat st {};
  if (::stat(maildir.c_str(), &st) != 0) return *counted;
  if (Status s = rewriteMaildirsize(maildir, limit, *counted); !s) return s.error();
  return *counted;
}

Status appendMaildirsize(const std::string& maildir, int64_t bytes, int64_t messages) {
  if (bytes == 0 && messages == 0) return okStatus();
  std::string path = maildir + "maildirsize";
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return okStatus();
    return systemError("cannot open", path, errno);
  }
  // One write: O_APPEND makes concurrent writers' lines whole (the spec's only guarantee).
  std::string line = fmt::format("{} {}\n", bytes, messages);
  ssize_t n = ::write(fd, line.data(), line.size());
  int err = errno;
  ::close(fd);
  if (n != ssize_t(line.size())) return systemError("cannot write", path, n < 0 ? err : EIO);
  return okStatus();
}

}  // namespace petrel::delivery
