// The milters of one SMTP session (filters.milters, docs/milter.md): one connection per milter
// (inet: or unix:, libuv on the session's loop, never blocking it), opened at CONNECT and kept
// until the session ends, each conversation a milter::Session. The session driver
// (smtp_connection_milter.cc) asks it at CONNECT, HELO, MAIL, each RCPT and DATA for the
// stage's verdict (stage()); the content stage (milter_stage.h) runs the header, body and end
// of message over the same connections (run()).
//
// A milter that cannot be reached, times out (milter_connect_timeout to connect,
// milter_command_timeout for each command, milter_content_timeout for the body chunks and the
// end of message) or breaks the protocol is failed for the rest of the session: from then on
// each stage it would have been asked gets filters.milter_default_action (tempfail: 451 4.7.1,
// reject: 550 5.7.1, accept: as if it were not there), as Postfix does. Answers always arrive
// from the loop, never from inside the call that asked; close() (or the destructor) ends every
// conversation with SMFIC_QUIT and drops the answers still to come.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "petrel/config/config.h"
#include "petrel/milter/session.h"
#include "petrel/smtp/reply.h"
#include "petrel/smtp/server_session.h"

namespace petrel::server {

struct MilterClientSetup {
  uv_loop_t* loop = nullptr;
  std::vector<config::MilterEndpoint> milters;
  config::Filters::MilterDefaultAction default_action =
      config::Filters::MilterDefaultAction::Tempfail;
  uint64_t connect_timeout_ms = 30'000;
  uint64_t command_timeout_ms = 30'000;
  uint64_t content_timeout_ms = 300'000;
};
MilterClientSetup milterClientSetup(uv_loop_t* loop, const config::Config& cfg,
                                    const config::Listener* listener);

// What the milters made of one SMTP stage, taken together (in order; the first that decides).
struct MilterAnswer {
  enum class Kind { Continue, Refuse, Discard };
  Kind kind = Kind::Continue;
  smtp::Reply reply;  // Refuse
  std::string milter;  // the one that decided ("inet:127.0.0.1:8891")
};

class MilterClient {
 public:
  explicit MilterClient(MilterClientSetup setup);
  ~MilterClient();
  MilterClient(const MilterClient&) = delete;
  MilterClient& operator=(const MilterClient&) = delete;

  // What the milters are told; the driver keeps it current before each stage.
  milter::MessageFacts& facts() { return facts_; }
  const MilterClientSetup& setup() const { return setup_; }
  size_t size() const { return setup_.milters.size(); }

  // The verdict of all milters at Connect (the connections are opened), Helo, Mail, Rcpt
  // (`rcpt`; `rejected`: our checks refused it, only milters asking for SMFIP_RCPT_REJ hear of
  // it and the answer is Continue) or Data. A discard is remembered for the message
  // (discarded()); a new MAIL clears it.
  void stage(smtp::Stage stage, const milter::MilterRecipient* rcpt, bool rejected,
             std::function<void(MilterAnswer)> done);
  bool wantsRejectedRecipients() const;
  // A milter discarded the message before its content (SMFIR_DISCARD at MAIL, RCPT or DATA):
  // the stage it did so at ("RCPT").
  const std::optional<std::string>& discarded() const { return discarded_; }

  // One milter's own step (the content stage): `begin` starts it on that milter's session and
  // `done` gets the outcome (Failed, with the failure, when the milter failed earlier or fails
  // now). `failed(i)`: the milter is failed for the session.
  void run(size_t i, std::function<milter::Step(milter::Session&)> begin,
           std::function<void(milter::Outcome)> done);
  bool failed(size_t i) const { return failed_[i]; }
  bool idleForMessage(size_t i) const;
  const std::string& name(size_t i) const { return setup_.milters[i].text; }
  // The milter failed (`why` logged as "warning: [ID: ]milter NAME: WHY").
  void markFailed(size_t i, const std::string& why, const std::string& queue_id);
  // milter_default_action as a stage verdict: nullopt for accept.
  std::optional<smtp::Reply> defaultReply() const;

  // The caller of run(i, ...) is gone before its answer (what `begin` handed the session may
  // be gone too): the connection is dropped and the milter failed for the session, silently.
  void abandon(size_t i);

  // SMFIC_QUIT to every milter; no answer arrives after this.
  void close();

  struct Conversation;  // milter_client.cc
  // Called by a conversation whose stage is answered or that failed.
  void answered(Conversation* c);
  void detach(Conversation* c);

 private:
  void open(size_t i);
  void later(std::function<void()> fn);
  void nextMilter(std::shared_ptr<struct StageRun> run);

  MilterClientSetup setup_;
  milter::MessageFacts facts_;
  std::vector<Conversation*> conversations_;
  std::vector<bool> failed_;
  std::optional<std::string> discarded_;
  uv_timer_t* defer_ = nullptr;
  std::vector<std::function<void()>> deferred_;
  bool closed_ = false;
  bool in_call_ = false;  // inside run(): an answer now goes through later()
};

}  // namespace petrel::server
