// The milters of one SMTP session; see milter_client.h.
//
// One Conversation object per milter connection owns the libuv handles; it is freed in the
// close callback of its last handle. The client going away (or close()) detaches it: it says
// SMFIC_QUIT, shuts the connection down once that is written, and no callback reaches the
// client after that.
#include "petrel/server/milter_client.h"

#include <fmt/format.h>

#include <memory>

#include "petrel/log/mail_log.h"

namespace petrel::server {

using config::Filters;

struct MilterClient::Conversation {
  MilterClient* client = nullptr;  // null once detached
  size_t index = 0;
  std::string name;  // "inet:127.0.0.1:8891"
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle;
  uv_timer_t timer;
  uv_connect_t connect_req;
  uv_shutdown_t shutdown_req;
  int open_handles = 0;
  bool closed = false;
  bool connected = false;
  std::optional<std::string> early_error;  // found before any callback could run
  std::unique_ptr<milter::Session> session;
  milter::PacketReader reader;
  uint64_t command_ms = 0;
  uint64_t content_ms = 0;
  uint64_t waiting_ms = 0;  // the timeout that runs now
  std::function<void(milter::Outcome)> done;  // the stage in flight
  char read_buffer[16 * 1024];

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle); }
  void write(std::string bytes);
  void step(milter::Step st);
  void failed(std::string why);
  void close(bool graceful);
};

namespace {

using Conversation = MilterClient::Conversation;

struct WriteRequest {
  uv_write_t req;
  std::string data;
};

std::string loggable(std::string_view text) {
  std::string out;
  for (char c : text) out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
  return out;
}

void onClosed(uv_handle_t* h) {
  auto* c = static_cast<Conversation*>(h->data);
  if (--c->open_handles == 0) delete c;
}

void onTimer(uv_timer_t* t) {
  auto* c = static_cast<Conversation*>(t->data);
  if (c->early_error) return c->failed(*c->early_error);
  if (!c->connected) return c->failed("connect timeout");
  uint64_t ms = c->waiting_ms;
  c->failed(ms % 1000 == 0 ? fmt::format("timeout after {}s", ms / 1000)
                           : fmt::format("timeout after {}ms", ms));
}

void onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Conversation*>(h->data);
  *buf = uv_buf_init(c->read_buffer, sizeof c->read_buffer);
}

void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Conversation*>(s->data);
  if (c->closed || nread == 0) return;
  if (nread < 0) return c->failed(nread == UV_EOF ? "lost connection" : uv_strerror(int(nread)));
  if (Status st = c->reader.feed(std::string_view(buf->base, size_t(nread))); !st) {
    return c->failed(st.error().message());
  }
  while (!c->closed) {
    auto p = c->reader.next();
    if (!p) break;
    c->step(c->session->onPacket(*p));
  }
}

void onWrite(uv_write_t* req, int status) {
  auto* w = static_cast<WriteRequest*>(req->data);
  auto* c = static_cast<Conversation*>(req->handle->data);
  delete w;
  if (status < 0 && !c->closed) c->failed(uv_strerror(status));
}

void onConnect(uv_connect_t* req, int status) {
  auto* c = static_cast<Conversation*>(req->data);
  if (c->closed) return;
  if (status < 0) return c->failed(fmt::format("connect: {}", uv_strerror(status)));
  c->connected = true;
  uv_read_start(c->stream(), &onAlloc, &onRead);
  c->step(c->session->start());
}

}  // namespace

void Conversation::write(std::string bytes) {
  if (bytes.empty() || closed || !connected) return;
  auto* w = new WriteRequest;
  w->req.data = w;
  w->data = std::move(bytes);
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  if (int rc = uv_write(&w->req, stream(), &buf, 1, &onWrite); rc != 0) {
    delete w;
    failed(uv_strerror(rc));
  }
}

void Conversation::step(milter::Step st) {
  write(std::move(st.send));
  if (closed) return;
  if (st.done) {
    // The conversation is over: a protocol failure (abort and quit are written), or quit.
    close(true);
    if (client != nullptr) client->detach(this);
    return;
  }
  if (st.wait == milter::Wait::None) {
    uv_timer_stop(&timer);
    if (client != nullptr) client->answered(this);
    return;
  }
  waiting_ms = st.wait == milter::Wait::Content ? content_ms : command_ms;
  uv_timer_start(&timer, &onTimer, waiting_ms, 0);
}

void Conversation::failed(std::string why) {
  if (closed) return;
  session->fail(std::move(why));
  close(false);
  if (client != nullptr) client->detach(this);
}

void Conversation::close(bool graceful) {
  if (closed) return;
  closed = true;
  uv_timer_stop(&timer);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), &onClosed);
  if (connected) uv_read_stop(stream());
  // Once what is written (SMFIC_QUIT) has gone out.
  if (graceful && connected) {
    shutdown_req.data = this;
    int rc = uv_shutdown(&shutdown_req, stream(), [](uv_shutdown_t* req, int) {
      auto* c = static_cast<Conversation*>(req->data);
      uv_close(reinterpret_cast<uv_handle_t*>(c->stream()), &onClosed);
    });
    if (rc == 0) return;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(stream()), &onClosed);
}

