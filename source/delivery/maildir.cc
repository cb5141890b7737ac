// Maildir delivery (see headers/petrel/delivery/maildir.h): tmp/ write, fsync, rename to
// new/, one directory fsync per new/ per batch.
//
// Per item:  ensure Maildir ─▶ open tmp/<name> (O_EXCL) ─▶ copy prefix + body (CRLF -> LF)
// then per item: fsync ─▶ close ─▶ rename to new/<name>,S=<size>
// then per distinct new/ directory: fsync. Any failure before the rename unlinks the tmp
// file; a failed directory fsync unlinks the delivered files it was meant to cover, so the
// queue's retry does not produce a duplicate.
//
// Items marked find_existing (a recipient recovered after a crash or tried before) are first
// looked up by their delivery key in new/ and cur/: one directory read per Maildir per batch.
//
// This file does no retries and no logging; of the quota it only applies the item's account
// (the agent reads and updates maildirsize). It never reads a whole body file into memory
// (MaildirChunkSize at a time).
#include "petrel/delivery/maildir.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "petrel/core/strings.h"

namespace petrel::delivery {

namespace {

// Distinguishes deliveries within one process and microsecond (Maildir spec "Q" part).
std::atomic<uint64_t> delivery_counter{0};

Error systemError(std::string_view what, const std::string& path, int err) {
  return Error::temporary(fmt::format("{} {}: {}", what, path, systemErrorText(err)));
}

// The Maildir spec asks to encode '/' and ':' in the host part so it stays one path component
// and does not collide with the ":2,flags" info suffix.
std::string maildirHostName(const std::string& hostname) {
  std::string out;
  for (char c : hostname) {
    if (c == '/') {
      out += "\\057";
    } else if (c == ':') {
      out += "\\072";
    } else {
      out += c;
    }
  }
  return out.empty() ? "localhost" : out;
}

// The key goes at the end of the delivery id (the part between the first two dots), where
// Dovecot and other readers only expect something unique.
std::string uniqueName(const std::string& host, const std::string& key) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return fmt::format("{}.M{}P{}Q{}{}.{}", now.tv_sec, now.tv_nsec / 1000, ::getpid(),
                     delivery_counter.fetch_add(1, std::memory_order_relaxed), key, host);
}

bool allOf(std::string_view s, bool (*pred)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), pred);
}
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isUpperHex(char c) { return isDigit(c) || (c >= 'A' && c <= 'F'); }

// "K<hex>R<digits>" at the end of a delivery id, or "".
std::string_view keyOf(std::string_view id) {
  size_t k = id.rfind('K');
  if (k == std::string_view::npos) return {};
  std::string_view key = id.substr(k);
  size_t r = key.find('R');
  if (r == std::string_view::npos || !allOf(key.substr(1, r - 1), isUpperHex) ||
      !allOf(key.substr(r + 1), isDigit)) {
    return {};
  }
  return key;
}

// A file with a delivery key found in new/ or cur/.
struct FoundFile {
  std::string path;
  std::string dir;  // its directory, for the fsync
  uint64_t size = 0;
  bool has_size = false;
};
using FoundKeys = std::map<std::string, FoundFile, std::less<>>;

// Adds the keyed files of `host` in `maildir`'s new/ and cur/ to `found`. A missing directory
// has none; any other failure to read one is an error (the item waits rather than risk a
// second copy).
Status scanMaildirKeys(const std::string& maildir, const std::string& host, FoundKeys& found) {
  for (const char* sub : {"new", "cur"}) {
    std::string dir = maildir + sub;
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) continue;
      return systemError("cannot read directory", dir, errno);
    }
    errno = 0;
    while (const dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name.find('K') == std::string_view::npos) continue;  // cheap: most names have none
      std::optional<MaildirName> parsed = parseMaildirName(name);
      if (!parsed || parsed->key.empty() || parsed->host != host) continue;
      found.try_emplace(parsed->key, FoundFile{fmt::format("{}/{}", dir, name), dir, parsed->size,
                                               parsed->has_size});
      errno = 0;
    }
    int err = errno;
    ::closedir(d);
    if (err != 0) return systemError("cannot read directory", dir, err);
  }
  return okStatus();
}

