// Header and body checks in the content pass; see header_checks_stage.h.
#include "petrel/server/header_checks_stage.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

#include "petrel/content/mime_parser.h"
#include "petrel/core/strings.h"
#include "petrel/log/mail_log.h"

namespace petrel::server {

namespace {

using content::MimeEvent;

// "Subject: a\r\n b\r\n" -> "Subject: a b" (RFC 5322 2.2.3 unfolding, final line end gone).
std::string unfold(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    if (c != '\r' && c != '\n') out += c;
  }
  return out;
}

bool isMimeField(std::string_view name) {
  return (name.size() >= 8 && iequals(name.substr(0, 8), "Content-")) ||
         iequals(name, "MIME-Version");
}

// A PREPEND or REPLACE text must be a header field ("Name: value"), as cleanup demands.
bool isFieldText(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  for (char c : text.substr(0, colon)) {
    if (static_cast<unsigned char>(c) <= 32 || static_cast<unsigned char>(c) >= 127) return false;
  }
  return !hasControlCharacter(text);
}

// A reply text that starts with its own enhanced status code keeps it ("5.7.0 go away");
// as in Postfix, a REJECT whose code is 4.x.x is a temporary refusal.
std::pair<std::string, std::string> statusAndText(std::string_view text,
                                                  std::string_view default_status,
                                                  std::string_view default_text) {
  std::string_view t = trim(text);
  if (t.size() >= 5 && (t[0] == '4' || t[0] == '5') && t[1] == '.' &&
      std::isdigit(static_cast<unsigned char>(t[2]))) {
    size_t space = t.find(' ');
    std::string_view code = t.substr(0, space);
    if (std::count(code.begin(), code.end(), '.') == 2 &&
        code.find_first_not_of("0123456789.") == std::string_view::npos) {
      std::string_view rest = space == std::string_view::npos ? "" : trim(t.substr(space + 1));
      return {std::string(code), std::string(rest.empty() ? default_text : rest)};
    }
  }
  return {std::string(default_status), std::string(t.empty() ? default_text : t)};
}

class HeaderChecksStage final : public content::ContentStage {
 public:
  explicit HeaderChecksStage(HeaderChecksSetup setup)
      : s_(std::move(setup)),
        parser_([this](const MimeEvent& e) { onEvent(e); }, limits(*s_.tables)) {}

  bool mayRefuse() const override { return true; }

  void onHeader(const std::vector<content::HeaderField>& fields,
                content::HeaderEdits& edits) override {
    std::string section;
    for (size_t i = 0; i < fields.size(); ++i) {
      const content::HeaderField& f = fields[i];
      std::string line = unfold(f.raw);
      std::string decoded =
          line.find("=?") != std::string::npos ? content::decodeEncodedWords(line) : line;
      Target target{&edits, i, &f.raw};
      check(isMimeField(f.name) ? MimeEvent::Kind::MimeHeader : MimeEvent::Kind::MessageHeader,
            line, decoded, &target);
      section += f.raw;
    }
    // The parser learns the message's structure from its header; its own events for these
    // fields (depth 0) were checked above, with the indexes edits need.
    section += "\r\n";
    parser_.feed(section);
  }

  void onBody(std::string_view bytes) override {
    if (!done_) parser_.feed(bytes);
  }

  // MIME part headers and attached messages' headers are edited (PREPEND, REPLACE, IGNORE as
  // in the message header): the body goes through line by line, and from the line that opens
  // such a header section to the line that ends it the octets are held here, then given out
  // with the edits. The rest streams through. Only when those tables exist.
  bool editsBody() const override {
    return s_.tables->mime_header != nullptr || s_.tables->nested_header != nullptr;
  }

