// Pickup: the local submission socket and the maildrop scan; see headers/petrel/server/pickup.h.
#include "petrel/server/pickup.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "petrel/core/strings.h"
#include "petrel/log/mail_log.h"

namespace petrel::server {

namespace {

constexpr uint64_t ConnectionTimeoutMs = 300 * 1000;
constexpr size_t RecordHeaderAllowance = 1024 * 1024;  // envelope lines before the content
constexpr size_t FilesPerScan = 200;

Status makeDirMode(const std::string& dir, mode_t mode) {
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return Error::config(fmt::format("cannot create {}: {}", dir, systemErrorText(errno)));
  }
  // The umask narrowed mkdir's mode; set it as documented (an existing directory too).
  if (::chmod(dir.c_str(), mode) != 0) {
    return Error::config(fmt::format("cannot chmod {}: {}", dir, systemErrorText(errno)));
  }
  return okStatus();
}

void syncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::string metaKey(const std::string& name) { return "pickup:" + name; }

// The journal work that queues one message, once: false in `inserted` when `name` (a maildrop
// file) was queued before.
Status insertOnce(queue::Db& db, const queue::StoredMessage& m, const std::string& name,
                  bool& inserted) {
  inserted = false;
  if (!name.empty()) {
    auto s = db.stmt("SELECT value FROM meta WHERE key = ?");
    if (!s) return s.error();
    (*s)->bind(1, metaKey(name));
    Result<bool> row = (*s)->step();
    (*s)->reset();
    if (!row) return row.error();
    if (*row) return okStatus();
  }
  if (auto st = MessageInjector::insert(db, m); !st) return st;
  if (!name.empty()) {
    auto s = db.stmt("INSERT INTO meta (key, value) VALUES (?, ?)");
    if (!s) return s.error();
    (*s)->bind(1, metaKey(name)).bind(2, m.id);
    if (auto st = (*s)->run(); !st) return st;
  }
  inserted = true;
  return okStatus();
}

}  // namespace

struct Pickup::Connection {
  uv_pipe_t pipe;
  uv_timer_t timer;
  int open = 2;
  bool reading_done = false;
  uint32_t uid = 0;
  bool have_uid = false;
  size_t max_bytes = 0;
  std::string in;
  Pickup* owner = nullptr;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&pipe); }
  void close() {
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&pipe))) return;
    *alive = false;
    auto done = [](uv_handle_t* h) {
      auto* c = static_cast<Connection*>(h->data);
      if (--c->open == 0) delete c;
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&pipe), done);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), done);
  }
  void respond(std::string text) {
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&pipe))) return;
    uv_read_stop(stream());
    struct Write {
      uv_write_t req;
      std::string data;
    };
    auto* w = new Write{{}, std::move(text)};
    w->req.data = this;
    uv_buf_t b = uv_buf_init(w->data.data(), unsigned(w->data.size()));
    int rc = uv_write(&w->req, stream(), &b, 1, [](uv_write_t* req, int) {
      auto* c = static_cast<Connection*>(req->data);
      delete reinterpret_cast<Write*>(req);
      c->close();
    });
    if (rc != 0) {
      delete w;
      close();
    }
  }
};

struct Pickup::Found {
  std::string name;
  std::string path;
  std::optional<Result<queue::StoredMessage>> message;  // unset: skipped (unreadable now)
  bool inserted = false;
};

Pickup::Pickup(uv_loop_t* loop, event::Dispatcher& main, Runtime& rt, MessageInjector injector)
    : loop_(loop), main_(&main), rt_(&rt), injector_(std::move(injector)) {}

Pickup::~Pickup() {
  *alive_ = false;
  close();
}

Status Pickup::start(const std::string& state_dir) {
  state_dir_ = state_dir;
  maildrop_ = state_dir + "/maildrop";
  // 1733: anyone may drop a file (and nobody else may list or remove it); Postfix's 1730
  // with a setgid postdrop is not ours to copy without a setgid helper (docs/sendmail.md).
  if (auto st = makeDirMode(maildrop_, 01733); !st) return st;
  if (auto st = makeDirMode(state_dir + "/maildrop-corrupt", 0700); !st) return st;
  std::string path = state_dir + "/submit.sock";
  ::unlink(path.c_str());
  listener_ = new uv_pipe_t;
  uv_pipe_init(loop_, listener_, 0);
  listener_->data = this;
  int rc = uv_pipe_bind(listener_, path.c_str());
  if (rc == 0) rc = ::chmod(path.c_str(), 0666) == 0 ? 0 : uv_translate_sys_error(errno);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 64, &onConnection);
  if (rc != 0) {
    close();
    return Error::config(fmt::format("local submission socket {}: {}", path, uv_strerror(rc)));
  }
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  uv_timer_start(
      timer_, [](uv_timer_t* t) { static_cast<Pickup*>(t->data)->scan(); }, ScanSeconds * 1000,
      ScanSeconds * 1000);
  scan();
  return okStatus();
}