// The complete file of `key` in `maildir`, or nullopt. `scanned` caches each Maildir's keys
// for the batch; a file an IMAP server moved from new/ to cur/ since is looked for again.
Result<std::optional<FoundFile>> findExisting(const std::string& maildir, const std::string& key,
                                              const std::string& host,
                                              std::map<std::string, FoundKeys>& scanned) {
  for (int pass = 0; pass < 2; ++pass) {
    auto [it, added] = scanned.try_emplace(maildir);
    if (added || pass > 0) {
      it->second.clear();
      if (Status s = scanMaildirKeys(maildir, host, it->second); !s) {
        scanned.erase(it);
        return s.error();
      }
    }
    auto hit = it->second.find(key);
    if (hit == it->second.end()) return std::optional<FoundFile>();
    struct stat st {};
    if (::stat(hit->second.path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // renamed meanwhile (new/ -> cur/, flags changed)
      return systemError("cannot stat", hit->second.path, errno);
    }
    // Files are renamed into new/ only once written and synced, so one that is there is
    // whole; the size check guards against a file system that lost data anyway.
    bool whole = !hit->second.has_size || uint64_t(st.st_size) == hit->second.size;
    if (S_ISREG(st.st_mode) && whole) {
      hit->second.size = uint64_t(st.st_size);
      return std::optional<FoundFile>(hit->second);
    }
    return std::optional<FoundFile>();
  }
  return std::optional<FoundFile>();
}

std::string parentOf(const std::string& dir) {
  size_t slash = dir.find_last_of('/');
  return slash == 0 ? "/" : dir.substr(0, slash);
}

Status fsyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return systemError("cannot open directory", dir, errno);
  }
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    return systemError("cannot fsync directory", dir, err);
  }
  return okStatus();
}

// mkdir -p with mode 0700. `dir` has no trailing '/'. Records the parent of every directory it
// creates in `created_in` so their new entries can be fsynced.
Status makeDirectories(const std::string& dir, std::set<std::string>& created_in) {
  if (::mkdir(dir.c_str(), 0700) == 0) {
    created_in.insert(parentOf(dir));
    return okStatus();
  }
  int err = errno;
  if (err == EEXIST) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return okStatus();
    }
    return systemError("cannot create directory", dir, ENOTDIR);
  }
  if (err == ENOENT && dir != "/" && !dir.empty()) {
    if (Status parent = makeDirectories(parentOf(dir), created_in); !parent) {
      return parent;
    }
    if (::mkdir(dir.c_str(), 0700) == 0) {
      created_in.insert(parentOf(dir));
      return okStatus();
    }
    err = errno;
    if (err == EEXIST) {
      return okStatus();  // a concurrent delivery created it
    }
  }
  return systemError("cannot create directory", dir, err);
}

Status ensureMaildir(const std::string& maildir, bool fsync) {
  std::set<std::string> created_in;
  for (const char* sub : {"tmp", "new", "cur"}) {
    if (Status made = makeDirectories(maildir + sub, created_in); !made) {
      return made;
    }
  }
  if (fsync) {
    // A new Maildir must survive a crash as well as the file in it.
    for (const std::string& dir : created_in) {
      if (Status synced = fsyncDirectory(dir); !synced) {
        return synced;
      }
    }
  }
  return okStatus();
}

// Writes to a file descriptor through a bounded buffer, turning CRLF into LF. The CR of a pair
// split across two put() calls is held back until the next byte is known.
class LfWriter {
 public:
  LfWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {
    buffer_.reserve(MaildirChunkSize);
  }

