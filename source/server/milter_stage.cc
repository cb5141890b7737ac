// The milter content stage; see milter_stage.h.
//
// Per message:
//   onHeader    the header as the chain stores it (the earlier stages' fields on top): what
//               the first milter is shown; each next one sees it with the earlier milters'
//               changes (milter::HeaderModel), as in Postfix
//   onBody      the body is kept
//   onEndAsync  milter 1 .. n, one connection each: connect (milter_connect_timeout), then the
//               milter::Session's steps, each answer awaited with milter_command_timeout or
//               (body, end of message) milter_content_timeout -> the outcome -> the next
//               milter, or `done`
// One Conversation object per connection owns the libuv handles; it is freed in the close
// callback of its last handle. The stage going away (the client left) detaches it: no
// callback reaches the stage after that.
#include "petrel/server/milter_stage.h"

#include <fmt/format.h>

#include "petrel/log/mail_log.h"

namespace petrel::server {

namespace {

using config::Filters;

class MilterStage;

// One connection to one milter about one message.
struct Conversation {
  MilterStage* stage = nullptr;  // null once the stage is gone or the outcome was taken
  std::string name;              // "inet:127.0.0.1:8891"
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle;
  uv_timer_t timer;
  uv_connect_t connect_req;
  int open_handles = 0;
  bool closed = false;
  bool connected = false;
  std::optional<std::string> early_error;  // found before any callback could run
  std::vector<content::HeaderField> header;  // what this milter is shown
  std::unique_ptr<milter::Session> session;
  milter::PacketReader reader;
  uint64_t command_ms = 0;
  uint64_t content_ms = 0;
  uint64_t waiting_ms = 0;  // the timeout that runs now
  char read_buffer[16 * 1024];

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle); }
  void write(std::string bytes);
  void step(milter::Step st);
  void failed(std::string why);
  void close();
};

struct WriteRequest {
  uv_write_t req;
  std::string data;
};

class MilterStage final : public content::ContentStage {
 public:
  explicit MilterStage(MilterSetup setup) : setup_(std::move(setup)) {}
  ~MilterStage() override {
    if (current_ != nullptr) {
      current_->stage = nullptr;
      current_->close();
    }
  }

  void onHeader(const std::vector<content::HeaderField>& fields,
                content::HeaderEdits& edits) override {
    stored_ = fields;
    content::applyHeaderEdits(stored_, edits, "");
  }

  void onBody(std::string_view bytes) override { body_.append(bytes); }

  bool mayRefuse() const override { return true; }

  void onEndAsync(std::vector<content::Recipient>&, content::EndEdits& edits,
                  EndDone done) override {
    edits_ = &edits;
    done_ = std::move(done);
    next_ = 0;
    model_.emplace(stored_);
    runNext();
  }

  // The conversation is over (its session's outcome is final).
  void concluded(Conversation* c);

 private:
  void runNext();
  void answer(std::optional<smtp::Reply> refusal);
  void logVerdict(std::string_view action, const std::string& stage, const std::string& text);

  MilterSetup setup_;
  std::vector<content::HeaderField> stored_;
  std::string body_;
  std::optional<milter::HeaderModel> model_;  // the header as the milters so far changed it
  content::EndEdits* edits_ = nullptr;
  EndDone done_;
  size_t next_ = 0;
  Conversation* current_ = nullptr;
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

void Conversation::write(std::string bytes) {
  if (bytes.empty() || closed) return;
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
    MilterStage* s = stage;
    stage = nullptr;
    close();
    if (s != nullptr) s->concluded(this);
    return;
  }
  if (st.wait != milter::Wait::None) {
    waiting_ms = st.wait == milter::Wait::Content ? content_ms : command_ms;
    uv_timer_start(&timer, &onTimer, waiting_ms, 0);
  }
}

