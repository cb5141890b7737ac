// Maildrop records and files; see headers/petrel/queue/maildrop.h.
#include "petrel/queue/maildrop.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <random>

#include "petrel/core/strings.h"

namespace petrel::queue {

namespace {

// Header lines are short; an address is at most 256 octets (RFC 5321 4.5.3.1.3), and 1000
// leaves room for a long ENVID.
constexpr size_t MaxLine = 1000;
constexpr size_t MaxRecipients = 10000;

bool cleanValue(std::string_view v) {
  return v.size() < MaxLine && !hasControlCharacter(v) && v.find('\x7f') == std::string::npos;
}

bool validNotify(std::string_view v) {
  if (v.empty()) return true;
  for (std::string_view word : split(v, ',')) {
    if (!iequals(word, "NEVER") && !iequals(word, "SUCCESS") && !iequals(word, "FAILURE") &&
        !iequals(word, "DELAY")) {
      return false;
    }
  }
  return true;
}

bool validRet(std::string_view v) { return v.empty() || iequals(v, "FULL") || iequals(v, "HDRS"); }

bool validBody(std::string_view v) {
  return v.empty() || iequals(v, "7BIT") || iequals(v, "8BITMIME");
}

bool validEnvid(std::string_view v) {
  for (char c : v) {
    if (c <= ' ' || c > '~') return false;  // RFC 3461 4.4: printable US-ASCII, no space
  }
  return v.size() <= 100;
}

Status checkFields(const MaildropRecord& r) {
  if (r.recipients.empty()) return Error::permanent("no recipients");
  if (r.recipients.size() > MaxRecipients) return Error::permanent("too many recipients");
  if (!cleanValue(r.sender)) return Error::permanent("bad sender address");
  for (const std::string& rcpt : r.recipients) {
    if (rcpt.empty() || !cleanValue(rcpt)) {
      return Error::permanent(fmt::format("bad recipient address '{}'", rcpt));
    }
  }
  if (!validNotify(r.notify)) return Error::permanent("bad DSN NOTIFY (-N): " + r.notify);
  if (!validRet(r.ret)) return Error::permanent("bad DSN RET (-R): " + r.ret);
  if (!validEnvid(r.envid)) return Error::permanent("bad DSN ENVID (-V)");
  if (!validBody(r.body_type)) return Error::permanent("bad body type (-B): " + r.body_type);
  return okStatus();
}

Status syncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error::temporary(fmt::format("{}: {}", dir, systemErrorText(errno)));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Error::temporary(fmt::format("fsync {}: {}", dir, systemErrorText(err)));
  return okStatus();
}

}  // namespace

Result<std::string> formatMaildrop(const MaildropRecord& r) {
  if (auto st = checkFields(r); !st) return st.error();
  std::string out(MaildropMagic);
  out += fmt::format("sender: {}\n", r.sender);
  for (const std::string& rcpt : r.recipients) out += fmt::format("recipient: {}\n", rcpt);
  if (!r.notify.empty()) out += fmt::format("notify: {}\n", r.notify);
  if (!r.ret.empty()) out += fmt::format("ret: {}\n", r.ret);
  if (!r.envid.empty()) out += fmt::format("envid: {}\n", r.envid);
  if (!r.body_type.empty()) out += fmt::format("body: {}\n", r.body_type);
  out += fmt::format("size: {}\n\n", r.content.size());
  out += r.content;
  return out;
}

Result<MaildropRecord> parseMaildrop(std::string_view bytes, uint64_t max_content) {
  if (!bytes.starts_with(MaildropMagic)) return Error::permanent("not a maildrop record");
  size_t pos = MaildropMagic.size();
  MaildropRecord r;
  bool have_sender = false;
  std::optional<uint64_t> size;
  for (;;) {
    size_t nl = bytes.find('\n', pos);
    if (nl == std::string_view::npos || nl - pos > MaxLine) {
      return Error::permanent("truncated record header");
    }
    std::string_view line = bytes.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) break;
    size_t colon = line.find(": ");
    if (colon == std::string_view::npos && line.ends_with(':')) colon = line.size() - 1;
    if (colon == std::string_view::npos) return Error::permanent("bad record line");
    std::string_view name = line.substr(0, colon);
    std::string value(line.substr(std::min(line.size(), colon + 2)));
    if (!cleanValue(value)) return Error::permanent(fmt::format("bad {} value", name));
    if (name == "sender" && !have_sender) {
      r.sender = std::move(value);
      have_sender = true;
    } else if (name == "recipient") {
      if (r.recipients.size() >= MaxRecipients) return Error::permanent("too many recipients");
      r.recipients.push_back(std::move(value));
    } else if (name == "notify" && r.notify.empty()) {
      r.notify = std::move(value);
    } else if (name == "ret" && r.ret.empty()) {
      r.ret = std::move(value);
    } else if (name == "envid" && r.envid.empty()) {
      r.envid = std::move(value);
    } else if (name == "body" && r.body_type.empty()) {
      r.body_type = std::move(value);
    } else if (name == "size" && !size) {
      size = parseUnsigned(value);
      if (!size) return Error::permanent("bad size");
    } else {
      return Error::permanent(fmt::format("unexpected record line '{}'", name));
    }
  }
  if (!have_sender) return Error::permanent("no sender line");
  if (!size) return Error::permanent("no size line");
  if (*size > max_content) {
    return Error::permanent(fmt::format("message too big ({} octets, limit {})", *size,
                                        max_content));
  }
  if (bytes.size() - pos != *size) {
    return Error::permanent(fmt::format("content is {} octets, the record says {}",
                                        bytes.size() - pos, *size));
  }
  r.content = std::string(bytes.substr(pos));
  if (auto st = checkFields(r); !st) return st.error();
  return r;
}

bool isMaildropName(std::string_view name) {
  return !name.empty() && name[0] != '.';
}

Result<std::string> writeMaildropFile(const std::string& dir, std::string_view bytes) {
  std::random_device rd;
  auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  std::string name = fmt::format("{}.{}.{:08x}", now, ::getpid(), rd());
  std::string tmp = fmt::format("{}/.tmp.{}", dir, name);
  auto fail = [&](const std::string& what) -> Error {
    int err = errno;
    ::unlink(tmp.c_str());
    return Error::temporary(fmt::format("{} {}: {}", what, tmp, systemErrorText(err)));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Error::temporary(fmt::format("cannot create {}: {}", tmp,
                                                  systemErrorText(errno)));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return fail("cannot write");
    }
    done += size_t(n);
  }
  // The umask may have narrowed the mode; the server must be able to read the file.
  if (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0) {
    ::close(fd);
    return fail("cannot sync");
  }
  if (::close(fd) != 0) return fail("cannot close");
  if (::rename(tmp.c_str(), (dir + "/" + name).c_str()) != 0) return fail("cannot rename");
  if (auto st = syncDir(dir); !st) return st.error();
  return name;
}

}  // namespace petrel::queue
