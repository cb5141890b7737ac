// Mail log sinks and line formats; see mail_log.h.
#include "petrel/log/mail_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>

namespace petrel::log {

namespace {

struct Sinks {
  std::mutex mutex;
  LogSettings settings;
  int file_fd = -1;
  std::string host;
  pid_t pid = 0;
};

Sinks& sinks() {
  static Sinks s;
  return s;
}

std::atomic<MailEventObserver*> event_observer{nullptr};

void notify(const MailEvent& e) {
  if (auto* o = event_observer.load(std::memory_order_acquire)) o->onMailEvent(e);
}

const char* programName(Program p) {
  switch (p) {
    case Program::Master: return "master";
    case Program::Smtpd: return "smtpd";
    case Program::Qmgr: return "qmgr";
    case Program::Virtual: return "virtual";
    case Program::Smtp: return "smtp";
    case Program::Bounce: return "bounce";
    case Program::Cleanup: return "cleanup";
    case Program::Lmtp: return "lmtp";
    case Program::Pipe: return "pipe";
  }
  return "petrel";
}

void writeAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report a logging failure
    }
    off += size_t(n);
  }
}

std::string shortHost() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  std::string h(buf);
  if (auto dot = h.find('.'); dot != std::string::npos) h.resize(dot);
  return h.empty() ? "localhost" : h;
}

// Postfix style: two decimals below 10 s, whole seconds above, no trailing zeros.
std::string delayText(double v) {
  if (v < 0.005) return "0";
  std::string t = v < 10 ? fmt::format("{:.2f}", v) : fmt::format("{:.0f}", v);
  if (t.find('.') != std::string::npos) {
    while (t.back() == '0') t.pop_back();
    if (t.back() == '.') t.pop_back();
  }
  return t;
}

}  // namespace

void configure(const LogSettings& settings) {
  auto& s = sinks();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.settings = settings;
  s.host = shortHost();
  s.pid = getpid();
  if (s.file_fd >= 0) ::close(s.file_fd);
  s.file_fd = -1;
  if (settings.file) {
    s.file_fd = ::open(settings.file->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (s.file_fd < 0) {
      writeAll(2, fmt::format("petrel: cannot open log file {}: {}\n", *settings.file,
                              std::strerror(errno)));
    }
  }
}

void write(Program program, std::string_view text) {
  auto& s = sinks();
  time_t now = time(nullptr);
  struct tm tm;
  localtime_r(&now, &tm);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.host.empty()) {
    s.host = shortHost();
    s.pid = getpid();
  }
  std::string line = fmt::format("{} {} {}/{}[{}]: {}\n", stamp, s.host, s.settings.syslog_name,
                                 programName(program), s.pid, text);
  if (s.settings.to_stderr) writeAll(2, line);
  if (s.file_fd >= 0) writeAll(s.file_fd, line);
}

bool debugEnabled() { return sinks().settings.debug; }

void debug(std::string_view text) {
  if (debugEnabled()) write(Program::Master, fmt::format("debug: {}", text));
}