  void editBody(std::string_view bytes, std::string& out) override {
    while (!bytes.empty() && !done_) {
      if (!holding_ && parser_.inHeader() && parser_.headersBegun() != header_seen_) {
        holding_ = true;  // a part header (or an attached message's) begins with this line
        header_seen_ = parser_.headersBegun();
      }
      size_t nl = bytes.find('\n');
      size_t n = nl == std::string_view::npos ? bytes.size() : nl + 1;
      std::string_view piece = bytes.substr(0, n);
      bytes.remove_prefix(n);
      if (!holding_) {
        out.append(piece);
        parser_.feed(piece);
        continue;
      }
      held_.append(piece);
      parser_.feed(piece);  // its field events take their octets from held_ (onEvent)
      if (nl != std::string_view::npos) {
        if (!parser_.inHeader() || parser_.headersBegun() != header_seen_) {
          releaseHeld(out);  // this line ended the header section
          continue;
        }
        line_start_ = held_.size();
      }
      if (held_.size() > HoldLimit) {
        // Bounded (Postfix header_size_limit): the rest of this header goes on unedited.
        warn(fmt::format("{}_checks: a MIME part header over {} octets: its further fields "
                         "are not edited",
                         className(MimeEvent::Kind::MimeHeader), HoldLimit));
        releaseHeld(out);
      }
    }
    if (done_) {
      // A final action (REJECT, DISCARD, REDIRECT): nothing more is inspected or edited.
      if (holding_) releaseHeld(out);
      out.append(bytes);
    }
  }

  void flushBody(std::string& out) override {
    if (holding_) releaseHeld(out);  // the content ended inside a part header
  }

  std::optional<smtp::Reply> onEnd(std::vector<content::Recipient>& recipients,
                                   content::EndEdits& edits) override {
    if (!done_) parser_.end();
    // Every action was logged as cleanup logs it (report()).
    if (refusal_) {
      edits.logged.refusal = !s_.on_hit;
      return refusal_;
    }
    if (discard_ && !edits.discard) {
      edits.discard = discard_;
      edits.logged.discard = !s_.on_hit;
    }
    if (hold_ && !edits.hold) {
      edits.hold = hold_;
      edits.logged.hold = !s_.on_hit;
    }
    if (redirect_ && !recipients.empty()) {
      // Postfix REDIRECT: the one address replaces every recipient.
      content::Recipient only = recipients.front();
      if (only.orig_address.empty()) only.orig_address = only.address;
      only.address = *redirect_;
      only.dsn_orcpt.clear();
      recipients.assign(1, std::move(only));
    }
    for (const std::string& a : bcc_) edits.add_recipients.push_back({a, a, "", ""});
    if (filter_) edits.filter = filter_;
    return std::nullopt;
  }

 private:
  // Where a message header field's edits go.
  struct Target {
    content::HeaderEdits* edits;
    size_t index;
    const std::string* raw;
  };

  static content::MimeLimits limits(const CheckTables& t) {
    content::MimeLimits l;
    l.body_segment_bytes = t.body_size_limit;
    return l;
  }

  void onEvent(const MimeEvent& e) {
    if (e.kind != MimeEvent::Kind::BodyLine && e.depth == 0) return;  // done in onHeader
    if (!holding_ || e.kind == MimeEvent::Kind::BodyLine) {
      return check(e.kind, e.text, e.decoded, nullptr);
    }
    // A field of the held header: the parser emits it when the line after it arrives, so its
    // octets are those from the previous field's end to the start of the current line.
    content::HeaderField f;
    f.raw = held_.substr(field_start_, line_start_ - field_start_);
    f.name = f.raw.substr(0, f.raw.find(':'));
    field_start_ = line_start_;
    part_fields_.push_back(std::move(f));
    Target target{&part_edits_, part_fields_.size() - 1, &part_fields_.back().raw};
    check(e.kind, e.text, e.decoded, &target);
  }

  // The held header goes on: its fields as edited, then what follows them (the line that
  // ended it, or the octets not yet split into fields).
  void releaseHeld(std::string& out) {
    out += content::applyHeaderEdits(part_fields_, part_edits_,
                                     std::string_view(held_).substr(field_start_));
    holding_ = false;
    held_.clear();
    part_fields_.clear();
    part_edits_ = {};
    field_start_ = line_start_ = 0;
  }

  const lookup::LookupTable* tableFor(MimeEvent::Kind kind) const {
    switch (kind) {
      case MimeEvent::Kind::MessageHeader:
        return s_.tables->header.get();
      case MimeEvent::Kind::MimeHeader:
        return s_.tables->mime_header.get();
      case MimeEvent::Kind::NestedHeader:
        return s_.tables->nested_header.get();
      case MimeEvent::Kind::BodyLine:
        return s_.tables->body.get();
    }
    return nullptr;
  }

