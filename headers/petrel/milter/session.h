// One milter's conversation about one message, as a pure state machine (the MTA side of
// protocol version 6): what to send when, given the negotiated options, and what the replies
// mean. The driver (server/milter_stage.cc) writes Step::send, waits with the timeout Step::wait
// names, and feeds back every packet; it never decides anything itself.
//
//   Negotiate -> [Connect] -> [Helo] -> [Mail] -> [Rcpt]* -> [Data] -> [Header]* -> [EndOfHeader]
//             -> [Body chunk]* -> EndOfMessage (modifications, then the verdict) -> Quit
//
// A step in [] is left out when the milter said so (SMFIP_NO*), and not waited for when it
// said it will not answer (SMFIP_NR_*); SMFIR_SKIP during the body jumps to EndOfMessage. Any
// verdict other than continue ends the conversation early (Quit). Macros go before their
// command (SMFIC_MACRO), the names per stage as Postfix's milter_*_macros or as the milter
// asked (SMFIR_SETSYMLIST in its negotiation reply).
//
// Every callback runs at end of data here (the message is complete); a reject at RCPT refuses
// the whole message (the client was told 250 already), see docs/milter.md.
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

// What we offer in the negotiation: every action (body replacement is offered for the milters
// that ask for it, then refused with a warning when used), every protocol step flag.
Options mtaOffer();

enum class Wait { None, Command, Content };

struct Step {
  std::string send;        // octets for the milter (may be empty)
  Wait wait = Wait::None;  // the timeout that now runs
  bool done = false;       // the conversation is over (outcome() holds the result)
};

struct Modification {
  char kind = 0;  // reply::AddHeader, InsertHeader, ChangeHeader, AddRcpt, AddRcptWithArgs,
                  // DelRcpt, ChangeFrom, ReplaceBody, Quarantine
  uint32_t index = 0;
  std::string name;
  std::string value;
};

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
  // `header` and `body` must outlive the session (the body is sent in chunks from there).
  Session(const MessageFacts& facts, const std::vector<content::HeaderField>& header,
          std::string_view body, MacroLists lists = postfixMacros());

  // The negotiation offer.
  Step start();
  // One packet from the milter.
  Step onPacket(const Packet& p);
  // The driver gave up (timeout, lost connection, bad packet): the outcome is Failed.
  void fail(std::string why);

  const Outcome& outcome() const { return outcome_; }
  const Options& negotiated() const { return negotiated_; }

 private:
  enum class Kind { Connect, Helo, Mail, Rcpt, Data, Header, EndOfHeader, Body, EndOfMessage };
  struct Item {
    Kind kind;
    size_t index;  // recipient, header field or body chunk
  };

  Step negotiate(const Packet& p);
  Step advance(std::string out);
  void encodeItem(const Item& item, std::string& out) const;
  bool expectsReply(Kind k) const;
  Step finish(Outcome::Verdict v, std::optional<smtp::Reply> reply = std::nullopt);
  Step failNow(std::string why);
  std::string stageName(Kind k) const;
  std::vector<std::pair<std::string, std::string>> macroValues(MacroStage stage,
                                                               const MilterRecipient* rcpt) const;

  const MessageFacts& facts_;
  const std::vector<content::HeaderField>& header_;
  std::string_view body_;
  MacroLists lists_;
  Options negotiated_;
  bool negotiating_ = false;
  bool done_ = false;
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
  // sender, quarantine) go into `edits`; what cannot be applied is a warning.
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

// The modifications of one milter applied to what it saw (`stored`: the header as stored, which
// the milter's indexes count in) and turned into the chain's end-of-data edits.
void applyModifications(const std::vector<content::HeaderField>& stored, const Outcome& outcome,
                        content::EndEdits& edits, std::vector<std::string>& warnings);

}  // namespace petrel::milter