void Conversation::failed(std::string why) {
  if (closed) return;
  session->fail(std::move(why));
  MilterStage* s = stage;
  stage = nullptr;
  close();
  if (s != nullptr) s->concluded(this);
}

void Conversation::close() {
  if (closed) return;
  closed = true;
  uv_timer_stop(&timer);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), &onClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(stream()), &onClosed);
}

void MilterStage::runNext() {
  if (next_ == setup_.milters.size()) {
    model_->writeEdits(edits_->header);
    return answer(std::nullopt);
  }
  const config::MilterEndpoint& ep = setup_.milters[next_++];
  auto* c = new Conversation;
  c->stage = this;
  c->name = ep.text;
  c->command_ms = setup_.command_timeout_ms;
  c->content_ms = setup_.content_timeout_ms;
  c->header = model_->fields();
  c->session = std::make_unique<milter::Session>(setup_.facts, c->header, body_);
  c->open_handles = 2;
  uv_timer_init(setup_.loop, &c->timer);
  c->timer.data = c;
  c->connect_req.data = c;
  current_ = c;
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
    // Answered from the timer on the next turn, not inside onEndAsync.
    c->early_error = fmt::format("connect: {}", uv_strerror(rc));
    uv_timer_start(&c->timer, &onTimer, 0, 0);
  }
}

void MilterStage::logVerdict(std::string_view action, const std::string& stage,
                             const std::string& text) {
  std::string to = setup_.facts.recipients.empty() ? "" : setup_.facts.recipients[0].address;
  log::mail::milterAction(setup_.queue_id, action, stage.empty() ? "END-OF-MESSAGE" : stage,
                          setup_.client, text, setup_.facts.sender, to, setup_.proto,
                          setup_.facts.helo);
}

void MilterStage::concluded(Conversation* c) {
  current_ = nullptr;
  const milter::Outcome& o = c->session->outcome();
  using V = milter::Outcome::Verdict;
  std::vector<std::string> warnings = o.warnings;
  auto warn = [&] {
    for (const std::string& w : warnings) {
      log::mail::warning(log::Program::Cleanup,
                         fmt::format("{}: milter {}: {}", setup_.queue_id, c->name, loggable(w)));
    }
  };
  switch (o.verdict) {
    case V::Continue:
    case V::Accept:
      model_->apply(o, *edits_, warnings);
      warn();
      if (edits_->hold && edits_->hold->starts_with("milter triggers HOLD")) {
        logVerdict("milter-hold", o.stage, loggable(*edits_->hold));
        edits_->logged.hold = true;
      }
      return runNext();
    case V::Reject:
    case V::Tempfail: {
      warn();
      smtp::Reply reply = *o.reply;
      std::string text = reply.enhanced.empty() ? "" : reply.enhanced + " ";
      text += reply.lines.empty() ? "" : reply.lines[0];
      logVerdict("milter-reject", o.stage, loggable(text));
      edits_->logged.refusal = true;
      return answer(std::move(reply));
    }
    case V::Discard:
      warn();
      logVerdict("milter-discard", o.stage, "milter triggers DISCARD action");
      edits_->discard = "milter triggers DISCARD action";
      edits_->logged.discard = true;
      return answer(std::nullopt);
    case V::Failed:
      break;
  }
  // Postfix: "warning: milter inet:127.0.0.1:8891: ..." and milter_default_action.
  log::mail::warning(log::Program::Cleanup,
                     fmt::format("{}: milter {}: {}", setup_.queue_id, c->name,
                                 loggable(o.failure)));
  switch (setup_.default_action) {
    case Filters::MilterDefaultAction::Accept:
      return runNext();
    case Filters::MilterDefaultAction::Reject:
      logVerdict("milter-reject", o.stage, "5.7.1 Command rejected");
      edits_->logged.refusal = true;
      return answer(smtp::Reply(550, "5.7.1", "Command rejected"));
    case Filters::MilterDefaultAction::Tempfail:
      logVerdict("milter-reject", o.stage, "4.7.1 Service unavailable - try again later");
      edits_->logged.refusal = true;
      return answer(smtp::Reply(451, "4.7.1", "Service unavailable - try again later"));
  }
}

