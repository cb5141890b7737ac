// One milter's conversation over one SMTP session, as a pure state machine (the MTA side of
// protocol version 6): what to send at each SMTP stage, given the negotiated options, and what
// the replies mean. The driver (server/milter_client.cc) calls the stage functions as the SMTP
// session reaches them, writes Step::send, waits with the timeout Step::wait names, and feeds
// back every packet until the stage is answered (Step::wait None: outcome() holds its verdict);
// it never decides anything itself.
//
//   start: Negotiate -> [Connect]      helo: [Helo]      mail: [Abort] [Mail]
//   rcpt: [Rcpt]                       data: [Data]
//   content: [Header]* -> [EndOfHeader] -> [Body chunk]* -> EndOfMessage
//   quit: [Abort] Quit
//
// A step in [] is left out when the milter said so (SMFIP_NO*), and not waited for when it
// said it will not answer (SMFIP_NR_*); SMFIR_SKIP during the body jumps to EndOfMessage.
// SMFIR_ACCEPT at CONNECT or HELO ends the milter's part in the session, at a later stage in the
// message; any other verdict at MAIL, DATA or the content ends its part in the message (a
// reject at RCPT refuses only that recipient). SMFIC_ABORT is sent for a message the milter
// saw some of when the next transaction starts (MAIL, HELO) or the session ends. Macros go
// before their command (SMFIC_MACRO), the names per stage as Postfix's milter_*_macros or as
// the milter asked (SMFIR_SETSYMLIST in its negotiation reply).
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/content/chain.h"
#include "petrel/milter/protocol.h"
#include "petrel/smtp/reply.h"

namespace petrel::milter {

// Macro names per stage (MacroStage order), as written on the wire ("j", "{daemon_name}").
using MacroLists = std::array<std::vector<std::string>, MacroStages>;
// Postfix's milter_connect_macros, milter_helo_macros, ... defaults.
MacroLists postfixMacros();

struct MilterRecipient {
  std::string address;            // without angle brackets
  std::vector<std::string> args;  // ESMTP arguments as given ("NOTIFY=NEVER")
};

// What the conversation tells the milter. Macro values by name ("{client_addr}", "i"); names
// without a value are not sent.
struct MessageFacts {
  std::string client_name;  // "unknown" when the client has no verified name
  char family = '4';        // '4', '6', 'L' (unix) or 'U'
  uint16_t client_port = 0;
  std::string client_addr;
  std::string helo;
  std::string sender;  // without angle brackets; "" for the null sender
  std::vector<std::string> sender_args;
  std::vector<MilterRecipient> recipients;
  std::map<std::string, std::string> macros;
};

// What we offer in the negotiation: every action, every protocol step flag.
Options mtaOffer();

enum class Wait { None, Command, Content };

struct Step {
  std::string send;        // octets for the milter (may be empty)
  Wait wait = Wait::None;  // the timeout that now runs; None: the stage is answered
  bool done = false;       // the conversation is over (close once `send` is written)
};

struct Modification {
  char kind = 0;  // reply::AddHeader, InsertHeader, ChangeHeader, AddRcpt, AddRcptWithArgs,
                  // DelRcpt, ChangeFrom, ReplaceBody, Quarantine
  uint32_t index = 0;
  std::string name;
  std::string value;
};

// The answer of one stage.
struct Outcome {
  enum class Verdict { Continue, Accept, Reject, Tempfail, Discard, Failed };
  Verdict verdict = Verdict::Continue;
  std::optional<smtp::Reply> reply;  // Reject and Tempfail: what the client gets
  std::string stage;                 // where it was decided, Postfix's names ("END-OF-MESSAGE")
  std::string failure;               // Failed: why, for the log
  std::vector<Modification> modifications;  // in the order received (end of message only)
  std::vector<std::string> warnings;        // replies we ignored
  bool header_leading_space = false;        // negotiated SMFIP_HDR_LEADSPC
};

class Session {
 public:
  // `facts` must outlive the session; the driver keeps it current (HELO name, sender,
  // macros) before each stage.
  explicit Session(const MessageFacts& facts, MacroLists lists = postfixMacros());

