// A milter's end-of-message modifications turned into the content chain's edits
// (session.h applyModifications). The header is modelled as the milter saw it (the stored
// fields), edited in the order the milter sent its requests, and then written back as the
// chain's edits: fields new before the first stored one are prepended; a stored field that
// changed, or is followed by new fields, is replaced by its new text (with those fields after
// it); a deleted one is removed.
#include <fmt/format.h>

#include <algorithm>

#include "petrel/core/strings.h"
#include "petrel/milter/session.h"

namespace petrel::milter {

namespace {

bool validName(std::string_view n) {
  if (n.empty() || n.size() > 998) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 32 && u < 127 && c != ':';
  });
}

// "Name: value\r\n" from a milter's name and value (LF-separated lines): every line break
// becomes CRLF, a continuation line that does not start with white space gets a tab (so that
// no value can start a field of its own), other control characters become spaces.
std::string fieldText(std::string_view name, std::string_view value, bool leading_space) {
  std::string out(name);
  out += ':';
  if (!leading_space) out += ' ';
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\r') continue;
    if (c == '\n') {
      out += "\r\n";
      if (i + 1 < value.size() && value[i + 1] != ' ' && value[i + 1] != '\t') out += '\t';
      continue;
    }
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 && c != '\t') || u == 0x7f ? ' ' : c;
  }
  out += "\r\n";
  return out;
}

// An address from the milter without its angle brackets; "" when it has white space or
// control characters (it would break the queue's records and the log lines).
std::string bare(std::string_view address) {
  std::string_view a = trim(address);
  if (a.size() >= 2 && a.front() == '<' && a.back() == '>') a = a.substr(1, a.size() - 2);
  if (a.size() > 512) return {};
  for (char c : a) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return {};
  }
  return std::string(a);
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 256)) out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;
  return out;
}

}  // namespace

HeaderModel::HeaderModel(const std::vector<content::HeaderField>& stored) {
  entries_.reserve(stored.size());
  for (size_t i = 0; i < stored.size(); ++i) {
    entries_.push_back(Entry{stored[i].name, stored[i].raw, long(i)});
  }
}

std::vector<content::HeaderField> HeaderModel::fields() const {
  std::vector<content::HeaderField> out;
  for (const Entry& e : entries_) {
    if (!e.deleted) out.push_back(content::HeaderField{e.name, e.raw});
  }
  return out;
}