void Pickup::close() {
  if (closed_) return;
  closed_ = true;
  if (listener_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(listener_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
    listener_ = nullptr;
    ::unlink((state_dir_ + "/submit.sock").c_str());
  }
  if (timer_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
}

void Pickup::onConnection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto* self = static_cast<Pickup*>(server->data);
  auto* c = new Connection;
  c->owner = self;
  c->max_bytes = self->rt_->snapshot().config->limits.message_size + RecordHeaderAllowance;
  uv_pipe_init(self->loop_, &c->pipe, 0);
  uv_timer_init(self->loop_, &c->timer);
  c->pipe.data = c;
  c->timer.data = c;
  if (uv_accept(server, c->stream()) != 0) return c->close();
  uv_os_fd_t fd;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&c->pipe), &fd) == 0 &&
      ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    c->uid = uint32_t(cred.uid);
    c->have_uid = true;
  }
  uv_timer_start(
      &c->timer, [](uv_timer_t* t) { static_cast<Connection*>(t->data)->close(); },
      ConnectionTimeoutMs, 0);
  uv_read_start(
      c->stream(),
      [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
        buf->base = new char[suggested];
        buf->len = suggested;
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        auto* c = static_cast<Connection*>(s->data);
        std::unique_ptr<char[]> owned(buf->base);
        if (c->reading_done) return;
        if (nread == UV_EOF) {
          c->reading_done = true;
          uv_read_stop(s);
          return c->owner->submit(c);
        }
        if (nread < 0) return c->close();
        c->in.append(buf->base, size_t(nread));
        if (c->in.size() > c->max_bytes) {
          c->reading_done = true;
          c->respond("error 5 message too big (limits.message_size)\n");
        }
      });
}

void Pickup::submit(Connection* c) {
  if (!c->have_uid) return c->respond("error 4 cannot tell who the peer is (SO_PEERCRED)\n");
  auto snap = std::make_shared<Snapshot>(rt_->snapshot());
  auto result = std::make_shared<std::optional<Result<queue::StoredMessage>>>();
  auto in = std::make_shared<std::string>(std::move(c->in));
  uint32_t uid = c->uid;
  std::weak_ptr<bool> conn_alive = c->alive;
  main_->offload(
      [snap, result, in, uid] {
        auto record = queue::parseMaildrop(*in, snap->config->limits.message_size);
        if (!record) {
          result->emplace(record.error());
          return;
        }
        result->emplace(composeLocalSubmission(std::move(*record), uid, *snap));
      },
      [this, c, conn_alive, result, uid] {
        auto gone = [conn_alive] { return conn_alive.expired() || !*conn_alive.lock(); };
        Result<queue::StoredMessage>& r = **result;
        if (!r) {
          log::mail::warning(log::Program::Cleanup,
                             fmt::format("local submission by uid {} refused: {}", uid,
                                         r.error().message()));
          if (!gone()) {
            c->respond(fmt::format("error {} {}\n", r.error().temporary() ? 4 : 5,
                                   r.error().message()));
          }
          return;
        }
        auto m = std::make_shared<queue::StoredMessage>(std::move(r.value()));
        auto inserted = std::make_shared<bool>(false);
        std::weak_ptr<bool> alive = alive_;
        rt_->journal->submit(
            [m, inserted](queue::Db& db) { return insertOnce(db, *m, "", *inserted); },
            [this, alive, c, conn_alive, m, gone](const Status& st) {
              main_->post([this, alive, c, m, st, gone] {
                if (st && !alive.expired()) injector_.committed(*m);
                if (gone()) return;
                c->respond(st ? fmt::format("ok {}\n", m->id)
                              : fmt::format("error 4 {}\n", st.error().message()));
              });
            });
      });
}