namespace mail {

void connect(std::string_view client) {
  write(Program::Smtpd, fmt::format("connect from {}", client));
}

void disconnect(std::string_view client, std::string_view stats) {
  write(Program::Smtpd, fmt::format("disconnect from {}{}{}", client, stats.empty() ? "" : " ",
                                    stats));
}

void client(std::string_view id, std::string_view client, std::string_view sasl_method,
            std::string_view sasl_username) {
  if (sasl_username.empty()) {
    write(Program::Smtpd, fmt::format("{}: client={}", id, client));
  } else {
    write(Program::Smtpd, fmt::format("{}: client={}, sasl_method={}, sasl_username={}", id,
                                      client, sasl_method, sasl_username));
  }
}

void queued(std::string_view id, std::string_view from, uint64_t size, size_t nrcpt,
            bool injected) {
  write(Program::Qmgr,
        fmt::format("{}: from=<{}>, size={}, nrcpt={} (queue active)", id, from, size, nrcpt));
  if (!injected) notify({.kind = MailEvent::Kind::Received, .id = id, .sender = from});
}

void delivery(Program program, std::string_view id, std::string_view to,
              std::string_view orig_to, std::string_view relay, double delay, const Delays& d, std::string_view dsn,
              std::string_view status, std::string_view text) {
  std::string orig = orig_to.empty() || orig_to == to ? std::string()
                                                      : fmt::format("orig_to=<{}>, ", orig_to);
  write(program,
        fmt::format("{}: to=<{}>, {}relay={}, delay={}, delays={}/{}/{}/{}, dsn={}, status={} ({})",
                    id, to, orig, relay, delayText(delay), delayText(d.before_queue),
                    delayText(d.in_queue), delayText(d.setup), delayText(d.transmission), dsn,
                    status, text));
  MailEvent e{.id = id, .address = to, .text = text, .relay = relay};
  e.kind = status == "sent"       ? (program == Program::Smtp ? MailEvent::Kind::Relayed
                                                              : MailEvent::Kind::Delivered)
           : status == "bounced" ? MailEvent::Kind::Bounced
                                 : MailEvent::Kind::Deferred;
  notify(e);
}

void removed(std::string_view id) { write(Program::Qmgr, fmt::format("{}: removed", id)); }

void bounceCreated(std::string_view id, std::string_view bounce_id) {
  write(Program::Bounce,
        fmt::format("{}: sender non-delivery notification: {}", id, bounce_id));
}

void delayNoticeCreated(std::string_view id, std::string_view notice_id) {
  write(Program::Bounce, fmt::format("{}: sender delay notification: {}", id, notice_id));
}

void generatedCreated(std::string_view id, std::string_view kind, std::string_view new_id) {
  write(Program::Virtual, fmt::format("{}: {}: {}", id, kind, new_id));
}

namespace {
// Postfix's log_whatsup names the sender only once MAIL gave one: a CONNECT or HELO line has
// no from= ("...; proto=SMTP"), a MAIL, RCPT or DATA line has it, <> included.
std::string refusalTail(std::string_view stage, std::string_view from, std::string_view to,
                        std::string_view proto, std::string_view helo) {
  std::string tail;
  if (stage != "CONNECT" && stage != "HELO" && stage != "EHLO") {
    tail = fmt::format("from=<{}> ", from);
  }
  if (!to.empty()) tail += fmt::format("to=<{}> ", to);
  tail += fmt::format("proto={}", proto);
  if (!helo.empty()) tail += fmt::format(" helo=<{}>", helo);
  return tail;
}
}  // namespace

void reject(std::string_view stage, std::string_view client, std::string_view reply,
            std::string_view from, std::string_view to, std::string_view proto,
            std::string_view helo) {
  write(Program::Smtpd, fmt::format("NOQUEUE: reject: {} from {}: {}; {}", stage, client, reply,
                                    refusalTail(stage, from, to, proto, helo)));
  notify({.kind = MailEvent::Kind::Rejected, .id = "NOQUEUE", .sender = from, .address = to,
          .client = client, .stage = stage, .text = reply});
}

void milterReject(std::string_view stage, std::string_view client, std::string_view reply,
                  std::string_view from, std::string_view to, std::string_view proto,
                  std::string_view helo) {
  write(Program::Smtpd, fmt::format("NOQUEUE: milter-reject: {} from {}: {}; {}", stage, client,
                                    reply, refusalTail(stage, from, to, proto, helo)));
  notify({.kind = MailEvent::Kind::Rejected, .id = "NOQUEUE", .sender = from, .address = to,
          .client = client, .stage = stage, .text = reply});
}

void rejectWarning(std::string_view stage, std::string_view client, std::string_view reply,
                   std::string_view from, std::string_view to, std::string_view proto,
                   std::string_view helo) {
  write(Program::Smtpd, fmt::format("NOQUEUE: reject_warning: {} from {}: {}; {}", stage, client,
                                    reply, refusalTail(stage, from, to, proto, helo)));
}

void policyNotice(std::string_view kind, std::string_view stage, std::string_view client,
                  std::string_view text, std::string_view from, std::string_view to,
                  std::string_view proto, std::string_view helo) {
  write(Program::Smtpd, fmt::format("NOQUEUE: {}: {} from {}: {}; {}", kind, stage, client, text,
                                    refusalTail(stage, from, to, proto, helo)));
}

void policyAction(std::string_view id, std::string_view action, std::string_view client,
                  std::string_view reason, std::string_view from, std::string_view proto,
                  std::string_view helo) {
  std::string tail = fmt::format("from=<{}> proto={}", from, proto);
  if (!helo.empty()) tail += fmt::format(" helo=<{}>", helo);
  write(Program::Smtpd, fmt::format("{}: {}: {}: {}; {}", id, action, client, reason, tail));
}

void dkimSignatureAdded(std::string_view id, std::string_view selector, std::string_view domain) {
  write(Program::Cleanup,
        fmt::format("{}: DKIM-Signature field added (s={}, d={})", id, selector, domain));
}

void arcSealAdded(std::string_view id, int instance, std::string_view cv,
                  std::string_view selector, std::string_view domain) {
  write(Program::Cleanup, fmt::format("{}: ARC-Seal field added (i={}, cv={}, s={}, d={})", id,
                                      instance, cv, selector, domain));
}

void contentCheck(std::string_view id, std::string_view action, std::string_view what,
                  std::string_view line, std::string_view client, std::string_view from,
                  std::string_view to, std::string_view proto, std::string_view helo,
                  std::string_view text) {
  // Postfix cleanup_act_log: the matched line, cut at 200 octets; it is the client's text, so
  // nothing in it may break the log line.
  std::string shown(line.substr(0, 200));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 32 || c == 127) c = ' ';
  }
  std::string out = fmt::format("{}: {}: {} {} from {}; from=<{}> to=<{}> proto={} helo=<{}>",
                                id, action, what, shown, client, from, to, proto, helo);
  if (!text.empty()) out += fmt::format(": {}", text);
  write(Program::Cleanup, out);
  if (action == "reject") {
    notify({.kind = MailEvent::Kind::Rejected, .id = id, .sender = from, .address = to,
            .client = client, .stage = "END-OF-MESSAGE", .text = text, .content = true});
  }
}

