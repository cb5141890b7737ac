// ProxyFilter and its Link: the libuv side of the before-queue filter (proxy_filter.h). The
// protocol is smtp::ProxyClient's; this file connects, writes, reads, runs proxy_timeout and
// turns the client's steps into answers for the session driver.
#include "petrel/server/proxy_filter.h"

#include <fmt/format.h>

#include <optional>

#include "petrel/log/mail_log.h"
#include "petrel/smtp/client_session.h"

namespace petrel::server {

namespace {

// Backpressure: below this many unwritten octets the client is read from again.
constexpr size_t DrainedBelow = 64 * 1024;

struct WriteRequest {
  uv_write_t req;
  std::string data;
};

}  // namespace

// One connection to the filter. It frees itself when its two handles are closed; `owner` is
// cleared when the ProxyFilter lets go of it, so no callback reaches a freed ProxyFilter.
struct ProxyFilter::Link {
  ProxyFilter* owner = nullptr;
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle;
  uv_timer_t timer;
  uv_connect_t connect_req;
  int open_handles = 2;
  bool closed = false;
  bool connected = false;
  std::optional<std::string> early_error;  // found before any callback could run
  uint64_t timeout_ms = 0;
  smtp::ProxyClient client;
  smtp::DotStuffer stuffer;
  size_t backlog = 0;
  char read_buffer[16 * 1024];

  explicit Link(std::string ehlo) : client(std::move(ehlo)) {}
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle); }
  void step(smtp::ProxyClient::Step st);
  void write(std::string bytes);
  void armTimer();
  // `last`: a reply that came before the failure and answers the request in flight.
  void failed(std::string why, std::optional<smtp::Reply> last = std::nullopt);
  void close(bool quit);
};

namespace {

using Link = ProxyFilter::Link;

void onLinkClosed(uv_handle_t* h) {
  auto* l = static_cast<Link*>(h->data);
  if (--l->open_handles == 0) delete l;
}

void onLinkTimer(uv_timer_t* t) {
  auto* l = static_cast<Link*>(t->data);
  if (l->early_error) return l->failed(*l->early_error);
  if (!l->connected) return l->failed("connect timeout");
  l->failed(fmt::format("timeout after {}s", l->timeout_ms / 1000));
}

void onLinkAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* l = static_cast<Link*>(h->data);
  *buf = uv_buf_init(l->read_buffer, sizeof l->read_buffer);
}

void onLinkRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* l = static_cast<Link*>(s->data);
  if (l->closed || nread == 0) return;
  if (nread < 0) {
    return l->failed(nread == UV_EOF ? "lost connection" : uv_strerror(int(nread)));
  }
  l->step(l->client.onInput(std::string_view(buf->base, size_t(nread))));
}

void onLinkWrite(uv_write_t* req, int status) {
  auto* w = static_cast<WriteRequest*>(req->data);
  auto* l = static_cast<Link*>(req->handle->data);
  l->backlog -= w->data.size();
  delete w;
  if (l->closed) return;
  if (status < 0) return l->failed(fmt::format("write: {}", uv_strerror(status)));
  l->armTimer();
  if (l->backlog < DrainedBelow && l->owner != nullptr) l->owner->linkDrained();
}

void onLinkConnect(uv_connect_t* req, int status) {
  auto* l = static_cast<Link*>(req->data);
  if (l->closed) return;
  if (status < 0) return l->failed(fmt::format("connect: {}", uv_strerror(status)));
  l->connected = true;
  uv_read_start(l->stream(), &onLinkAlloc, &onLinkRead);
  l->armTimer();  // the greeting is due
}