void Pickup::scan() {
  if (closed_) return;
  if (scanning_) {
    rescan_ = true;
    return;
  }
  scanning_ = true;
  auto snap = std::make_shared<Snapshot>(rt_->snapshot());
  auto found = std::make_shared<std::vector<Found>>();
  std::string dir = maildrop_;
  std::string corrupt = state_dir_ + "/maildrop-corrupt";
  std::weak_ptr<bool> alive = alive_;
  main_->offload(
      [snap, found, dir, corrupt] {
        DIR* d = ::opendir(dir.c_str());
        if (d == nullptr) return;
        std::vector<std::string> names;
        while (dirent* e = ::readdir(d)) {
          std::string name = e->d_name;
          if (queue::isMaildropName(name)) names.push_back(name);
        }
        ::closedir(d);
        std::sort(names.begin(), names.end());  // oldest first: names start with the time
        if (names.size() > FilesPerScan) names.resize(FilesPerScan);
        uint64_t limit = snap->config->limits.message_size;
        for (const std::string& name : names) {
          Found f{name, dir + "/" + name, std::nullopt, false};
          int fd = ::open(f.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
          struct stat st {};
          if (fd < 0 || ::fstat(fd, &st) != 0) {
            log::mail::warning(log::Program::Cleanup,
                               fmt::format("maildrop {}: {}", f.path, systemErrorText(errno)));
            if (fd >= 0) ::close(fd);
            continue;
          }
          std::string bytes;
          bool regular = S_ISREG(st.st_mode);
          if (regular && uint64_t(st.st_size) <= limit + RecordHeaderAllowance) {
            bytes.resize(size_t(st.st_size));
            size_t got = 0;
            while (got < bytes.size()) {
              ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
              if (n < 0 && errno == EINTR) continue;
              if (n <= 0) break;
              got += size_t(n);
            }
            bytes.resize(got);
          }
          ::close(fd);
          auto record = regular ? queue::parseMaildrop(bytes, limit)
                                : Result<queue::MaildropRecord>(
                                      Error::permanent("not a regular file"));
          if (record) {
            f.message.emplace(composeLocalSubmission(std::move(*record), st.st_uid, *snap));
          } else {
            f.message.emplace(record.error());
          }
          const Result<queue::StoredMessage>& m = *f.message;
          if (!m && !m.error().temporary()) {
            // Moved aside, never lost: the admin can read it and queue it again by hand.
            std::string to = corrupt + "/" + name;
            bool moved = ::rename(f.path.c_str(), to.c_str()) == 0;
            log::mail::warning(
                log::Program::Cleanup,
                fmt::format("maildrop file {} (uid {}): {}: {}", name, st.st_uid,
                            m.error().message(), moved ? "moved to " + to : "left in place"));
            continue;
          }
          if (!m) {
            log::mail::warning(log::Program::Cleanup,
                               fmt::format("maildrop file {}: {}; trying again later", name,
                                           m.error().message()));
            continue;
          }
          found->push_back(std::move(f));
        }
      },
      [this, alive, found] {
        if (alive.expired()) return;
        scanned(found);
      });
}

void Pickup::scanned(std::shared_ptr<std::vector<Found>> found) {
  scanning_ = false;
  for (Found& f : *found) queueFile(std::make_shared<Found>(std::move(f)));
  // A rescan may find files still being queued: insertOnce sees their names in the journal
  // (the requests run in order), so they are not queued twice.
  if (rescan_) {
    rescan_ = false;
    scan();
  }
}

void Pickup::queueFile(std::shared_ptr<Found> f) {
  std::weak_ptr<bool> alive = alive_;
  rt_->journal->submit(
      [f](queue::Db& db) { return insertOnce(db, f->message->value(), f->name, f->inserted); },
      [this, alive, f](const Status& st) {
        main_->post([this, alive, f, st] {
          if (alive.expired()) return;
          if (!st) {
            log::mail::warning(log::Program::Cleanup,
                               fmt::format("maildrop file {}: {}; trying again later", f->name,
                                           st.error().message()));
            return;
          }
          if (f->inserted) injector_.committed(f->message->value());
          // The file goes after the commit; its name in meta goes after the file.
          main_->offload(
              [f, dir = maildrop_] {
                ::unlink(f->path.c_str());
                syncDir(dir);
              },
              [this, alive, f] {
                if (alive.expired()) return;
                rt_->journal->submit(
                    [f](queue::Db& db) -> Status {
                      auto s = db.stmt("DELETE FROM meta WHERE key = ?");
                      if (!s) return s.error();
                      (*s)->bind(1, metaKey(f->name));
                      return (*s)->run();
                    },
                    [](const Status&) {}, /*urgent=*/false);
              });
        });
      });
}

}  // namespace petrel::server