void milterAction(std::string_view id, std::string_view action, std::string_view stage,
                  std::string_view client, std::string_view text, std::string_view from,
                  std::string_view to, std::string_view proto, std::string_view helo) {
  write(Program::Cleanup, fmt::format("{}: {}: {} from {}: {}; {}", id, action, stage, client,
                                      text, refusalTail(stage, from, to, proto, helo)));
  if (action == "milter-reject") {
    notify({.kind = MailEvent::Kind::Rejected, .id = id, .sender = from, .address = to,
            .client = client, .stage = stage, .text = text, .content = true});
  }
}

void proxyAction(std::string_view action, std::string_view stage, std::string_view client,
                 std::string_view reply, std::string_view from, std::string_view to,
                 std::string_view proto, std::string_view helo) {
  write(Program::Smtpd, fmt::format("NOQUEUE: {}: {} from {}: {}; {}", action, stage, client,
                                    reply, refusalTail(stage, from, to, proto, helo)));
}

void warning(Program program, std::string_view text) {
  write(program, fmt::format("warning: {}", text));
}

void info(Program program, std::string_view text) { write(program, text); }

}  // namespace mail

void setMailEventObserver(MailEventObserver* observer) {
  event_observer.store(observer, std::memory_order_release);
}
}  // namespace petrel::log
