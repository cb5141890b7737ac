// PipeAgent: deliveries -> pipe runs -> reports; see server/pipe_agent.h.
//
// One run's state, on the main loop:
//   started --(stdin written, closed)--> feeding done
//           --(stdout+stderr EOF)------> output done
//           --(pidfd readable, reaped)-> exited
//   finished when exited and output done (or the timer killed the group: a grandchild that
//   keeps the output open does not hold the run), then every handle is closed and the run
//   frees itself in the last close callback.
// Why fork+execve and not uv_spawn: libuv's child keeps every fd the process has that lacks
// O_CLOEXEC (pipe(8) hands the program nothing but 0-2), and it cannot close them.
#include "petrel/server/pipe_agent.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

#include "petrel/core/strings.h"
#include "petrel/delivery/pipe_command.h"
#include "petrel/server/runtime.h"
#include "petrel/server/smtp_agent.h"

namespace petrel::server {

namespace {

using delivery::PipeExit;
using delivery::RecipientReport;

constexpr size_t MaxOutput = 4096;       // program output kept for the DSN and the log
constexpr size_t FeedChunk = 64 * 1024;  // message bytes converted per stdin write

// Every run of this process (main loop only), so stop() reaches runs of replaced agents.
class PipeRun;
std::set<PipeRun*>& liveRuns() {
  static std::set<PipeRun*> runs;
  return runs;
}
bool g_stopping = false;

// What a run needs, made before fork: the child calls nothing that allocates.
struct Command {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value"
  std::string directory;
  PipeAgent::Identity who;
};

[[noreturn]] void childExec(const Command& c, char* const* argv, char* const* envp, int in_fd,
                            int out_fd, int err_fd) {
  auto fail = [err_fd](int step) {
    int report[2] = {step, errno};
    (void)!write(err_fd, report, sizeof report);
    _exit(127);
  };
  if (setsid() < 0) fail(0);  // its own process group: the time limit kills all of it
  if (c.who.change) {
    gid_t gid = c.who.gid;
    if (setgroups(1, &gid) < 0 || setgid(gid) < 0) fail(1);
    if (setuid(c.who.uid) < 0) fail(2);
  }
  if (chdir(c.directory.c_str()) < 0) fail(3);
  if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0) fail(4);
  for (int fd = 0; fd <= 2; ++fd) fcntl(fd, F_SETFD, 0);
  // Nothing past stderr survives execve (err_fd goes with it: EOF tells the parent it ran).
  if (syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) < 0) {
    for (int fd = 3; fd < 4096; ++fd) {
      if (fd != err_fd) close(fd);
    }
  }
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);  // SIGPIPE was ignored
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(argv[0], argv, envp);
  fail(5);
  _exit(127);  // not reached: fail() exits
}

std::string stepText(int step) {
  switch (step) {
    case 0:
      return "setsid";
    case 1:
      return "setgid";
    case 2:
      return "setuid";
    case 3:
      return "chdir";
    case 4:
      return "dup2";
    default:
      return "execute";
  }
}

class PipeRun {
 public:
  using Finished = std::function<void(PipeExit, std::string output)>;

  PipeRun(uv_loop_t* loop, std::string flags, std::string head,
          std::shared_ptr<const std::string> content, uint64_t time_limit, Finished finished)
      : loop_(loop),
        writer_(flags),
        head_(std::move(head)),
        content_(std::move(content)),
        time_limit_(time_limit),
        finished_(std::move(finished)) {}

