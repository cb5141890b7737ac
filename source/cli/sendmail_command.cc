// `sendmail` and friends: the command line (sendmail_options.h), the message work
// (sendmail_message.h), -bs (sendmail_smtp.h), and the hand-off: the maildrop record goes to
// the server's local submission socket <state_dir>/submit.sock, which answers after the
// journal commit; when the server cannot be reached (or answers a temporary error) the record
// is written durably into <state_dir>/maildrop/ for the server's pickup and the exit status
// is still 0, as Postfix's postdrop does. Exit statuses are sysexits.h's: 64 usage, 65 bad
// data, 69 refused for good (too big, a permanent error), 75 cannot queue now, 78 config.
#include "sendmail_command.h"

#include <fmt/format.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>

#include "petrel/core/strings.h"
#include "petrel/queue/maildrop.h"
#include "petrel/sieve/addresses.h"

#include "command_support.h"
#include "sendmail_message.h"
#include "sendmail_options.h"
#include "sendmail_smtp.h"

namespace petrel::cli {

namespace {

constexpr int ExUsage = 64;

// Postfix's myorigin: the domain of unqualified addresses ("root", the login name). The first
// of domains.local, so that they stay here; the hostname when there is none.
std::string origin(const config::Config& cfg) {
  return cfg.local_domains.empty() ? cfg.hostname : cfg.local_domains.front();
}
constexpr int ExDataErr = 65;
constexpr int ExUnavailable = 69;

struct Submitter {
  uid_t uid = 0;
  std::string login;
  std::string full_name;  // from the passwd entry's GECOS field
};

Submitter whoAmI() {
  Submitter s;
  s.uid = ::getuid();
  if (passwd* pw = ::getpwuid(s.uid)) {
    s.login = pw->pw_name;
    std::string gecos = pw->pw_gecos != nullptr ? pw->pw_gecos : "";
    s.full_name = gecos.substr(0, gecos.find(','));
  } else {
    s.login = fmt::format("uid{}", s.uid);
  }
  return s;
}

// The outcome of handing a record to the running server.
struct Handed {
  enum class Kind { Queued, Refused, Unreachable } kind = Kind::Unreachable;
  std::string text;  // queue id, or why
};

Handed handToServer(const std::string& socket_path, const std::string& record) {
  Handed h;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (fd < 0 || socket_path.size() >= sizeof addr.sun_path) {
    if (fd >= 0) ::close(fd);
    h.text = "socket path too long or no socket";
    return h;
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  timeval tv{300, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    h.text = fmt::format("{}: {}", socket_path, std::strerror(errno));
    ::close(fd);
    return h;
  }
  size_t done = 0;
  while (done < record.size()) {
    ssize_t n = ::send(fd, record.data() + done, record.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the server may have answered already (too big): read it
    done += size_t(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string answer;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buf, size_t(n));
  }
  ::close(fd);
  std::string line = answer.substr(0, answer.find('\n'));
  if (line.starts_with("ok ")) {
    h.kind = Handed::Kind::Queued;
    h.text = line.substr(3);
  } else if (line.starts_with("error 5 ")) {
    h.kind = Handed::Kind::Refused;
    h.text = line.substr(8);
  } else {
    // A temporary error, or no answer (the server went away): the maildrop keeps it. Should
    // the server have committed it before dying unanswered, it is queued twice; never lost.
    h.text = line.starts_with("error 4 ") ? line.substr(8) : "no answer from the server";
  }
  return h;
}

struct Submission {
  std::string sender;
  std::vector<std::string> recipients;
  std::string content;
  const SendmailOptions* options = nullptr;
};

// Hands the message over; the exit status. `queued` gets the queue id (or the maildrop name).
int submit(const config::Config& cfg, Submission&& s, std::string& queued) {
  queue::MaildropRecord r;
  r.sender = std::move(s.sender);
  r.recipients = std::move(s.recipients);
  r.notify = s.options->notify;
  r.ret = s.options->ret;
  r.envid = s.options->envid;
  r.body_type = s.options->body_type;
  r.content = std::move(s.content);
  Result<std::string> record = queue::formatMaildrop(r);
  if (!record) {
    fmt::print(stderr, "sendmail: fatal: {}\n", record.error().message());
    return ExDataErr;
  }
  Handed h = handToServer(cfg.state_dir + "/submit.sock", *record);
  if (h.kind == Handed::Kind::Queued) {
    queued = h.text;
    if (s.options->verbose) fmt::print(stderr, "sendmail: queued as {}\n", h.text);
    return 0;
  }
  if (h.kind == Handed::Kind::Refused) {
    fmt::print(stderr, "sendmail: fatal: {}\n", h.text);
    return ExUnavailable;
  }
  std::string dir = cfg.state_dir + "/maildrop";
  if (::mkdir(dir.c_str(), 01733) == 0) ::chmod(dir.c_str(), 01733);  // the server's mode
  Result<std::string> name = queue::writeMaildropFile(dir, *record);
  if (!name) {
    fmt::print(stderr, "sendmail: fatal: cannot queue the message ({}); and {}\n", h.text,
               name.error().message());
    return ExTempFail;
  }
  queued = "maildrop/" + *name;
  if (s.options->verbose) {
    fmt::print(stderr, "sendmail: server not reached ({}); left in {}/{}\n", h.text, dir, *name);
  }
  return 0;
}

// The addresses of a command-line operand ("a@x, b@y" is two, as Postfix reads it).
void addOperand(const std::string& operand, const std::string& origin,
                std::vector<std::string>& out) {
  for (const sieve::ParsedAddress& a : sieve::addressList(operand)) {
    if (!a.all.empty()) out.push_back(qualify(a.all, origin));
  }
}

PrepareContext prepareContext(const config::Config& cfg, const Submitter& me,
                              const std::string& sender, const SendmailOptions& o) {
  PrepareContext ctx;
  ctx.extract_recipients = o.extract_recipients;
  ctx.sender = sender;
  ctx.full_name = o.full_name ? *o.full_name : me.full_name;
  ctx.origin = origin(cfg);
  ctx.now = int64_t(time(nullptr));
  ctx.date = rfc5322Date(ctx.now);
  std::random_device rd;
  ctx.unique = fmt::format("{}.{:08X}", ::getpid(), rd());
  return ctx;
}

int deliver(const config::Config& cfg, const SendmailOptions& o) {
  Submitter me = whoAmI();
  std::string sender = o.sender ? qualify(*o.sender, origin(cfg))
                                : qualify(me.login, origin(cfg));
  uint64_t limit = cfg.limits.message_size;
  MessageInput input(o.ignore_dots);
  char* line = nullptr;
  size_t cap = 0;
  ssize_t n;
  bool too_big = false;
  while ((n = ::getline(&line, &cap, stdin)) > 0) {
    std::string_view l(line, size_t(n));
    if (l.back() == '\n') l.remove_suffix(1);
    if (!input.addLine(l)) break;
    if (input.size() > limit) {
      too_big = true;
      break;
    }
  }
  std::free(line);
  if (too_big) {
    fmt::print(stderr, "sendmail: fatal: message too big: more than {} octets "
                       "(limits.message_size)\n", limit);
    return ExUnavailable;
  }
  PreparedMessage prepared = prepareMessage(input.wire(), prepareContext(cfg, me, sender, o));
  std::vector<std::string> recipients;
  for (const std::string& operand : o.recipients) addOperand(operand, origin(cfg), recipients);
  for (std::string& r : prepared.recipients) recipients.push_back(std::move(r));
  if (recipients.empty()) {
    fmt::print(stderr, "sendmail: fatal: {}\n",
               o.extract_recipients
                   ? "no recipient addresses found in message header"
                   : "Recipient addresses must be specified on the command line or via the "
                     "-t option");
    return ExUsage;
  }
  if (prepared.content.size() > limit) {
    fmt::print(stderr, "sendmail: fatal: message too big: more than {} octets "
                       "(limits.message_size)\n", limit);
    return ExUnavailable;
  }
  std::string queued;
  return submit(cfg, {sender, std::move(recipients), std::move(prepared.content), &o}, queued);
}

// One message of -bs, submitted as `sendmail` would; the reply to its end of data.
std::string smtpMessage(const config::Config& cfg, const Submitter& me, const SendmailOptions& o,
                        LocalSmtpDialog::Message&& m) {
  SendmailOptions one = o;
  one.extract_recipients = false;
  PreparedMessage p = prepareMessage(m.content, prepareContext(cfg, me, m.sender, one));
  std::vector<std::string> rcpts;
  for (auto& r : m.recipients) rcpts.push_back(qualify(r, origin(cfg)));
  std::string queued;
  int rc = submit(cfg, {m.sender, std::move(rcpts), std::move(p.content), &one}, queued);
  if (rc == 0) return fmt::format("250 2.0.0 Ok: queued as {}\r\n", queued);
  if (rc == ExTempFail) return "451 4.3.0 Error: cannot queue now\r\n";
  return "554 5.3.0 Error: message refused\r\n";
}

int smtpOnStdio(const config::Config& cfg, const SendmailOptions& o) {
  Submitter me = whoAmI();
  LocalSmtpDialog dialog(cfg.hostname, cfg.limits.message_size,
                         [&](LocalSmtpDialog::Message&& m) {
                           return smtpMessage(cfg, me, o, std::move(m));
                         });
  auto put = [](const std::string& text) {
    fwrite(text.data(), 1, text.size(), stdout);
    fflush(stdout);
  };
  put(dialog.greeting());
  char* line = nullptr;
  size_t cap = 0;
  ssize_t n;
  while (!dialog.finished() && (n = ::getline(&line, &cap, stdin)) > 0) {
    std::string_view l(line, size_t(n));
    if (l.back() == '\n') l.remove_suffix(1);
    put(dialog.onLine(l));
  }
  std::free(line);
  return 0;
}

}  // namespace

int sendmailCommand(const std::string& program, const std::vector<std::string>& args,
                    const std::string& config_path) {
  SendmailParse parsed = parseSendmailArgs(args, program);
  if (!parsed.options) {
    fmt::print(stderr, "{}: fatal: {}\n", program, parsed.error);
    return ExUsage;
  }
  const SendmailOptions& o = *parsed.options;
  std::string path = !o.config_path.empty() ? o.config_path : config_path;
  if (path.empty()) {
    const char* env = std::getenv("PETREL_CONFIG");
    path = env != nullptr && *env != '\0' ? env : "/etc/petrel/petrel.yaml";
  }
  using Mode = SendmailOptions::Mode;
  switch (o.mode) {
    case Mode::Mailq:
      return control(path, "list");
    case Mode::Flush: {
      int rc = control(path, "pickup");
      return rc != 0 ? rc : control(path, "flush");
    }
    case Mode::Newaliases:
      // Alias tables are file tables the server rereads within a second of a change
      // (docs/lookup-tables.md): there is no database to rebuild.
      fmt::print(stderr, "newaliases: nothing to rebuild: petrel reads alias files itself\n");
      return 0;
    case Mode::Smtp:
    case Mode::Deliver:
      break;
  }
  auto cfg = loadOrReport(path);
  if (!cfg) return ExConfig;
  return o.mode == Mode::Smtp ? smtpOnStdio(*cfg, o) : deliver(*cfg, o);
}

}  // namespace petrel::cli