  // Copies `data` unchanged.
  Status putRaw(std::string_view data) {
    while (!data.empty()) {
      size_t n = std::min(data.size(), MaildirChunkSize - buffer_.size());
      buffer_.append(data.data(), n);
      data.remove_prefix(n);
      if (buffer_.size() >= MaildirChunkSize) {
        if (Status s = flush(); !s) {
          return s;
        }
      }
    }
    return okStatus();
  }

  // Copies `data` with CRLF -> LF; a CR not followed by LF is content and is kept.
  Status putWire(std::string_view data) {
    if (pending_cr_ && !data.empty()) {
      pending_cr_ = false;
      if (data.front() != '\n') {
        if (Status s = putRaw("\r"); !s) {
          return s;
        }
      }
    }
    while (!data.empty()) {
      size_t cr = data.find('\r');
      if (Status s = putRaw(data.substr(0, cr)); !s || cr == std::string_view::npos) {
        return s;
      }
      data.remove_prefix(cr + 1);
      if (data.empty()) {
        pending_cr_ = true;  // the LF may start the next chunk
      } else if (data.front() != '\n') {
        if (Status s = putRaw("\r"); !s) {
          return s;
        }
      }
    }
    return okStatus();
  }

  Status finish() {
    if (pending_cr_) {
      pending_cr_ = false;
      if (Status s = putRaw("\r"); !s) {
        return s;
      }
    }
    return flush();
  }

  uint64_t size() const { return written + buffer_.size(); }

 private:
  Status flush() {
    std::string_view rest = buffer_;
    while (!rest.empty()) {
      ssize_t n = ::write(fd_, rest.data(), rest.size());
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return systemError("cannot write", path_, errno);
      }
      rest.remove_prefix(static_cast<size_t>(n));
      written += static_cast<uint64_t>(n);
    }
    buffer_.clear();
    return okStatus();
  }

  const int fd_;
  const std::string path_;
  std::string buffer_;
  uint64_t written = 0;
  bool pending_cr_ = false;
};

Status copyBodyFile(const std::string& body_path, uint64_t offset, LfWriter& writer) {
  int fd = ::open(body_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return systemError("cannot open message file", body_path, errno);
  }
  if (offset > 0 && ::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0) {
    int err = errno;
    ::close(fd);
    return systemError("cannot seek in message file", body_path, err);
  }
  std::string chunk(MaildirChunkSize, '\0');
  Status status = okStatus();
  for (;;) {
    ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n == 0) {
      break;
    }
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      status = systemError("cannot read message file", body_path, errno);
      break;
    }
    status = writer.putWire(std::string_view(chunk.data(), static_cast<size_t>(n)));
    if (!status) {
      break;
    }
  }
  ::close(fd);
  return status;
}

// A message written into tmp/ whose file is still open, waiting for its fsync and rename.
struct TmpFile {
  int fd = -1;
  std::string tmp_path;
  std::string final_path;
  uint64_t size = 0;  // as written
};