  // Starts the program; on failure returns the reason (nothing was started, `this` unused).
  Result<Unit> start(const Command& c) {
    std::vector<char*> argv, envp;
    for (const std::string& a : c.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const std::string& e : c.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) < 0) return sysError("pipe");
    if (pipe2(out, O_CLOEXEC) < 0) {
      closeAll({in[0], in[1]});
      return sysError("pipe");
    }
    if (pipe2(err, O_CLOEXEC) < 0) {
      closeAll({in[0], in[1], out[0], out[1]});
      return sysError("pipe");
    }
    pid_ = fork();
    if (pid_ == 0) childExec(c, argv.data(), envp.data(), in[0], out[1], err[1]);
    int fork_errno = errno;
    closeAll({in[0], out[1], err[1]});
    if (pid_ < 0) {
      closeAll({in[1], out[0], err[0]});
      errno = fork_errno;
      return sysError("fork");
    }
    // The child reaches execve in microseconds; EOF here means it did (libuv waits the same).
    int report[2] = {0, 0};
    ssize_t n;
    do {
      n = read(err[0], report, sizeof report);
    } while (n < 0 && errno == EINTR);
    close(err[0]);
    pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    if (n == sizeof report || pidfd_ < 0) {
      int e = n == sizeof report ? report[1] : errno;
      std::string what = n == sizeof report ? stepText(report[0]) : "pidfd_open";
      kill(pid_, SIGKILL);
      int status;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      if (pidfd_ >= 0) close(pidfd_);
      closeAll({in[1], out[0]});
      return Error::temporary(
          fmt::format("cannot {} \"{}\": {}", what, c.argv[0], systemErrorText(e)));
    }
    liveRuns().insert(this);
    uv_pipe_init(loop_, &stdin_, 0);
    uv_pipe_open(&stdin_, in[1]);
    uv_pipe_init(loop_, &output_, 0);
    uv_pipe_open(&output_, out[0]);
    uv_poll_init(loop_, &exit_, pidfd_);
    uv_timer_init(loop_, &timer_);
    for (uv_handle_t* h : handles()) h->data = this;
    open_handles_ = 4;
    uv_poll_start(&exit_, UV_READABLE,
                  [](uv_poll_t* h, int, int) { static_cast<PipeRun*>(h->data)->onExit(); });
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&output_),
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* self = static_cast<PipeRun*>(h->data);
          *buf = uv_buf_init(self->read_buf_, sizeof self->read_buf_);
        },
        [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
          static_cast<PipeRun*>(s->data)->onOutput(nread, buf);
        });
    uv_timer_start(
        &timer_, [](uv_timer_t* t) { static_cast<PipeRun*>(t->data)->onTimeLimit(); },
        time_limit_ * 1000, 0);
    feed();
    return okStatus();
  }

  // The queue stops: kill the group now; the run finishes as its process dies.
  void interrupt() {
    exit_state_.interrupted = true;
    killGroup();
  }

 private:
  static Error sysError(const char* what) {
    return Error::temporary(
        fmt::format("cannot run the command: {}: {}", what, systemErrorText(errno)));
  }
  static void closeAll(std::initializer_list<int> fds) {
    for (int fd : fds) close(fd);
  }
  std::array<uv_handle_t*, 4> handles() {
    return {reinterpret_cast<uv_handle_t*>(&stdin_), reinterpret_cast<uv_handle_t*>(&output_),
            reinterpret_cast<uv_handle_t*>(&exit_), reinterpret_cast<uv_handle_t*>(&timer_)};
  }

  void killGroup() {
    if (pid_ > 0 && !reaped_) {
      if (kill(-pid_, SIGKILL) < 0) kill(pid_, SIGKILL);
    }
  }

  // The next piece of stdin: the flags' header lines, then the message a chunk at a time.
  void feed() {
    if (stdin_closed_) return;
    chunk_.clear();
    if (!head_.empty()) {
      chunk_ = std::move(head_);
      head_.clear();
    }
    const std::string& content = *content_;
    if (fed_ < content.size()) {
      size_t n = std::min(FeedChunk, content.size() - fed_);
      writer_.add(std::string_view(content).substr(fed_, n), chunk_);
      fed_ += n;
    }
    if (fed_ >= content.size() && !finished_feed_) {
      writer_.finish(chunk_);
      finished_feed_ = true;
    }
    if (chunk_.empty()) {
      closeStdin();
      return;
    }
    write_req_.data = this;
    uv_buf_t buf = uv_buf_init(chunk_.data(), static_cast<unsigned>(chunk_.size()));
    int rc = uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&stdin_), &buf, 1,
                      [](uv_write_t* req, int status) {
                        auto* self = static_cast<PipeRun*>(req->data);
                        // A program that stops reading early (EPIPE) is judged by its exit
                        // status, as pipe(8) does.
                        if (status < 0) {
                          self->closeStdin();
                        } else {
                          self->feed();
                        }
                      });
    if (rc < 0) closeStdin();
  }

  void closeStdin() {
    if (stdin_closed_) return;
    stdin_closed_ = true;
    closeHandle(reinterpret_cast<uv_handle_t*>(&stdin_));
  }

  void onOutput(ssize_t nread, const uv_buf_t* buf) {
    if (nread > 0) {
      size_t room = MaxOutput - std::min(MaxOutput, output_text_.size());
      output_text_.append(buf->base, std::min(room, size_t(nread)));  // the rest is dropped
      return;
    }
    if (nread < 0) {  // EOF or an error: the output is over either way
      output_done_ = true;
      closeHandle(reinterpret_cast<uv_handle_t*>(&output_));
      maybeFinish();
    }
  }

  void onExit() {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) return;  // not yet (a spurious wakeup)
    reaped_ = true;
    uv_poll_stop(&exit_);
    if (r < 0) {
      // Reaped elsewhere (SIGCHLD ignored by someone): the status is lost; a signal-like
      // outcome defers, which never loses mail.
      exit_state_.exited = false;
      exit_state_.status = 0;
    } else {
      exit_state_.exited = WIFEXITED(status);
      exit_state_.status = WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status);
    }
    maybeFinish();
  }

  void onTimeLimit() {
    exit_state_.timed_out = true;
    killGroup();
    maybeFinish();
  }

  void maybeFinish() {
    bool output_over = output_done_ || exit_state_.timed_out || exit_state_.interrupted;
    if (!reaped_ || !output_over || finished_ == nullptr) return;
    liveRuns().erase(this);
    Finished finished = std::move(finished_);
    finished_ = nullptr;
    closeStdin();
    if (!output_done_) {
      output_done_ = true;
      closeHandle(reinterpret_cast<uv_handle_t*>(&output_));
    }
    uv_timer_stop(&timer_);
    closeHandle(reinterpret_cast<uv_handle_t*>(&timer_));
    closeHandle(reinterpret_cast<uv_handle_t*>(&exit_));
    finished(exit_state_, std::move(output_text_));
  }

  void closeHandle(uv_handle_t* h) {
    if (uv_is_closing(h)) return;
    uv_close(h, [](uv_handle_t* handle) {
      auto* self = static_cast<PipeRun*>(handle->data);
      if (--self->open_handles_ == 0) {
        if (self->pidfd_ >= 0) close(self->pidfd_);
        delete self;
      }
    });
  }

  uv_loop_t* loop_;
  delivery::PipeContentWriter writer_;
  std::string head_;
  std::shared_ptr<const std::string> content_;
  uint64_t time_limit_;
  Finished finished_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool reaped_ = false;
  uv_pipe_t stdin_{};
  uv_pipe_t output_{};
  uv_poll_t exit_{};
  uv_timer_t timer_{};
  uv_write_t write_req_{};
  int open_handles_ = 0;
  std::string chunk_;
  size_t fed_ = 0;
  bool finished_feed_ = false;
  bool stdin_closed_ = false;
  bool output_done_ = false;
  std::string output_text_;
  char read_buf_[4096];
  PipeExit exit_state_;
};

