// The content pass on receipt (Postfix's cleanup): the message streams through a chain of
// stages on its way to the store. The header section is collected (bounded, HeaderSection),
// shown to every stage, edited, and written; the body streams through every stage and on to
// the store. At end of data the chain asks each stage for its verdict and its edits of the
// envelope and the header, in stage order, and applies them before the journal insert, so a
// 250 still means the final message is on disk.
//
// Stages today: the Received header and recipient de-duplication (server/content_stages.h),
// header/body checks (server/header_checks_stage.h, the one stage that edits the body stream:
// MIME part headers), DKIM verification and DMARC with the Authentication-Results field
// (server/authentication_stage.cc), milters (server/milter_stage.h), DKIM signing
// (server/dkim_signing_stage.h), each a ContentStage and one line where the session driver
// builds its chain. Pure: bytes in, edits out; the store is a BodySink.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/content/header_section.h"
#include "petrel/smtp/body_reader.h"
#include "petrel/smtp/reply.h"

namespace petrel::content {

// One final recipient of the message (after alias expansion), as the queue will get it.
struct Recipient {
  std::string address;
  std::string orig_address;  // the RCPT TO address it came from
  std::string dsn_notify;
  std::string dsn_orcpt;
};

// Changes of the header section, applied in the order listed here (stage by stage): fields are
// inserted at the top in the order given, then replaced and deleted by their index in the
// section as received.
struct HeaderEdits {
  std::vector<std::string> prepend;                     // whole fields, "Name: value\r\n"
  std::vector<std::pair<size_t, std::string>> replace;  // index -> whole new field
  std::vector<size_t> remove;                           // indexes
  bool empty() const { return prepend.empty() && replace.empty() && remove.empty(); }
};

// What a stage may change at end of data.
struct EndEdits {
  HeaderEdits header;
  std::vector<Recipient> add_recipients;
  std::vector<std::string> remove_recipients;  // final addresses
  // Keep the message held in the queue (Postfix HOLD) with this reason for the log line; the
  // first stage that asks sets it.
  std::optional<std::string> hold;
  // Take the message and drop it (Postfix DISCARD): the reason for the log line; the first
  // stage that asks sets it.
  std::optional<std::string> discard;
  // Send the message through this after-queue content filter, "transport:destination" (Postfix
  // FILTER of a header or body check); a later stage's replaces it, as Postfix's last FILTER
  // wins, and it overrides an access map's FILTER and filters.content_filter.
  std::optional<std::string> filter;
  // What the stage that asked already logged in Postfix's cleanup format (a header check's
  // "reject: header ...", a milter's "milter-reject: ..."): the driver then writes no line of
  // its own for it, so that pflogsumm counts each refusal, hold or discard once.
  struct Logged {
    bool refusal = false;
    bool hold = false;
    bool discard = false;
  } logged;
  // A new envelope sender (a milter's SMFIR_CHGFROM), without angle brackets.
  std::optional<std::string> sender;
  // A new body (a milter's SMFIR_REPLBODY): everything after the header section, CRLF line
  // ends. The later stages' onEnd see it here (DKIM signing hashes it instead).
  std::optional<std::string> body;
};

class ContentStage {
 public:
  virtual ~ContentStage() = default;
  // The header section is complete (`fields` as received; other stages' edits come after).
  virtual void onHeader(const std::vector<HeaderField>& /*fields*/, HeaderEdits& /*edits*/) {}
  // Body octets after the header section, in order, as stored.
  virtual void onBody(std::string_view /*bytes*/) {}
  // A stage that edits the body as it streams (the header checks' edits of MIME part headers)
  // says so here; the chain then calls editBody instead of onBody: the stage appends to `out`
  // what goes on, in place of `bytes`, to the later stages and the store. It may hold octets
  // back (bounded: the stage keeps the limit) and gives out what it holds at the latest in
  // flushBody, when the content ended and before any onEnd. The earlier stages saw the body as
  // it came, the later ones and the store see the edited one.
  virtual bool editsBody() const { return false; }
  virtual void editBody(std::string_view bytes, std::string& out) {
    onBody(bytes);
    out.append(bytes);
  }
  virtual void flushBody(std::string& /*out*/) {}
  // End of data: nullopt to go on, or a refusal (4xx/5xx) for the whole message. `recipients`
  // is the envelope so far; a stage may edit it directly or through `edits`.
  virtual std::optional<smtp::Reply> onEnd(std::vector<Recipient>& /*recipients*/,
                                           EndEdits& /*edits*/) {
    return std::nullopt;
  }
  // End of data for a stage that may have to wait (DNS answers for DKIM keys, DMARC records):
  // calls `done` exactly once, at once or later on the driver's loop, with what onEnd would
  // return. `recipients` and `edits` stay valid until then. A stage destroyed while it waits
  // (the client went away) must not call `done` (cancel its lookups in its destructor). The
  // default answers onEnd at once.
  using EndDone = std::function<void(std::optional<smtp::Reply>)>;
  virtual void onEndAsync(std::vector<Recipient>& recipients, EndEdits& edits, EndDone done) {
    done(onEnd(recipients, edits));
  }
  // Whether onEnd may refuse: the driver then has the session ask for an end-of-data verdict
  // (ContentChain::mayRefuse).
  virtual bool mayRefuse() const { return false; }
};

struct ChainLimits {
  // Postfix header_size_limit is 100 KiB per field; the whole section is held here until its
  // end, so this bounds memory per message. Default: 256 KiB.
  size_t max_header_bytes = 256 * 1024;
};

class ContentChain final : public smtp::BodySink {
 public:
  // `stages` are owned by the chain; `store` receives the final content and outlives it.
  ContentChain(std::vector<std::unique_ptr<ContentStage>> stages, smtp::BodySink& store,
               ChainLimits limits = {});