// Writes the message into tmp/ and leaves the file open for finishTmp().
Result<TmpFile> writeTmp(const MaildirItem& item, const std::string& host) {
  const std::string& maildir = item.maildir;
  // Names are unique by construction; O_EXCL guards against a clock step plus pid reuse.
  std::string name;
  TmpFile t;
  for (int attempt = 0; t.fd < 0; ++attempt) {
    name = uniqueName(host, item.key);
    t.tmp_path = maildir + "tmp/" + name;
    t.fd = ::open(t.tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (t.fd < 0 && (errno != EEXIST || attempt >= 3)) {
      return systemError("cannot create", t.tmp_path, errno);
    }
  }
  LfWriter writer(t.fd, t.tmp_path);
  Status status = writer.putRaw(item.header_prefix);
  if (status) {
    status = item.body_path.empty()
                 ? writer.putWire(item.body.substr(std::min<uint64_t>(item.body_offset,
                                                                      item.body.size())))
                 : copyBodyFile(item.body_path, item.body_offset, writer);
  }
  if (status) {
    status = writer.finish();
  }
  if (!status) {
    ::close(t.fd);
    ::unlink(t.tmp_path.c_str());
    return status.error();
  }
  t.size = writer.size();
  t.final_path = item.flags.empty()
                     ? fmt::format("{}new/{},S={}", maildir, name, writer.size())
                     : fmt::format("{}cur/{},S={}:2,{}", maildir, name, writer.size(), item.flags);
  return t;
}

// fsync, close and rename into new/. Returns the final path.
Result<std::string> finishTmp(TmpFile& t, bool fsync) {
  Status status = okStatus();
  if (fsync && ::fsync(t.fd) != 0) {
    status = systemError("cannot fsync", t.tmp_path, errno);
  }
  // close() can report a deferred write error (NFS, some quota implementations).
  if (::close(t.fd) != 0 && status) {
    status = systemError("cannot close", t.tmp_path, errno);
  }
  t.fd = -1;
  if (status && ::rename(t.tmp_path.c_str(), t.final_path.c_str()) != 0) {
    status = systemError("cannot rename into", t.final_path, errno);
  }
  if (!status) {
    ::unlink(t.tmp_path.c_str());
    return status.error();
  }
  return t.final_path;
}

}  // namespace

std::string maildirDeliveryKey(std::string_view queue_id, int64_t recipient_index) {
  return fmt::format("K{}R{}", queue_id, recipient_index);
}

std::optional<MaildirName> parseMaildirName(std::string_view name) {
  std::string_view base = name.substr(0, name.find(':'));
  size_t dot1 = base.find('.');
  if (dot1 == std::string_view::npos || !allOf(base.substr(0, dot1), isDigit)) {
    return std::nullopt;
  }
  size_t dot2 = base.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || dot2 == dot1 + 1) return std::nullopt;
  MaildirName out;
  out.key = std::string(keyOf(base.substr(dot1 + 1, dot2 - dot1 - 1)));
  std::string_view rest = base.substr(dot2 + 1);
  size_t comma = rest.find(',');
  out.host = std::string(rest.substr(0, comma));
  // Dovecot's fields after the host: ",S=<size>,W=<virtual size>".
  while (comma != std::string_view::npos) {
    rest.remove_prefix(comma + 1);
    comma = rest.find(',');
    std::string_view field = rest.substr(0, comma);
    if (field.size() > 2 && field.substr(0, 2) == "S=" && allOf(field.substr(2), isDigit)) {
      auto [end, ec] = std::from_chars(field.data() + 2, field.data() + field.size(), out.size);
      out.has_size = ec == std::errc() && end == field.data() + field.size();
    }
  }
  return out;
}