  static std::string_view className(MimeEvent::Kind kind) {
    switch (kind) {
      case MimeEvent::Kind::MessageHeader:
        return "header";
      case MimeEvent::Kind::MimeHeader:
        return "mime_header";
      case MimeEvent::Kind::NestedHeader:
        return "nested_header";
      case MimeEvent::Kind::BodyLine:
        return "body";
    }
    return "body";
  }

  void check(MimeEvent::Kind kind, std::string_view line, std::string_view decoded,
             Target* target) {
    if (done_) return;
    const lookup::LookupTable* table = tableFor(kind);
    if (table == nullptr) return;
    lookup::LookupResult r = table->lookup(line);
    if (r.status == lookup::LookupStatus::NotFound && decoded != line) r = table->lookup(decoded);
    if (r.status == lookup::LookupStatus::NotFound) return;
    std::string what = kind == MimeEvent::Kind::BodyLine ? "body" : "header";
    if (r.status != lookup::LookupStatus::Found) {
      // Postfix: a map lookup problem defers the message; the detail is ours, not the client's.
      log::mail::warning(log::Program::Cleanup,
                         fmt::format("{}: {}_checks: {}", s_.queue_id, className(kind),
                                     r.error.empty() ? table->describe() : r.error));
      refusal_ = smtp::Reply(451, "4.3.0", "Error: internal error");
      done_ = true;
      return;
    }
    std::string_view value = trim(r.value);
    size_t space = value.find_first_of(" \t");
    std::string word = toLower(value.substr(0, space));
    for (char& c : word) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string text =
        space == std::string_view::npos ? "" : std::string(trim(value.substr(space)));
    CheckHit hit{"", what, std::string(className(kind)), std::string(line), text, true};
    if (word == "REJECT" || word == "DEFER") {
      bool reject = word == "REJECT";
      // Postfix cleanup_stat.c's details: CLEANUP_STAT_CONT and CLEANUP_STAT_DEFER.
      auto [status, reply] = reject ? statusAndText(text, "5.7.1", "message content rejected")
                                    : statusAndText(text, "4.7.1", "service unavailable");
      if (!reject && status[0] == '5') status[0] = '4';  // DEFER is never permanent
      refusal_ = smtp::Reply(status[0] == '4' ? 451 : 550, status, reply);
      hit.action = reject ? "reject" : "defer";
      hit.text = status + " " + reply;
      done_ = true;  // "Do not inspect the remainder of the message"
    } else if (word == "DISCARD") {
      hit.action = "discard";
      discard_ = text.empty() ? std::string(what + " " + std::string(line.substr(0, 200))) : text;
      done_ = true;
    } else if (word == "HOLD") {
      // Postfix: the first HOLD counts (and is logged); later ones are silent.
      if (hold_) return;
      hit.action = "hold";
      hold_ = text.empty() ? std::string(what + " " + std::string(line.substr(0, 200))) : text;
    } else if (word == "WARN") {
      hit.action = "warning";
    } else if (word == "INFO") {
      hit.action = "info";
    } else if (word == "PREPEND" || word == "REPLACE") {
      hit.action = word == "PREPEND" ? "prepend" : "replace";
      bool header = kind != MimeEvent::Kind::BodyLine;
      if (header && !isFieldText(text)) {
        return warn(fmt::format("{}_checks: {} text is not a header field: \"{}\": skipped",
                                className(kind), word, text));
      }
      if (target == nullptr) {
        hit.applied = false;  // a body line, or a part header over the limit: gone on
      } else if (word == "PREPEND") {
        target->edits->replace.emplace_back(target->index, text + "\r\n" + *target->raw);
      } else {
        target->edits->replace.emplace_back(target->index, text + "\r\n");
      }
    } else if (word == "IGNORE") {
      hit.action = "ignore";
      if (target == nullptr) {
        hit.applied = false;
      } else {
        target->edits->remove.push_back(target->index);
      }
    } else if (word == "REDIRECT" || word == "BCC") {
      hit.action = word == "REDIRECT" ? "redirect" : "bcc";
      if (text.empty() || text.find('@') == std::string::npos || hasControlCharacter(text)) {
        return warn(fmt::format("{}_checks: {} needs an address, got \"{}\": skipped",
                                className(kind), word, text));
      }
      if (word == "REDIRECT") {
        redirect_ = text;
        done_ = true;  // Postfix: REDIRECT also ends the inspection
      } else {
        bcc_.push_back(text);
      }
    } else if (word == "FILTER") {
      // Postfix: the last FILTER wins; the queue sends the message through that transport.
      hit.action = "filter";
      size_t colon = text.find(':');
      if (colon == 0 || colon == std::string::npos || hasControlCharacter(text) ||
          text.find(' ') != std::string::npos) {
        return warn(fmt::format("{}_checks: FILTER needs transport:destination, got \"{}\": "
                                "skipped",
                                className(kind), text));
      }
      filter_ = text;
    } else if (word == "DUNNO" || word == "OK") {
      return;
    } else {
      return warn(fmt::format("{}_checks: unknown action \"{}\" in {}: skipped", className(kind),
                              word, table->describe()));
    }
    report(hit);
  }

