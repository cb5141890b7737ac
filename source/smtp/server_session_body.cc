// The message body part of smtp::ServerSession: DATA and BDAT (RFC 5321 4.1.1.4, RFC 3030),
// reading the content through DotReader or ChunkScanner into a CountingSink that enforces the
// size limit, and finishing the message (finishBody, commit). The command loop and the
// envelope commands are in server_session.cc.
#include "petrel/smtp/server_session.h"

#include <fmt/format.h>

#include "petrel/core/assert.h"
#include "petrel/core/strings.h"

#include "server_session_internal.h"

namespace petrel::smtp {

void ServerSession::onData() {
  if (bdat_started_) {
    error(Reply(503, "5.5.1", "Error: DATA after BDAT"));
    return;
  }
  if (state_ == State::Mail) {
    reject(Reply(554, "5.5.1", "Error: no valid recipients"), Stage::Data);
    return;
  }
  if (state_ != State::Rcpt) {
    error(Reply(503, "5.5.1", "Error: need RCPT command"));
    return;
  }
  data_via_bdat_ = false;
  if (wantsVerdict(Stage::Data)) {
    askVerdict(Stage::Data);
  } else {
    startData();
  }
}

void ServerSession::startData() {
  if (data_via_bdat_) {
    bdat_started_ = true;
    envelope_.chunking = true;
  } else {
    envelope_.chunking = false;
  }
  wait_ = Wait::Storage;
  out_.push_back(StartMessage{});
}

void ServerSession::onBdat(std::string_view arg) {
  auto parts = split(arg, ' ');
  std::optional<uint64_t> size = parts.empty() ? std::nullopt : parseUnsigned(parts[0]);
  bool last = parts.size() == 2 && iequals(parts[1], "LAST");
  if (!size || parts.size() > 2 || (parts.size() == 2 && !last)) {
    // Without a size we cannot find where the chunk ends: the stream is lost (RFC 3030 2).
    error(Reply(501, "5.5.4", "Syntax: BDAT size [LAST]"));
    resetTransaction();  // BDAT chunks already stored are aborted
    close();
    return;
  }
  bdat_remaining_ = *size;
  bdat_last_ = last;
  if (state_ != State::Rcpt) {
    bdat_return_state_ = state_;
    bdat_discard_reply_ = !greeted_ ? Reply(503, "5.5.1", "Error: send HELO/EHLO first")
                          : state_ == State::Mail
                              ? Reply(554, "5.5.1", "Error: no valid recipients")
                              : Reply(503, "5.5.1", "Error: need MAIL command");
    bdat_discard_logged_as_bdat_ = bdat_discard_reply_.code == 554;
    bdat_discard_stage_.reset();
    if (bdat_discard_logged_as_bdat_) bdat_discard_stage_ = Stage::Data;
    state_ = State::BdatDiscard;
    return;
  }
  if (!bdat_started_) {
    data_via_bdat_ = true;
    if (wantsVerdict(Stage::Data)) {
      askVerdict(Stage::Data);
    } else {
      startData();
    }
    return;
  }
  state_ = State::Bdat;
}

Actions ServerSession::onMessageStarted(BodySink& sink) {
  PETREL_ASSERT(wait_ == Wait::Storage);
  wait_ = Wait::None;
  if (closed_) return {};  // closed meanwhile; the AbortMessage was already sent
  sink_ = std::make_unique<CountingSink>(sink, settings_.max_message_size);
  LineChecks checks{settings_.max_text_line, settings_.normalize_bare_line_endings};
  if (envelope_.chunking) {
    chunk_scanner_ = std::make_unique<ChunkScanner>(checks, *sink_);
    state_ = State::Bdat;
  } else {
    dot_reader_ = std::make_unique<DotReader>(checks, *sink_);
    state_ = State::Data;
    reply(Reply(354, "", "End data with <CR><LF>.<CR><LF>"));
  }
  process();
  return std::move(out_);
}

bool ServerSession::processData() {
  size_t consumed = 0;
  ReadState st = dot_reader_->consume(in_, consumed);
  in_.erase(0, consumed);
  switch (st) {
    case ReadState::NeedMore:
      return false;
    case ReadState::BareLineEnding:
      finishBody(true);
      return true;
    case ReadState::Done:
      finishBody(false);
      return true;
  }
  return false;
}

bool ServerSession::processBdat() {
  size_t n = size_t(std::min<uint64_t>(bdat_remaining_, in_.size()));
  if (n > 0) {
    if (state_ == State::Bdat) chunk_scanner_->feed(std::string_view(in_).substr(0, n));
    in_.erase(0, n);
    bdat_remaining_ -= n;
    if (state_ == State::Bdat) bdat_octets_ += n;
  }
  if (bdat_remaining_ > 0) return false;
  if (state_ == State::BdatDiscard) {
    // The chunk arrived out of sequence; its octets are gone, the session goes on.
    state_ = bdat_return_state_;
    if (bdat_discard_stage_) {
      reject(bdat_discard_reply_, *bdat_discard_stage_, {}, bdat_discard_logged_as_bdat_);
    } else {
      error(bdat_discard_reply_);
    }
    return true;
  }
  if (!bdat_last_) {
    state_ = State::Rcpt;
    reply(Reply(250, "2.0.0", fmt::format("{} octets received", bdat_octets_)));
    return true;
  }
  chunk_scanner_->finish();
  finishBody(chunk_scanner_->bareLineEnding() && !settings_.normalize_bare_line_endings);
  return true;
}

void ServerSession::finishBody(bool bare_line_ending) {
  bool too_long = envelope_.chunking ? chunk_scanner_->lineTooLong() : dot_reader_->lineTooLong();
  if (bare_line_ending) {
    out_.push_back(AbortMessage{});
    bdat_started_ = false;
    state_ = State::Ready;  // out of the body: resetTransaction() must not abort it again
    Reply r(554, "5.6.0", "Error: bare <LF> or <CR> received in message content");
    if (envelope_.chunking) {
      // BDAT framing is unambiguous, so the session can go on.
      reject(r, Stage::EndOfData);
      resetTransaction();
    } else {
      // The rest of the DATA stream is ambiguous (SMTP smuggling): never read it as commands.
      out_.push_back(rejected(r, Stage::EndOfData, {}));
      reply(r);
      close();
    }
    return;
  }
  if (sink_->over() || too_long) {
    out_.push_back(AbortMessage{});
    bdat_started_ = false;
    state_ = State::Ready;  // out of the body: resetTransaction() must not abort it again
    Reply r = sink_->over()
                  ? Reply(552, "5.3.4", "Error: message file too big")
                  : Reply(554, "5.6.0",
                          fmt::format("Error: message has a line longer than {} octets",
                                      settings_.max_text_line));
    reject(r, Stage::EndOfData);
    resetTransaction();
    return;
  }
  envelope_.body_size = sink_->size();
  bdat_started_ = false;  // the stored body now belongs to the commit, not to this transaction
  state_ = State::Committing;
  if (wantsVerdict(Stage::EndOfData)) {
    askVerdict(Stage::EndOfData);
  } else {
    commit();
  }
}

void ServerSession::commit() {
  state_ = State::Committing;
  wait_ = Wait::Commit;
  out_.push_back(CommitMessage{envelope_});
}

}  // namespace petrel::smtp
