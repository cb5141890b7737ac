// SmtpConnection: drives one smtp::ServerSession over one accepted TCP connection.
//
// It is the only place where SMTP actions become libuv calls: replies are coalesced into one
// write per input batch, recipient checks go to the router, bodies to a MessageStore, commits
// to the journal, refusals to the mail log. The connection frees itself once its handles are
// closed and no asynchronous work (a commit) still points at it.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "petrel/content/chain.h"
#include "petrel/policy/check.h"
#include "petrel/server/client_name.h"
#include "petrel/server/content_stages.h"
#include "petrel/server/message_store.h"
#include "petrel/server/milter_client.h"
#include "petrel/server/proxy_filter.h"
#include "petrel/server/stage_check.h"
#include "petrel/server/runtime.h"
#include "petrel/server/tls_stream.h"
#include "petrel/smtp/server_session.h"

namespace petrel::server {

class Worker;

class SmtpConnection {
 public:
  // Takes over `client` (already accepted, initialised on the worker's loop), which arrived on
  // the listener named `listener`.
  SmtpConnection(Worker& worker, Runtime& runtime, uv_tcp_t* client, const std::string& listener);
  void start();
  void shutdown();  // drain: 421 at the next command boundary

 private:
  ~SmtpConnection();
  void named(ClientName name);
  void greet();
  void run(smtp::Actions actions);
  std::optional<smtp::Verdict> askVerdict(const smtp::AskVerdict& ask);
  void finishContent(const smtp::Envelope& env, std::function<void()> then);
  void abandonContent();
  void keepActions(smtp::Stage stage, const std::string& address, StageVerdict& v);
  void onRead(ssize_t nread, const uv_buf_t* buf);
  void flushWrites();
  void written();
  void writeFailed();
  void onCiphertext(std::string_view bytes);
  void startTls();
  void authenticate(smtp::Authenticate request);
  bool rateExempt() const;
  std::optional<smtp::Reply> rateLimit(smtp::ClientEvent event);
  bool newTlsSessionOverLimit();
  void after(uint64_t ms, std::function<void()> fn);
  void closeNow();
  void maybeDestroy();
  void armTimer();
  void updateReading();
  void startMessage();
  void commit(smtp::Envelope envelope);
  void commitFinished(smtp::Envelope envelope);
  void committed(const Status& st, const std::string& id);
  std::string receivedHeader(const smtp::Envelope& env) const;
  HeaderChecksSetup headerChecksSetup() const;
  std::string contentFilter(const std::optional<policy::PolicyAction>& access,
                            const std::optional<std::string>& check) const;
  std::optional<AuthenticationSettings> authenticationSettings(
      std::vector<std::string> results) const;
  std::string protocol() const;
  policy::ClientFacts clientFacts() const;
  // The before-queue filter (smtp_connection_proxy.cc).
  void openProxy();
  std::vector<smtp::XforwardAttribute> xforwardAttributes() const;
  bool relayToProxy(smtp::Stage stage, const smtp::Verdict& ours);
  // The milters (smtp_connection_milter.cc).
  void openMilters(smtp::SessionSettings& settings);
  void updateMilterFacts(const smtp::Envelope& env, const std::string& queue_id);
  bool relayToMilters(smtp::Stage stage, const std::string& address, const smtp::Verdict& ours);
  void relayCommit(const smtp::Envelope& env);

  Worker* worker_;
  Runtime* rt_;
  Snapshot snap_;
  uv_tcp_t* tcp_;
  uv_timer_t* timer_;
  int open_handles_ = 0;
  int pending_ops_ = 0;  // async work that will call back into this object
  bool closing_ = false;
  bool reading_ = false;
  bool counted_ = false;  // holds a ConnectionLimiter slot
  bool rate_exempt_ = false;  // in limits.rate.exceptions (relay.mynetworks by default)
  // The content stage that refused the message logged it itself (EndEdits::Logged): the
  // session's END-OF-MESSAGE Rejected gets no second line.
  bool end_refusal_logged_ = false;
  std::string out_;
  std::unique_ptr<smtp::ServerSession> session_;
  // The listener's milters, one connection each for the session (before chain_: its milter
  // stage uses them until it is gone).
  std::unique_ptr<MilterClient> milters_;
  bool milter_refusal_ = false;  // the verdict being answered is a milter's (its log line)
  const config::Listener* listener_ = nullptr;  // points into snap_.config
  TlsStream stream_{{[this] { written(); }, [this](int) { writeFailed(); }}};  // TLS once started
  uint32_t auth_failures_ = 0;  // in this session, for the growing delay
  std::string client_ip_;
  std::string client_;  // "name[ip]", "unknown[ip]" until (or unless) the name is confirmed
  bool connect_logged_ = false;  // "connect from" is written once, with the name when looked up
  policy::ClientFacts client_facts_;  // what stays fixed for the connection; see clientFacts()
  int64_t session_start_ms_ = 0;
  std::shared_ptr<MessageStore> store_;
  std::unique_ptr<content::ContentChain> chain_;  // the content pass in front of store_
  std::optional<content::ContentChain::End> content_end_;  // once finished
  bool content_finishing_ = false;  // the chain's finish() has not answered yet
  bool content_waited_ = false;     // ... and the caller went on (it answers through `then`)
  std::vector<content::Recipient> final_recipients_;  // of the finished content pass
  std::string queue_id_;
  int64_t arrival_us_ = 0;
  uint32_t messages_ = 0;
  StageServices services_;   // what checks may use on this worker's loop
  bool verdict_in_place_ = false;  // checkStage is on the stack: its answer is returned
  std::optional<StageVerdict> in_place_verdict_;  // that answer, until askVerdict returns it
  std::vector<policy::PolicyAction> tx_actions_;  // of the stages accepted in this transaction
  // The DEFER_IF_PERMIT the accepted CONNECT, HELO and MAIL verdicts left pending (their lists
  // answer there with delay_reject off), carried to the next stage as Postfix does.
  std::optional<policy::Decision> client_defer_if_permit_;
  std::optional<policy::Decision> helo_defer_if_permit_;
  std::optional<policy::Decision> sender_defer_if_permit_;
  std::unique_ptr<ClientNameLookup> name_lookup_;  // before the greeting (smtp.peername_lookup)
  std::optional<smtp::Reply> connect_refusal_;     // the limiter's 421, for greet()
  bool shutdown_pending_ = false;                  // drain asked for while the name was looked up
  // The listener's proxy_filter: the message goes there instead of store_ (docs/filters.md).
  std::unique_ptr<ProxyFilter> proxy_;
};

}  // namespace petrel::server