// Opens a connection to `ep`; a failure that happens at once is reported from the timer on
// the next loop turn.
Link* openLink(uv_loop_t* loop, const config::ProxyFilter& settings, const std::string& ehlo,
               ProxyFilter* owner) {
  auto* l = new Link(ehlo);
  l->owner = owner;
  l->timeout_ms = settings.timeout * 1000;
  uv_timer_init(loop, &l->timer);
  l->timer.data = l;
  l->connect_req.data = l;
  uv_timer_start(&l->timer, &onLinkTimer, l->timeout_ms, 0);
  const config::MilterEndpoint& ep = settings.endpoint;
  int rc = 0;
  if (ep.kind == config::MilterEndpoint::Kind::Unix) {
    uv_pipe_init(loop, &l->handle.pipe, 0);
    l->handle.pipe.data = l;
    uv_pipe_connect(&l->connect_req, &l->handle.pipe, ep.path.c_str(), &onLinkConnect);
  } else {
    uv_tcp_init(loop, &l->handle.tcp);
    l->handle.tcp.data = l;
    sockaddr_storage addr{};
    rc = uv_ip4_addr(ep.host.c_str(), ep.port, reinterpret_cast<sockaddr_in*>(&addr));
    if (rc != 0) rc = uv_ip6_addr(ep.host.c_str(), ep.port, reinterpret_cast<sockaddr_in6*>(&addr));
    if (rc == 0) {
      rc = uv_tcp_connect(&l->connect_req, &l->handle.tcp, reinterpret_cast<sockaddr*>(&addr),
                          &onLinkConnect);
    }
  }
  if (rc != 0) {
    l->early_error = fmt::format("connect: {}", uv_strerror(rc));
    uv_timer_start(&l->timer, &onLinkTimer, 0, 0);
  }
  return l;
}

}  // namespace

void Link::step(smtp::ProxyClient::Step st) {
  write(std::move(st.send));
  if (closed) return;
  // A reply and then garbage (or a 421) in one read: the reply still answers its request.
  if (st.failure) return failed(*st.failure, std::move(st.answer));
  armTimer();
  if (st.answer && owner != nullptr) owner->linkAnswered(std::move(*st.answer));
}

void Link::write(std::string bytes) {
  if (bytes.empty() || closed) return;
  auto* w = new WriteRequest;
  w->req.data = w;
  w->data = std::move(bytes);
  backlog += w->data.size();
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  if (int rc = uv_write(&w->req, stream(), &buf, 1, &onLinkWrite); rc != 0) {
    backlog -= w->data.size();
    delete w;
    // Not inside the caller's call: the timer reports it on the next turn.
    early_error = fmt::format("write: {}", uv_strerror(rc));
    uv_timer_start(&timer, &onLinkTimer, 0, 0);
  }
}

// proxy_timeout runs while a reply is due or our writes wait for the filter to read them.
void Link::armTimer() {
  if (closed || early_error) return;
  if (!connected || client.waiting() || backlog > 0) {
    uv_timer_start(&timer, &onLinkTimer, timeout_ms, 0);
  } else {
    uv_timer_stop(&timer);
  }
}

void Link::failed(std::string why, std::optional<smtp::Reply> last) {
  if (closed) return;
  (void)client.fail(why);
  ProxyFilter* o = owner;
  owner = nullptr;
  close(false);
  if (o != nullptr) o->linkFailed(why, std::move(last));
}

void Link::close(bool quit) {
  if (closed) return;
  if (quit && connected) write(client.quit());  // best effort: the filter may see EOF only
  closed = true;
  owner = nullptr;
  uv_timer_stop(&timer);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), &onLinkClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(stream()), &onLinkClosed);
}

ProxyFilter::ProxyFilter(uv_loop_t* loop, config::ProxyFilter settings, std::string ehlo_name,
                         std::string client)
    : loop_(loop),
      settings_(std::move(settings)),
      ehlo_name_(std::move(ehlo_name)),
      client_(std::move(client)) {
  soon_ = new uv_timer_t;
  uv_timer_init(loop_, soon_);
  soon_->data = this;
}

