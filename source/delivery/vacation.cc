// Vacation replies under RFC 3834; see headers/petrel/delivery/vacation.h.
#include "petrel/delivery/vacation.h"

#include <fmt/format.h>

#include <algorithm>

#include "petrel/core/base64.h"
#include "petrel/core/strings.h"
#include "petrel/sieve/addresses.h"

namespace petrel::delivery {

namespace {

// Header values we write: one line, no control characters, bounded (RFC 5322 2.1.1's 998
// octets leave room for the field name).
constexpr size_t MaxFieldValue = 900;
constexpr size_t MaxBodyLine = 998;

std::string oneLine(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u == '\t' || u == '\r' || u == '\n') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else if (u >= 0x20 && u != 0x7f) {
      out += c;
    }
  }
  if (out.size() > MaxFieldValue) out.resize(MaxFieldValue);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool hasNonAscii(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) > 127; });
}

// RFC 2047 B encoding of UTF-8 text, in encoded-words of at most 75 octets, folded.
std::string encodeWords(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    // 45 octets of input -> 60 of base64, inside "=?UTF-8?B?" "?=": 72 octets. Never split a
    // UTF-8 sequence (RFC 2047 5: each word decodes to whole characters).
    size_t n = std::min<size_t>(45, text.size() - i);
    while (n > 0 && i + n < text.size() &&
           (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) {
      --n;
    }
    if (n == 0) n = std::min<size_t>(45, text.size() - i);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64Encode(text.substr(i, n)) + "?=";
    i += n;
  }
  return out;
}

const content::HeaderField* findField(std::span<const content::HeaderField> fields,
                                      std::string_view name) {
  for (const auto& f : fields) {
    if (iequals(f.name, name)) return &f;
  }
  return nullptr;
}

std::string withoutExtension(std::string_view address, std::string_view delimiters) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos || delimiters.empty()) return std::string(address);
  size_t cut = address.substr(0, at).find_first_of(delimiters);
  if (cut == std::string_view::npos || cut == 0) return std::string(address);
  return fmt::format("{}{}", address.substr(0, cut), address.substr(at));
}

// CRLF lines, none longer than MaxBodyLine.
std::string crlfBody(std::string_view text) {
  std::string out;
  size_t line = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r') continue;
    if (c == '\n') {
      out += "\r\n";
      line = 0;
      continue;
    }
    if (line == MaxBodyLine) {
      out += "\r\n";
      line = 0;
    }
    out += c;
    ++line;
  }
  if (!out.ends_with("\r\n")) out += "\r\n";
  return out;
}

uint64_t fnv1a(std::string_view s, uint64_t h = 14695981039346656037ull) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

VacationDecision decideVacation(const VacationQuery& q) {
  if (q.sender.empty()) return {false, "sender is <>"};
  sieve::ParsedAddress sender = sieve::splitAddress(q.sender);
  std::string local = toLower(sender.valid ? sender.localpart : std::string(q.sender));
  if (local == "mailer-daemon" || local == "listserv" || local == "majordomo" ||
      local.starts_with("owner-") || local.ends_with("-request")) {
    return {false, fmt::format("sender {} is a daemon or a list", oneLine(local))};
  }
  std::vector<std::string> mine{toLower(q.recipient),
                                toLower(withoutExtension(q.recipient, q.recipient_delimiter))};
  for (const auto& a : q.addresses) {
    sieve::ParsedAddress p = sieve::splitAddress(a);
    mine.push_back(toLower(p.valid ? p.all : a));
  }
  auto isMine = [&mine, &q](std::string_view address) {
    std::string a = toLower(address);
    std::string bare = toLower(withoutExtension(address, q.recipient_delimiter));
    return std::find(mine.begin(), mine.end(), a) != mine.end() ||
           std::find(mine.begin(), mine.end(), bare) != mine.end();
  };
  if (isMine(sender.valid ? sender.all : std::string(q.sender))) {
    return {false, "sender is the user"};
  }
  bool addressed = false;
  for (const auto& f : q.fields) {
    std::string value = sieve::headerValue(f.value(), false);
    if (iequals(f.name, "Auto-Submitted")) {
      // RFC 3834 5: the keyword, before any parameters.
      std::string keyword = toLower(trim(std::string_view(value).substr(0, value.find(';'))));
      if (keyword != "no") return {false, fmt::format("Auto-Submitted: {}", oneLine(keyword))};
    } else if (istartsWith(f.name, "List-")) {
      return {false, fmt::format("list mail ({})", oneLine(f.name))};
    } else if (iequals(f.name, "Precedence")) {
      std::string p = toLower(trim(value));
      if (p == "bulk" || p == "list" || p == "junk") {
        return {false, fmt::format("Precedence: {}", p)};
      }
    } else if (!addressed) {
      static constexpr std::string_view Recipients[] = {"To",        "Cc",        "Bcc",
                                                        "Resent-To", "Resent-Cc", "Resent-Bcc"};
      bool listed = std::any_of(std::begin(Recipients), std::end(Recipients),
                                [&f](std::string_view n) { return iequals(f.name, n); });
      if (listed) {
        for (const auto& a : sieve::addressList(f.value())) {
          if (a.valid && isMine(a.all)) addressed = true;
        }
      }
    }
  }
  if (!addressed) return {false, "the user is not in To, Cc or Bcc"};
  return {true, ""};
}