  // The negotiation offer; once negotiated, the CONNECT callback follows.
  Step start();
  Step helo();
  Step mail();
  // `rejected`: our own checks refused it; sent only to a milter that asked (SMFIP_RCPT_REJ),
  // its answer does not count (the stage is answered with Continue).
  Step rcpt(const MilterRecipient& r, bool rejected = false);
  Step data();
  // The header, end of header, the body in chunks and the end of message. `header` and `body`
  // must stay until the stage is answered.
  Step content(const std::vector<content::HeaderField>& header, std::string_view body);
  // The session ends: SMFIC_ABORT for an open message, then SMFIC_QUIT.
  Step quit();
  // One packet from the milter.
  Step onPacket(const Packet& p);
  // The driver gave up (timeout, lost connection, bad packet): the outcome is Failed.
  void fail(std::string why);

  const Outcome& outcome() const { return outcome_; }
  const Options& negotiated() const { return negotiated_; }
  // Over: failed, or quit was sent.
  bool closed() const { return done_; }
  // The milter takes no further part in the message (it decided) or the session (SMFIR_ACCEPT
  // at CONNECT or HELO; closed()).
  bool idleForMessage() const { return done_ || accepted_session_ || skip_message_; }
  // The milter asked to see the recipients our checks refused (SMFIP_RCPT_REJ).
  bool wantsRejectedRecipients() const;

 private:
  enum class Kind { Connect, Helo, Mail, Rcpt, Data, Header, EndOfHeader, Body, EndOfMessage };
  struct Item {
    Kind kind;
    size_t index;  // header field or body chunk
  };

  Step negotiate(const Packet& p);
  Step begin(std::vector<Item> items, std::string out = {});
  Step advance(std::string out);
  std::string abortIfOpen();
  void encodeItem(const Item& item, std::string& out) const;
  bool wanted(Kind k) const;
  bool expectsReply(Kind k) const;
  Step answer(Outcome::Verdict v, std::optional<smtp::Reply> reply = std::nullopt);
  Step failNow(std::string why);
  std::string stageName(Kind k) const;
  std::vector<std::pair<std::string, std::string>> macroValues(MacroStage stage,
                                                               const MilterRecipient* rcpt) const;

  const MessageFacts& facts_;
  const std::vector<content::HeaderField>* header_ = nullptr;
  std::string_view body_;
  MilterRecipient rcpt_;
  bool rcpt_rejected_ = false;
  MacroLists lists_;
  Options negotiated_;
  bool negotiating_ = false;
  bool done_ = false;
  bool accepted_session_ = false;  // SMFIR_ACCEPT at CONNECT or HELO
  bool skip_message_ = false;      // decided about this message; until the next MAIL
  bool message_open_ = false;      // a message command sent and no end of message yet
  bool header_leading_space_ = false;
  std::vector<Item> items_;
  size_t next_ = 0;
  std::optional<Item> waiting_;
  Outcome outcome_;
};

// "550 5.7.1 text" (SMFIR_REPLYCODE, possibly several lines) as a reply; nullopt unless it is a
// 4xx or 5xx.
std::optional<smtp::Reply> parseReplyCode(std::string_view text);

// The header as the milters change it, one after the other: each milter is shown fields() (the
// header as stored with the earlier milters' changes) and its indexes count in that; at the
// end the changes are written as the chain's edits, by index in the header as stored.
class HeaderModel {
 public:
  explicit HeaderModel(const std::vector<content::HeaderField>& stored);
  // One milter's modifications: the header ones change the model, the envelope ones (recipients,
  // sender, quarantine) and a replacement body (EndEdits::body) go into `edits`; what cannot
  // be applied is a warning.
  void apply(const Outcome& outcome, content::EndEdits& edits, std::vector<std::string>& warnings);
  std::vector<content::HeaderField> fields() const;
  // The header changes so far, added to `edits`: new fields before the first stored one are
  // prepended; a stored field that changed or is followed by new ones is replaced by its text
  // (with theirs); a deleted one is removed.
  void writeEdits(content::HeaderEdits& edits) const;

 private:
  struct Entry {
    std::string name;
    std::string raw;
    long origin = -1;  // index in the header as stored, -1 for a new field
    bool deleted = false;
    bool changed = false;
  };
  std::vector<Entry> entries_;
  bool touched_ = false;
};

// A replacement body (SMFIR_REPLBODY) as the store keeps bodies: every line end CRLF (a bare
// LF or CR becomes one), a last line without one gets one.
std::string crlfBody(std::string_view body);

// The modifications of one milter applied to what it saw (`stored`: the header as stored, which
// the milter's indexes count in) and turned into the chain's end-of-data edits.
void applyModifications(const std::vector<content::HeaderField>& stored, const Outcome& outcome,
                        content::EndEdits& edits, std::vector<std::string>& warnings);

}  // namespace petrel::milter