ProxyFilter::~ProxyFilter() {
  if (link_ != nullptr) link_->close(true);
  link_ = nullptr;
  uv_timer_stop(soon_);
  uv_close(reinterpret_cast<uv_handle_t*>(soon_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

void ProxyFilter::ensureLink() {
  if (link_ != nullptr) return;
  link_ = openLink(loop_, settings_, ehlo_name_, this);
}

void ProxyFilter::detachLink() {
  if (link_ != nullptr) link_->close(false);
  link_ = nullptr;
}

void ProxyFilter::mail(std::vector<smtp::XforwardAttribute> xforward, std::string command,
                       Answer done) {
  pending_ = std::move(done);
  tx_failed_ = false;
  in_data_ = false;
  tx_open_ = true;
  last_ = smtp::ProxyClient::Request::Mail;
  ensureLink();
  link_->step(link_->client.mail(std::move(xforward), std::move(command)));
}

void ProxyFilter::rcpt(std::string command, Answer done) {
  pending_ = std::move(done);
  if (tx_failed_ || link_ == nullptr) return answerSoon(failureReply());
  last_ = smtp::ProxyClient::Request::Rcpt;
  link_->step(link_->client.rcpt(std::move(command)));
}

void ProxyFilter::data(Answer done) {
  pending_ = std::move(done);
  if (tx_failed_ || link_ == nullptr) return answerSoon(failureReply());
  last_ = smtp::ProxyClient::Request::Data;
  link_->step(link_->client.data());
}

void ProxyFilter::append(std::string_view content) {
  if (!in_data_ || link_ == nullptr) return;
  link_->write(link_->stuffer.feed(content));
}

void ProxyFilter::endOfData(Answer done) {
  pending_ = std::move(done);
  bool streaming = in_data_;
  in_data_ = false;
  if (tx_failed_ || link_ == nullptr || !streaming) return answerSoon(failureReply());
  last_ = smtp::ProxyClient::Request::EndOfData;
  link_->write(link_->stuffer.finish());
  link_->stuffer = smtp::DotStuffer();
  link_->step(link_->client.endOfData());
}

void ProxyFilter::abandonData() {
  if (in_data_ || last_ == smtp::ProxyClient::Request::EndOfData) detachLink();
  in_data_ = false;
  tx_open_ = false;
  pending_ = nullptr;
}

size_t ProxyFilter::backlog() const { return link_ != nullptr ? link_->backlog : 0; }

void ProxyFilter::linkAnswered(smtp::Reply reply) {
  answered(reply);
  deliver(std::move(reply));
}

// What an answer means for the transaction (before it is delivered).
void ProxyFilter::answered(const smtp::Reply& reply) {
  if (last_ == smtp::ProxyClient::Request::Data && reply.code == 354) {
    in_data_ = true;
    if (link_ != nullptr) link_->stuffer = smtp::DotStuffer();
  }
  if (last_ == smtp::ProxyClient::Request::EndOfData) tx_open_ = false;
  last_ = smtp::ProxyClient::Request::Mail;
}

void ProxyFilter::linkFailed(const std::string& why, std::optional<smtp::Reply> last) {
  link_ = nullptr;  // closed itself
  if (last) answered(*last);
  if ((pending_ && !last) || in_data_ || tx_open_) {
    // Postfix: "warning: timeout talking to proxy 127.0.0.1:10025"; the detail stays here.
    log::mail::warning(log::Program::Smtpd, fmt::format("{}: proxy filter {}: {}", client_,
                                                        settings_.endpoint.text, why));
    tx_failed_ = true;
  }
  in_data_ = false;
  if (last) {
    deliver(std::move(*last));
  } else if (pending_) {
    deliver(failureReply());
  }
}

void ProxyFilter::linkDrained() {
  if (drained_) drained_();
}

void ProxyFilter::answerSoon(smtp::Reply reply) {
  soon_replies_.push_back(std::move(reply));
  uv_timer_start(
      soon_,
      [](uv_timer_t* t) {
        auto* self = static_cast<ProxyFilter*>(t->data);
        std::vector<smtp::Reply> replies = std::move(self->soon_replies_);
        self->soon_replies_.clear();
        for (smtp::Reply& r : replies) self->deliver(std::move(r));
      },
      0, 0);
}

void ProxyFilter::deliver(smtp::Reply reply) {
  Answer done = std::move(pending_);
  pending_ = nullptr;
  if (done) done(std::move(reply));
}

}  // namespace petrel::server