Result<std::string> ensureMaildirFolder(const std::string& inbox, const std::string& folder,
                                        bool fsync) {
  std::string dir = inbox + "." + folder + "/";
  if (Status made = ensureMaildir(dir, fsync); !made) return made.error();
  std::string marker = dir + "maildirfolder";
  if (::access(marker.c_str(), F_OK) != 0) {
    int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return systemError("cannot create", marker, errno);
    ::close(fd);
  }
  // Dovecot's subscriptions file: one folder name per line, appended once. A reader that
  // misses a line only misses the subscription, never mail.
  std::string subscriptions = inbox + "subscriptions";
  std::string known;
  if (int fd = ::open(subscriptions.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    char buf[4096];
    ssize_t n;
    while (known.size() < (1 << 20) && (n = ::read(fd, buf, sizeof buf)) > 0) {
      known.append(buf, size_t(n));
    }
    ::close(fd);
  }
  bool listed = false;
  for (size_t at = 0; at < known.size();) {
    size_t end = known.find('\n', at);
    if (end == std::string::npos) end = known.size();
    if (std::string_view(known).substr(at, end - at) == folder) listed = true;
    at = end + 1;
  }
  if (!listed) {
    int fd = ::open(subscriptions.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return systemError("cannot open", subscriptions, errno);
    std::string line = folder + "\n";
    bool ok = ::write(fd, line.data(), line.size()) == ssize_t(line.size());
    ::close(fd);
    if (!ok) return systemError("cannot write", subscriptions, errno);
  }
  return dir;
}

void deliverMaildirBatch(std::vector<MaildirItem>& items, bool fsync, const std::string& hostname) {
  const std::string host = maildirHostName(hostname);
  std::set<std::string> ensured;  // Maildirs checked in this batch
  // new/ directory -> indexes of the items renamed into it.
  std::map<std::string, std::vector<size_t>> renamed_into;
  std::vector<std::pair<size_t, TmpFile>> open_files;  // item index -> its open tmp file
  std::map<std::string, FoundKeys> scanned;  // find_existing: each Maildir's keyed files

  for (size_t i = 0; i < items.size(); ++i) {
    MaildirItem& item = items[i];
    item.filename.clear();
    item.over_quota = false;
    item.existing = false;
    item.result = okStatus();
    if (item.maildir.empty() || item.maildir.front() != '/' || item.maildir.back() != '/') {
      // Router::maildirFor() never returns such a path: a caller bug, not worth a bounce.
      item.result = Error::temporary(
          fmt::format("maildir \"{}\" is not an absolute directory ending in '/'", item.maildir));
      continue;
    }
    if (ensured.count(item.maildir) == 0) {
      if (Status made = ensureMaildir(item.maildir, fsync); !made) {
        item.result = made.error();
        continue;
      }
      ensured.insert(item.maildir);
    }
    if (item.find_existing && !item.key.empty()) {
      auto found = findExisting(item.maildir, item.key, host, scanned);
      if (!found) {
        item.result = found.error();
        continue;
      }
      if (*found) {
        // Stored by an attempt the journal did not record: done, once its entry is durable.
        item.existing = true;
        item.filename = (*found)->path;
        item.size = (*found)->size;
        renamed_into[(*found)->dir].push_back(i);
        continue;
      }
    }
    Result<TmpFile> written = writeTmp(item, host);
    if (!written) {
      item.result = written.error();
      continue;
    }
    if (MaildirQuotaAccount* account = item.quota) {
      // Counted with the size as stored (LF line ends), as Dovecot counts ",S=".
      if (!quotaFits(account->limit, account->usage, written->size)) {
        ::close(written->fd);
        ::unlink(written->tmp_path.c_str());
        item.over_quota = true;
        item.result = Error::temporary("Mailbox full");
        continue;
      }
      account->usage.bytes += written->size;
      account->usage.messages += 1;
    }
    open_files.emplace_back(i, std::move(written.value()));
  }
  // All files are written before the first fsync: the file system commits them together, so
  // the fsyncs after the first find little left to do (one journal commit, not one each).
  for (auto& [i, tmp] : open_files) {
    Result<std::string> delivered = finishTmp(tmp, fsync);
    if (!delivered) {
      items[i].result = delivered.error();
      continue;
    }
    items[i].filename = std::move(delivered.value());
    items[i].size = tmp.size;
    renamed_into[items[i].maildir + (items[i].flags.empty() ? "new" : "cur")].push_back(i);
  }

  if (!fsync) {
    return;
  }
  for (const auto& [dir, indexes] : renamed_into) {
    Status synced = fsyncDirectory(dir);
    if (synced) {
      continue;
    }
    // The renames may not be durable; undo them so the queue's retry delivers exactly once.
    // A file found again stays: the retry finds it again.
    for (size_t i : indexes) {
      if (!items[i].existing) ::unlink(items[i].filename.c_str());
      items[i].filename.clear();
      items[i].result = synced.error();
    }
  }
}

}  // namespace petrel::delivery