  void append(std::string_view content) override;
  bool mayRefuse() const;

  struct End {
    std::optional<smtp::Reply> refusal;  // the first stage that refused
    // End-of-data fields that only go on top (Authentication-Results, DKIM-Signature): whole
    // fields in order, to put before what the store holds, so nothing stored is rewritten.
    std::string top_fields;
    // Other end-of-data header changes (replace, remove), when some stage made any: the new
    // header section (top fields included) to write in place of the first `replaced_octets`
    // octets of what the store holds; top_fields is then empty. A stage that replaced the
    // body (EndEdits::body): the whole new message, in place of all the store holds.
    std::optional<std::string> header;
    size_t replaced_octets = 0;
    std::optional<std::string> hold;  // a stage asked to hold the message: the reason
    std::optional<std::string> discard;  // a stage asked to discard it: the reason
    std::optional<std::string> filter;   // a stage chose a content filter: transport:nexthop
    std::optional<std::string> sender;   // a stage changed the envelope sender
    EndEdits::Logged logged;             // what the stages logged themselves
  };
  // The message is complete: runs every stage's onEndAsync in order (stopping at a refusal),
  // applies recipient edits to `recipients`, then calls `done` (at once when no stage waited).
  // Call once; `recipients` and the chain must live until `done`.
  void finish(std::vector<Recipient>& recipients, std::function<void(End)> done);
  // The same for chains whose stages all answer at once (tests, tools); a stage that waits is
  // answered by a 451 4.3.0 refusal here.
  End finish(std::vector<Recipient>& recipients);

 private:
  void headerComplete();
  // Body octets for the stages from `from` on and the store, through the stages that edit.
  void passBody(std::string_view content, size_t from);
  void flushBodies();
  void endStage(size_t index);
  void ended();

  std::vector<std::unique_ptr<ContentStage>> stages_;
  smtp::BodySink* store_;
  HeaderSection section_;
  size_t written_header_octets_ = 0;
  std::vector<bool> edits_body_;          // per stage: editsBody()
  std::vector<std::string> edit_buffers_;  // per editing stage: its output, reused
  bool flushed_ = false;
  size_t written_octets_ = 0;  // everything given to the store
  // finish() in progress
  std::vector<Recipient>* recipients_ = nullptr;
  EndEdits end_edits_;
  std::function<void(End)> end_done_;
};

// Applies `edits` to `fields` (HeaderEdits order) and returns the section's text.
std::string applyHeaderEdits(std::vector<HeaderField>& fields, const HeaderEdits& edits,
                             std::string_view rest);

// The final recipients of an envelope whose RCPTs expanded to `expansions`: one per address,
// the first occurrence kept (an alias and its target collapse, as in Postfix's cleanup).
void removeDuplicates(std::vector<Recipient>& recipients);

}  // namespace petrel::content