void MilterStage::answer(std::optional<smtp::Reply> refusal) {
  auto done = std::move(done_);
  done_ = nullptr;
  if (done) done(std::move(refusal));
}

}  // namespace

MilterSetup milterSetup(const MilterInputs& in, const smtp::Envelope& env) {
  const config::Config& cfg = *in.config;
  MilterSetup s;
  s.loop = in.loop;
  s.milters = in.listener ? config::listenerMilters(cfg, *in.listener) : cfg.filters.milters;
  s.default_action = cfg.filters.milter_default_action;
  s.connect_timeout_ms = cfg.filters.milter_connect_timeout * 1000;
  s.command_timeout_ms = cfg.filters.milter_command_timeout * 1000;
  s.content_timeout_ms = cfg.filters.milter_content_timeout * 1000;
  s.queue_id = in.queue_id;
  s.client = in.client_log;
  s.proto = in.client.protocol_name.empty() ? "SMTP" : in.client.protocol_name;
  milter::MessageFacts& f = s.facts;
  f.client_name = in.client.client_name;
  f.client_addr = in.client_addr;
  f.client_port = in.client.client_port;
  f.family = in.client_addr.find(':') != std::string::npos ? '6' : '4';
  f.helo = env.helo;
  f.sender = env.mail.sender.text;
  if (env.mail.size) f.sender_args.push_back(fmt::format("SIZE={}", *env.mail.size));
  if (!env.mail.body.empty()) f.sender_args.push_back("BODY=" + env.mail.body);
  if (env.mail.smtputf8) f.sender_args.push_back("SMTPUTF8");
  if (!env.mail.dsn_ret.empty()) f.sender_args.push_back("RET=" + env.mail.dsn_ret);
  for (const auto& r : env.recipients) {
    milter::MilterRecipient mr;
    mr.address = r.params.recipient.text;
    if (!r.params.dsn_notify.empty()) mr.args.push_back("NOTIFY=" + r.params.dsn_notify);
    if (!r.params.dsn_orcpt.empty()) mr.args.push_back("ORCPT=" + r.params.dsn_orcpt);
    f.recipients.push_back(std::move(mr));
  }
  // The values of Postfix's milter macros (MILTER_README "Macros"), those we know.
  auto& m = f.macros;
  m["j"] = cfg.hostname;
  m["{daemon_name}"] = in.listener ? in.listener->name : "";
  m["{daemon_addr}"] = in.client.server_address;
  m["{daemon_port}"] = in.client.server_port ? fmt::format("{}", in.client.server_port) : "";
  m["v"] = "Petrel";
  m["_"] = fmt::format("{} [{}]", in.client.client_name, in.client_addr);
  m["{client_addr}"] = in.client_addr;
  m["{client_name}"] = in.client.client_name;
  m["{client_ptr}"] = in.client.reverse_client_name;
  m["{client_port}"] = fmt::format("{}", in.client.client_port);
  m["{client_connections}"] = "";
  m["{tls_version}"] = in.client.tls_protocol;
  m["{cipher}"] = in.client.tls_cipher;
  m["{cipher_bits}"] = in.client.tls_keysize ? fmt::format("{}", in.client.tls_keysize) : "";
  m["i"] = in.queue_id;
  m["{auth_type}"] = in.client.sasl_method;
  m["{auth_authen}"] = in.auth_user;
  m["{mail_addr}"] = env.mail.sender.text;
  m["{mail_mailer}"] = "smtp";
  m["{rcpt_mailer}"] = "smtp";
  return s;
}

std::unique_ptr<content::ContentStage> milterStage(MilterSetup setup) {
  return std::make_unique<MilterStage>(std::move(setup));
}

}  // namespace petrel::server