  void warn(const std::string& text) {
    if (s_.on_hit) {
      s_.on_hit(CheckHit{"warning", "config", "", "", text, false});
      return;
    }
    log::mail::warning(log::Program::Cleanup, fmt::format("{}: {}", s_.queue_id, text));
  }

  void report(const CheckHit& hit) {
    if (s_.on_hit) return s_.on_hit(hit);
    std::string text = hit.text;
    if (!hit.applied) text = text.empty() ? "not applied here" : text + " (not applied here)";
    // IGNORE leaves no line in Postfix; the rest log as cleanup does.
    if (hit.action == "ignore" && hit.applied) return;
    log::mail::contentCheck(s_.queue_id, hit.action, hit.what, hit.line, s_.client, s_.sender,
                            s_.recipient, s_.protocol, s_.helo, text);
  }

  // The most of a MIME part header held back for editing: the parser's field limit (Postfix
  // header_size_limit, 100 KiB).
  static constexpr size_t HoldLimit = content::MimeLimits{}.max_field_bytes;

  HeaderChecksSetup s_;
  content::MimeParser parser_;
  // A part header held back (editBody): its octets, the fields found in them so far (with
  // their edits), where the next field and the current line start in held_.
  bool holding_ = false;
  size_t header_seen_ = 1;  // parser_.headersBegun() of the last header held or passed
  std::string held_;
  std::vector<content::HeaderField> part_fields_;
  content::HeaderEdits part_edits_;
  size_t field_start_ = 0, line_start_ = 0;
  bool done_ = false;  // a final action was taken: nothing more is inspected
  std::optional<smtp::Reply> refusal_;
  std::optional<std::string> hold_, discard_, redirect_, filter_;
  std::vector<std::string> bcc_;
};

}  // namespace

std::shared_ptr<const CheckTables> openCheckTables(const config::Checks& checks,
                                                   const lookup::Warn& warn) {
  if (!checks.any()) return nullptr;
  auto t = std::make_shared<CheckTables>();
  std::map<std::string, lookup::TablePtr> opened;  // by reference: header's is mime's default
  auto open = [&](const std::optional<config::TableSpec>& spec) -> lookup::TablePtr {
    if (!spec) return nullptr;
    std::string key = spec->type + ":" + spec->name;
    auto it = opened.find(key);
    if (it != opened.end()) return it->second;
    return opened[key] = lookup::makeTable(*spec, warn);
  };
  t->header = open(checks.header);
  t->mime_header = open(checks.mime_header);
  t->nested_header = open(checks.nested_header);
  t->body = open(checks.body);
  t->body_size_limit = checks.body_size_limit;
  return t;
}

std::unique_ptr<content::ContentStage> headerChecks(HeaderChecksSetup setup) {
  return std::make_unique<HeaderChecksStage>(std::move(setup));
}

}  // namespace petrel::server