void reportAll(delivery::Delivery& d, RecipientReport::Status status, std::string dsn,
               std::string text, const std::string& relay) {
  RecipientReport r;
  r.status = status;
  r.dsn = std::move(dsn);
  r.text = std::move(text);
  r.relay = relay;
  d.reports.assign(d.recipients.size(), r);
}

// The log names pipe(8)'s program (petrel/pipe[pid]: ... relay=NAME), as pflogsumm reads it.
void logAsPipe(delivery::Delivery& d) {
  for (RecipientReport& r : d.reports) r.program = log::Program::Pipe;
}

// One delivery's runs, one after the other.
struct DeliveryRuns {
  delivery::Delivery* delivery = nullptr;
  std::vector<std::vector<size_t>> runs;  // positions in delivery->recipients
  size_t next = 0;
  std::vector<RecipientReport> reports;
};

}  // namespace

PipeAgent::PipeAgent(event::Dispatcher& main, std::string name,
                     config::PipeTransportSettings settings)
    : main_(&main),
      loop_(main.loop()),
      name_(std::move(name)),
      settings_(std::make_shared<config::PipeTransportSettings>(std::move(settings))) {}

Result<PipeAgent::Identity> PipeAgent::identity() const {
  std::lock_guard lock(mutex_);
  if (identity_) return *identity_;
  const config::PipeTransportSettings& s = *settings_;
  bool root = geteuid() == 0;
  if (root && s.user.empty()) {
    return Error::config(fmt::format(
        "transport {}: petrel runs as root and the pipe transport has no user:", name_));
  }
  std::vector<char> buf(16384);
  struct passwd pw {};
  struct passwd* found = nullptr;
  int rc = s.user.empty() ? getpwuid_r(geteuid(), &pw, buf.data(), buf.size(), &found)
                          : getpwnam_r(s.user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (found == nullptr) {
    return Error::config(fmt::format("transport {}: unknown user '{}'{}", name_,
                                     s.user.empty() ? std::to_string(geteuid()) : s.user,
                                     rc != 0 ? ": " + systemErrorText(rc) : ""));
  }
  Identity who;
  who.uid = pw.pw_uid;
  who.gid = pw.pw_gid;
  who.name = pw.pw_name;
  who.home = pw.pw_dir;
  who.shell = pw.pw_shell != nullptr && *pw.pw_shell != 0 ? pw.pw_shell : "/bin/sh";
  if (!s.group.empty()) {
    struct group gr {};
    struct group* g = nullptr;
    getgrnam_r(s.group.c_str(), &gr, buf.data(), buf.size(), &g);
    if (g == nullptr) {
      return Error::config(fmt::format("transport {}: unknown group '{}'", name_, s.group));
    }
    who.gid = g->gr_gid;
  }
  if (!s.user.empty() && (who.uid == 0 || who.gid == 0)) {
    return Error::config(
        fmt::format("transport {}: user {} has root privileges; the pipe "
                    "transport never runs a program as root",
                    name_, s.user));
  }
  if (root) {
    who.change = true;
  } else if (who.uid != geteuid()) {
    return Error::config(
        fmt::format("transport {}: cannot run as user {}: petrel does not run "
                    "as root",
                    name_, s.user));
  }
  identity_ = who;
  return who;
}

void PipeAgent::prepare(delivery::AgentMessage& message,
                        const std::vector<delivery::Delivery*>& deliveries) const {
  using S = RecipientReport::Status;
  if (auto who = identity(); !who) {
    // The admin's to fix; the mail waits (4.3.5, as for a transport without an agent).
    for (delivery::Delivery* d : deliveries) {
      reportAll(*d, S::Deferred, "4.3.5", who.error().message(), name_);
      logAsPipe(*d);
    }
    return;
  }
  loadAgentContent(message, deliveries);
  if (!message.content) {  // unreadable queue file: reported deferred (4.3.0)
    for (delivery::Delivery* d : deliveries) logAsPipe(*d);
    return;
  }
  if (settings_->size_limit > 0 && message.content->size() > settings_->size_limit) {
    for (delivery::Delivery* d : deliveries) {
      reportAll(*d, S::Bounced, "5.2.3", "message file too big", name_);
      logAsPipe(*d);
    }
  }
}

void PipeAgent::stop() {
  g_stopping = true;
  std::vector<PipeRun*> runs(liveRuns().begin(), liveRuns().end());
  for (PipeRun* r : runs) r->interrupt();
}

void PipeAgent::deliver(const std::vector<delivery::Delivery*>& deliveries, Done done) {
  struct State {
    std::vector<DeliveryRuns> pending;
    size_t open = 0;
    Done done;
    bool in_deliver = true;  // `done` never runs inside deliver() (STYLE: async callbacks)
  };
  auto state = std::make_shared<State>();
  state->done = std::move(done);
  for (delivery::Delivery* d : deliveries) {
    DeliveryRuns dr;
    dr.delivery = d;
    dr.runs = delivery::pipeRuns(d->recipients.size(), settings_->max_recipients);
    state->pending.push_back(std::move(dr));
  }
  state->open = state->pending.size();
  auto settings = settings_;
  std::string name = name_;
  uv_loop_t* loop = loop_;
  Identity who;
  if (auto w = identity()) who = *w;  // prepare() deferred the deliveries it could not run

  // Starts the next run of `dr`, or reports it when all ran; runs again from each finish.
  // Each run's finish holds `step`; step itself holds only a weak reference (no cycle).
  auto step = std::make_shared<std::function<void(DeliveryRuns&)>>();
  std::weak_ptr<std::function<void(DeliveryRuns&)>> weak_step = step;
  event::Dispatcher* main = main_;
  *step = [state, settings, name, loop, main, who, weak_step](DeliveryRuns& dr) {
    auto step = weak_step.lock();  // the caller holds it
    using S = RecipientReport::Status;
    delivery::Delivery& d = *dr.delivery;
    if (dr.next == dr.runs.size()) {
      d.reports = std::move(dr.reports);
      logAsPipe(d);
      if (--state->open == 0) {
        if (state->in_deliver) {
          main->post([state] { state->done(); });
        } else {
          state->done();
        }
      }
      return;
    }
    const std::vector<size_t>& run = dr.runs[dr.next++];
    const delivery::AgentMessage& am = *d.message;
    const queue::StoredMessage& m = *am.stored;
    std::vector<delivery::PipeRecipient> rcpts;
    for (size_t pos : run) {
      const queue::StoredRecipient& r = m.recipients[d.recipients[pos]];
      rcpts.push_back({r.address, r.orig_address});
    }
    auto reportRun = [&dr, &run, &name](S status, std::string dsn, std::string text) {
      for (size_t k = 0; k < run.size(); ++k) {
        RecipientReport rr;
        rr.status = status;
        rr.dsn = dsn;
        rr.text = text;
        rr.relay = name;
        dr.reports.push_back(std::move(rr));
      }
    };
    if (g_stopping) {
      reportRun(S::Deferred, "4.3.2", "delivery interrupted: mail system shutting down");
      (*step)(dr);
      return;
    }
    const std::string& content = *am.content;
    std::string_view header(content.data(), std::min(content.size(), content.find("\r\n\r\n")));
    if (settings->flags.find('D') != std::string::npos &&
        delivery::hasDeliveredTo(header, rcpts[0].address)) {
      reportRun(S::Bounced, "5.4.6", "mail forwarding loop for " + rcpts[0].address);
      (*step)(dr);
      return;
    }
    delivery::PipeMessageInfo info;
    info.sender = am.sender;
    info.nexthop = d.target.nexthop;
    info.size = content.size();
    info.client = m.client;
    info.helo = m.helo;
    info.protocol = m.protocol;
    info.queue_id = m.id;
    auto argv = delivery::expandPipeArgv(*settings, info, rcpts);
    if (!argv) {
      reportRun(S::Deferred, "4.3.5", argv.error().message());
      (*step)(dr);
      return;
    }
    Command c;
    c.argv = std::move(*argv);
    c.directory = settings->directory.empty() ? "/" : settings->directory;
    c.who = who;
    c.env = {"PATH=/usr/bin:/bin", "SHELL=" + who.shell, "HOME=" + who.home, "LOGNAME=" + who.name,
             "USER=" + who.name};
    for (const auto& [k, v] : settings->env) {
      // `env:` may replace a variable of the base set (PATH): getenv() takes the first one.
      std::string prefix = k + "=";
      std::erase_if(c.env, [&prefix](const std::string& e) { return e.starts_with(prefix); });
      c.env.push_back(prefix + v);
    }
    std::string head = delivery::pipeHeaderLines(settings->flags, am.sender, settings->null_sender,
                                                 rcpts, nowMicros() / 1000000);
    std::string command = c.argv[0];
    int64_t start_us = nowMicros();
    double in_queue = double(start_us - m.arrival_us) / 1e6;
    size_t count = run.size();
    auto* r = new PipeRun(
        loop, settings->flags, std::move(head), am.content, settings->time_limit,
        [&dr, step, name, command, count, in_queue, start_us](PipeExit exit, std::string output) {
          std::string shown = delivery::printablePipeOutput(output);
          delivery::PipeVerdict v = delivery::pipeVerdict(exit, shown, command);
          if (v.status == delivery::PipeVerdict::Status::Delivered) {
            v.text = shown.empty() ? fmt::format("delivered via {} service", name)
                                   : fmt::format("delivered via {} service ({})", name, shown);
          }
          log::Delays delays;
          delays.in_queue = in_queue;
          delays.transmission = double(nowMicros() - start_us) / 1e6;
          for (size_t k = 0; k < count; ++k) {
            RecipientReport rr;
            rr.status = v.status == delivery::PipeVerdict::Status::Delivered ? S::Delivered
                        : v.status == delivery::PipeVerdict::Status::Bounced ? S::Bounced
                                                                             : S::Deferred;
            rr.dsn = v.dsn;
            rr.text = v.text;
            rr.relay = name;
            rr.delays = delays;
            dr.reports.push_back(std::move(rr));
          }
          (*step)(dr);
        });
    if (auto started = r->start(c); !started) {
      delete r;
      reportRun(S::Deferred, "4.3.0", started.error().message());
      (*step)(dr);
    }
  };
  // Copy the list first: a delivery with nothing to run reports (and may end) inside step.
  std::vector<DeliveryRuns*> all;
  for (DeliveryRuns& dr : state->pending) all.push_back(&dr);
  if (all.empty()) {
    main_->post([state] { state->done(); });
    return;
  }
  for (DeliveryRuns* dr : all) (*step)(*dr);
  state->in_deliver = false;
}

}  // namespace petrel::server