MilterClientSetup milterClientSetup(uv_loop_t* loop, const config::Config& cfg,
                                    const config::Listener* listener) {
  MilterClientSetup s;
  s.loop = loop;
  s.milters = listener ? config::listenerMilters(cfg, *listener) : cfg.filters.milters;
  s.default_action = cfg.filters.milter_default_action;
  s.connect_timeout_ms = cfg.filters.milter_connect_timeout * 1000;
  s.command_timeout_ms = cfg.filters.milter_command_timeout * 1000;
  s.content_timeout_ms = cfg.filters.milter_content_timeout * 1000;
  return s;
}

MilterClient::MilterClient(MilterClientSetup setup)
    : setup_(std::move(setup)),
      conversations_(setup_.milters.size(), nullptr),
      failed_(setup_.milters.size(), false) {
  defer_ = new uv_timer_t;
  uv_timer_init(setup_.loop, defer_);
  defer_->data = this;
}

MilterClient::~MilterClient() {
  close();
  uv_close(reinterpret_cast<uv_handle_t*>(defer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

void MilterClient::close() {
  if (closed_) return;
  closed_ = true;
  deferred_.clear();
  uv_timer_stop(defer_);
  for (Conversation*& c : conversations_) {
    if (c == nullptr) continue;
    Conversation* gone = c;
    c = nullptr;
    gone->client = nullptr;
    gone->done = nullptr;
    if (gone->connected) {
      gone->step(gone->session->quit());
    } else {
      gone->close(false);
    }
  }
}

void MilterClient::abandon(size_t i) {
  Conversation* c = conversations_[i];
  if (c == nullptr) return;
  conversations_[i] = nullptr;
  failed_[i] = true;
  c->client = nullptr;
  c->done = nullptr;
  c->close(false);
}

void MilterClient::later(std::function<void()> fn) {
  deferred_.push_back(std::move(fn));
  uv_timer_start(
      defer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<MilterClient*>(t->data);
        std::vector<std::function<void()>> now;
        now.swap(self->deferred_);
        for (auto& f : now) {
          if (self->closed_) return;
          f();
        }
      },
      0, 0);
}

void MilterClient::open(size_t i) {
  const config::MilterEndpoint& ep = setup_.milters[i];
  auto* c = new Conversation;
  c->client = this;
  c->index = i;
  c->name = ep.text;
  c->command_ms = setup_.command_timeout_ms;
  c->content_ms = setup_.content_timeout_ms;
  c->session = std::make_unique<milter::Session>(facts_);
  c->open_handles = 2;
  uv_timer_init(setup_.loop, &c->timer);
  c->timer.data = c;
  c->connect_req.data = c;
  conversations_[i] = c;
  uv_timer_start(&c->timer, &onTimer, setup_.connect_timeout_ms, 0);
  int rc = 0;
  if (ep.kind == config::MilterEndpoint::Kind::Unix) {
    uv_pipe_init(setup_.loop, &c->handle.pipe, 0);
    c->handle.pipe.data = c;
    uv_pipe_connect(&c->connect_req, &c->handle.pipe, ep.path.c_str(), &onConnect);
  } else {
    uv_tcp_init(setup_.loop, &c->handle.tcp);
    c->handle.tcp.data = c;
    sockaddr_storage addr{};
    rc = uv_ip4_addr(ep.host.c_str(), ep.port, reinterpret_cast<sockaddr_in*>(&addr));
    if (rc != 0) {
      rc = uv_ip6_addr(ep.host.c_str(), ep.port, reinterpret_cast<sockaddr_in6*>(&addr));
    }
    if (rc == 0) {
      rc = uv_tcp_connect(&c->connect_req, &c->handle.tcp, reinterpret_cast<sockaddr*>(&addr),
                          &onConnect);
    }
  }
  if (rc != 0) {
    // Answered from the timer on the next turn, not inside the call.
    c->early_error = fmt::format("connect: {}", uv_strerror(rc));
    uv_timer_start(&c->timer, &onTimer, 0, 0);
  }
}

void MilterClient::answered(Conversation* c) {
  auto done = std::move(c->done);
  c->done = nullptr;
  if (!done) return;
  milter::Outcome o = c->session->outcome();
  if (in_call_) {
    later([done = std::move(done), o = std::move(o)] { done(o); });
  } else {
    done(std::move(o));
  }
}

void MilterClient::detach(Conversation* c) {
  conversations_[c->index] = nullptr;
  const bool pending = static_cast<bool>(c->done);
  if (pending) answered(c);
  c->client = nullptr;
  // Failed between stages: the next stage gets the default action.
  if (!pending) markFailed(c->index, c->session->outcome().failure, "");
}

bool MilterClient::idleForMessage(size_t i) const {
  return failed_[i] || conversations_[i] == nullptr ||
         conversations_[i]->session->idleForMessage();
}

bool MilterClient::wantsRejectedRecipients() const {
  for (size_t i = 0; i < conversations_.size(); ++i) {
    if (!idleForMessage(i) && conversations_[i]->session->wantsRejectedRecipients()) return true;
  }
  return false;
}

void MilterClient::markFailed(size_t i, const std::string& why, const std::string& queue_id) {
  if (failed_[i]) return;
  failed_[i] = true;
  // Postfix: "warning: milter inet:127.0.0.1:8891: ..." and milter_default_action.
  std::string id = queue_id.empty() ? "" : queue_id + ": ";
  log::mail::warning(queue_id.empty() ? log::Program::Smtpd : log::Program::Cleanup,
                     fmt::format("{}milter {}: {}", id, name(i), loggable(why)));
}

std::optional<smtp::Reply> MilterClient::defaultReply() const {
  switch (setup_.default_action) {
    case Filters::MilterDefaultAction::Accept: return std::nullopt;
    case Filters::MilterDefaultAction::Reject: return smtp::Reply(550, "5.7.1", "Command rejected");
    case Filters::MilterDefaultAction::Tempfail:
      return smtp::Reply(451, "4.7.1", "Service unavailable - try again later");
  }
  return std::nullopt;
}

void MilterClient::run(size_t i, std::function<milter::Step(milter::Session&)> begin,
                       std::function<void(milter::Outcome)> done) {
  Conversation* c = conversations_[i];
  if (closed_ || c == nullptr || failed_[i]) {
    milter::Outcome o;
    o.verdict = milter::Outcome::Verdict::Failed;
    o.failure = "not connected";
    later([done = std::move(done), o = std::move(o)] { done(o); });
    return;
  }
  c->done = std::move(done);
  bool outer = in_call_;
  in_call_ = true;
  if (c->connected) c->step(begin(*c->session));
  in_call_ = outer;
}

struct StageRun {
  smtp::Stage stage = smtp::Stage::Connect;
  std::optional<milter::MilterRecipient> rcpt;
  bool rejected = false;
  size_t next = 0;
  std::function<void(MilterAnswer)> done;
};

void MilterClient::stage(smtp::Stage stage, const milter::MilterRecipient* rcpt, bool rejected,
                         std::function<void(MilterAnswer)> done) {
  auto r = std::make_shared<StageRun>();
  r->stage = stage;
  if (rcpt != nullptr) r->rcpt = *rcpt;
  r->rejected = rejected;
  r->done = std::move(done);
  if (stage == smtp::Stage::Mail) discarded_.reset();
  bool outer = in_call_;
  in_call_ = true;
  nextMilter(std::move(r));
  in_call_ = outer;
}

void MilterClient::nextMilter(std::shared_ptr<StageRun> r) {
  auto finish = [this, r](MilterAnswer a) {
    auto done = std::move(r->done);
    if (in_call_) {
      later([done = std::move(done), a = std::move(a)] { done(a); });
    } else {
      done(std::move(a));
    }
  };
  using smtp::Stage;
  while (r->next < size()) {
    const size_t i = r->next++;
    if (failed_[i]) {
      if (r->rejected) continue;
      auto d = defaultReply();
      if (!d) continue;
      return finish(MilterAnswer{MilterAnswer::Kind::Refuse, *d, name(i)});
    }
    const bool message_stage = r->stage == Stage::Mail || r->stage == Stage::Rcpt ||
                               r->stage == Stage::Data;
    if (r->stage != Stage::Mail && message_stage && idleForMessage(i)) continue;
    auto handle = [this, r, i, finish](milter::Outcome o) {
      using V = milter::Outcome::Verdict;
      if (closed_) return;
      for (const std::string& w : o.warnings) {
        log::mail::warning(log::Program::Smtpd,
                           fmt::format("milter {}: {}", name(i), loggable(w)));
      }
      if (o.verdict == V::Failed) {
        markFailed(i, o.failure, "");
        auto d = defaultReply();
        if (r->rejected || !d) return nextMilter(r);
        return finish(MilterAnswer{MilterAnswer::Kind::Refuse, *d, name(i)});
      }
      if (r->rejected) return nextMilter(r);
      switch (o.verdict) {
        case V::Reject:
        case V::Tempfail:
          return finish(MilterAnswer{MilterAnswer::Kind::Refuse, *o.reply, name(i)});
        case V::Discard:
          discarded_ = o.stage;
          return finish(MilterAnswer{MilterAnswer::Kind::Discard, {}, name(i)});
        default:
          return nextMilter(r);
      }
    };
    if (r->stage == Stage::Connect) {
      if (conversations_[i] == nullptr) open(i);
      conversations_[i]->done = std::move(handle);
      return;
    }
    std::function<milter::Step(milter::Session&)> begin;
    switch (r->stage) {
      case Stage::Helo: begin = [](milter::Session& s) { return s.helo(); }; break;
      case Stage::Mail: begin = [](milter::Session& s) { return s.mail(); }; break;
      case Stage::Rcpt:
        begin = [r](milter::Session& s) { return s.rcpt(*r->rcpt, r->rejected); };
        break;
      default: begin = [](milter::Session& s) { return s.data(); }; break;
    }
    return run(i, std::move(begin), std::move(handle));
  }
  finish(MilterAnswer{});
}

}  // namespace petrel::server