std::string composeVacationReply(const VacationReplyInput& in) {
  const sieve::Vacation& v = *in.vacation;
  std::string from = oneLine(in.recipient);
  if (v.from) {
    // RFC 5230 4.3: an address the user may use; a value that is no address is ignored.
    std::vector<sieve::ParsedAddress> list = sieve::addressList(*v.from);
    if (list.size() == 1 && list.front().valid) from = oneLine(*v.from);
  }
  std::string subject;
  if (v.subject) {
    std::string s = oneLine(*v.subject);
    subject = hasNonAscii(s) ? encodeWords(s) : s;
  } else {
    // RFC 5230 4.4 / RFC 3834 3.1.5: "Auto: " and the original subject as written (its
    // encoded-words stay valid).
    const auto* f = findField(in.fields, "Subject");
    std::string original = f ? oneLine(sieve::headerValue(f->value(), false)) : "";
    subject = "Auto: " + (original.empty() ? std::string("(no subject)") : original);
    if (subject.size() > MaxFieldValue) subject.resize(MaxFieldValue);
  }
  std::string out;
  out += fmt::format("From: {}\r\n", from);
  out += fmt::format("To: <{}>\r\n", oneLine(in.sender));
  out += fmt::format("Subject: {}\r\n", subject);
  out += fmt::format("Date: {}\r\n", oneLine(in.date));
  out += fmt::format("Message-ID: {}\r\n", oneLine(in.message_id));
  // RFC 3834 3.1.5: In-Reply-To is the original's Message-ID; References its References (or
  // In-Reply-To when it has none) followed by that Message-ID.
  const auto* id = findField(in.fields, "Message-ID");
  std::string message_id = id ? oneLine(sieve::headerValue(id->value(), false)) : "";
  if (!message_id.empty()) out += fmt::format("In-Reply-To: {}\r\n", message_id);
  const auto* refs = findField(in.fields, "References");
  if (refs == nullptr) refs = findField(in.fields, "In-Reply-To");
  std::string references = refs ? oneLine(sieve::headerValue(refs->value(), false)) : "";
  if (!message_id.empty()) references += (references.empty() ? "" : " ") + message_id;
  if (references.size() > MaxFieldValue) {
    // Keep the most recent ones (RFC 5322 3.6.4 lets a long list lose its middle).
    references = references.substr(references.size() - MaxFieldValue);
    references = references.substr(std::min(references.size(), references.find('<')));
  }
  if (!references.empty()) out += fmt::format("References: {}\r\n", references);
  out += "Auto-Submitted: auto-replied\r\n";
  out += "MIME-Version: 1.0\r\n";
  if (v.mime) {
    // RFC 5230 4.7: the reason is a MIME entity, its own header fields first.
    std::string entity = crlfBody(v.reason);
    if (entity.starts_with("\r\n")) {
      out += "Content-Type: text/plain; charset=utf-8\r\n";
    }
    out += entity;
    return out;
  }
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += fmt::format("Content-Transfer-Encoding: {}\r\n", hasNonAscii(v.reason) ? "8bit" : "7bit");
  out += "\r\n";
  out += crlfBody(v.reason);
  return out;
}

std::string vacationHandle(const sieve::Vacation& v) {
  if (v.handle) return *v.handle;
  uint64_t h = fnv1a(v.subject.value_or("\x01"));
  h = fnv1a("\x00", h);
  h = fnv1a(v.from.value_or("\x01"), h);
  h = fnv1a(v.mime ? "m" : "t", h);
  h = fnv1a(v.reason, h);
  return fmt::format("auto:{:016x}", h);
}

std::optional<sieve::Vacation> vacationFromTable(std::string_view value, uint64_t once_per) {
  if (trim(value).empty()) return std::nullopt;
  sieve::Vacation v;
  size_t nl = value.find('\n');
  std::string_view subject = value.substr(0, nl);
  if (subject.ends_with('\r')) subject.remove_suffix(1);
  if (!trim(subject).empty()) v.subject = std::string(trim(subject));
  v.reason = nl == std::string_view::npos ? "" : std::string(value.substr(nl + 1));
  v.seconds = once_per;
  v.handle = fmt::format("table:{:016x}", fnv1a(value));
  return v;
}

}  // namespace petrel::delivery