void HeaderModel::apply(const Outcome& outcome, content::EndEdits& edits,
                        std::vector<std::string>& warnings) {
  std::vector<Entry>& header = entries_;
  bool& header_touched = touched_;
  const bool lead = outcome.header_leading_space;
  std::optional<std::string> body;  // this milter's SMFIR_REPLBODY chunks
  for (const Modification& m : outcome.modifications) {
    switch (m.kind) {
      case reply::AddHeader:
      case reply::InsertHeader: {
        if (!validName(m.name)) {
          warnings.push_back(fmt::format("bad header name in {}: ignored", replyName(m.kind)));
          break;
        }
        Entry e{m.name, fieldText(m.name, m.value, lead)};
        if (m.kind == reply::AddHeader) {
          header.push_back(std::move(e));
        } else {
          // The index counts the fields that are there (0: at the top).
          size_t seen = 0;
          auto at = header.begin();
          while (at != header.end() && seen < m.index) {
            if (!at->deleted) ++seen;
            ++at;
          }
          header.insert(at, std::move(e));
        }
        header_touched = true;
        break;
      }
      case reply::ChangeHeader: {
        if (!validName(m.name)) {
          warnings.push_back("bad header name in SMFIR_CHGHEADER: ignored");
          break;
        }
        // The index-th field of that name (from 1; Sendmail treats 0 as 1 too).
        uint32_t want = std::max<uint32_t>(m.index, 1);
        uint32_t seen = 0;
        Entry* found = nullptr;
        for (Entry& e : header) {
          if (!e.deleted && iequals(e.name, m.name) && ++seen == want) {
            found = &e;
            break;
          }
        }
        if (found == nullptr) {
          // Sendmail and Postfix add a field that is not there, unless it was a deletion.
          if (!m.value.empty()) header.push_back(Entry{m.name, fieldText(m.name, m.value, lead)});
        } else if (m.value.empty()) {
          found->deleted = true;
        } else {
          found->raw = fieldText(found->name, m.value, lead);
          found->changed = true;
        }
        header_touched = true;
        break;
      }
      case reply::AddRcpt:
      case reply::AddRcptWithArgs: {
        content::Recipient r;
        r.address = bare(m.name);
        if (r.address.empty()) {
          warnings.push_back(fmt::format("bad address in {}: ignored", replyName(m.kind)));
          break;
        }
        for (std::string_view arg : split(m.value, ' ')) {
          if (arg.empty()) continue;
          if (printable(arg) != arg || arg.size() > 512) {
            warnings.push_back("an ESMTP argument with control characters: ignored");
            continue;
          }
          if (arg.size() > 7 && iequals(arg.substr(0, 7), "NOTIFY=")) {
            r.dsn_notify = std::string(arg.substr(7));
          } else if (arg.size() > 6 && iequals(arg.substr(0, 6), "ORCPT=")) {
            r.dsn_orcpt = std::string(arg.substr(6));
          } else {
            warnings.push_back(fmt::format("ESMTP argument \"{}\" of SMFIR_ADDRCPT_PAR ignored",
                                           printable(arg.substr(0, 64))));
          }
        }
        edits.add_recipients.push_back(std::move(r));
        break;
      }
      case reply::DelRcpt:
        if (std::string a = bare(m.name); !a.empty()) {
          edits.remove_recipients.push_back(std::move(a));
        } else {
          warnings.push_back("bad address in SMFIR_DELRCPT: ignored");
        }
        break;
      case reply::ChangeFrom:
        // The null sender is allowed ("<>"); an address with white space is not.
        if (std::string a = bare(m.name); !a.empty() || trim(m.name) == "<>") {
          edits.sender = std::move(a);
        } else {
          warnings.push_back("bad address in SMFIR_CHGFROM: ignored");
          break;
        }
        if (!trim(m.value).empty()) {
          warnings.push_back("ESMTP arguments of SMFIR_CHGFROM ignored");
        }
        break;
      case reply::Quarantine:
        if (!edits.hold) {
          edits.hold = fmt::format("milter triggers HOLD action: {}", printable(m.name));
        }
        break;
      case reply::ReplaceBody:
        // The chunks make the new body; an earlier milter's replacement is replaced.
        if (!body) body.emplace();
        body->append(m.value);
        break;
      default:
        break;
    }
  }
  if (body) edits.body = crlfBody(*body);
}

std::string crlfBody(std::string_view body) {
  std::string out;
  out.reserve(body.size() + body.size() / 32 + 2);
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < body.size() && body[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  if (!out.empty() && !out.ends_with("\r\n")) out += "\r\n";
  return out;
}

void HeaderModel::writeEdits(content::HeaderEdits& edits) const {
  if (!touched_) return;
  const std::vector<Entry>& header = entries_;
  // Back to the chain's edits, by stored index.
  size_t i = 0;
  for (; i < header.size() && header[i].origin < 0; ++i) edits.prepend.push_back(header[i].raw);
  while (i < header.size()) {
    const Entry& e = header[i++];
    std::string text = e.deleted ? std::string() : e.raw;
    bool replaced = e.changed;
    for (; i < header.size() && header[i].origin < 0; ++i) {
      text += header[i].raw;
      replaced = true;
    }
    if (replaced && !text.empty()) {
      edits.replace.emplace_back(size_t(e.origin), std::move(text));
    } else if (e.deleted) {
      edits.remove.push_back(size_t(e.origin));
    }
  }
}

void applyModifications(const std::vector<content::HeaderField>& stored, const Outcome& outcome,
                        content::EndEdits& edits, std::vector<std::string>& warnings) {
  HeaderModel model(stored);
  model.apply(outcome, edits, warnings);
  model.writeEdits(edits.header);
}

}  // namespace petrel::milter
