// DMARC record parser; see record.h. The grammar is RFC 7489 6.4; each check names the ABNF
// rule it enforces.
#include "petrel/dmarc/record.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "petrel/core/strings.h"

namespace petrel::dmarc {

namespace {

bool isWsp(char c) { return c == ' ' || c == '\t'; }
bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Error texts go into logs and `petrel dmarc check` output: control characters and non-ASCII
// as \xNN, at most 100 octets.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 100)) {
    auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u >= 0x7f ? fmt::format("\\x{:02x}", u) : std::string(1, c);
  }
  if (s.size() > 100) out += "...";
  return out;
}

// Whitespace in the sense of the TXT record: RFC 7489 6.4 allows *WSP around every token;
// folding (CRLF) cannot occur in DNS text, but a record written with it is read the same.
std::string_view trimWsp(std::string_view s) {
  while (!s.empty() && (isWsp(s.front()) || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (isWsp(s.back()) || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<Policy> policyValue(std::string_view v) {
  if (iequals(v, "none")) return Policy::None;
  if (iequals(v, "quarantine")) return Policy::Quarantine;
  if (iequals(v, "reject")) return Policy::Reject;
  return std::nullopt;
}

std::optional<Alignment> alignmentValue(std::string_view v) {
  if (iequals(v, "r")) return Alignment::Relaxed;
  if (iequals(v, "s")) return Alignment::Strict;
  return std::nullopt;
}

// dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]; a URI needs at least a scheme
// (ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":") and something after it. Commas and '!'
// inside a URI must be %-encoded (RFC 7489 6.4), so splitting at them is safe.
std::optional<ReportUri> reportUri(std::string_view text) {
  text = trimWsp(text);
  ReportUri out;
  size_t bang = text.rfind('!');
  std::string_view uri = text;
  if (bang != std::string_view::npos) {
    uri = text.substr(0, bang);
    std::string_view size = text.substr(bang + 1);
    uint64_t unit = 1;
    if (!size.empty() && !isDigit(size.back())) {
      switch (size.back() | 0x20) {
        case 'k': unit = 1ull << 10; break;
        case 'm': unit = 1ull << 20; break;
        case 'g': unit = 1ull << 30; break;
        case 't': unit = 1ull << 40; break;
        default: return std::nullopt;
      }
      size.remove_suffix(1);
    }
    // 1*DIGIT: any length that fits 64 bits once multiplied (formatRecord writes bytes).
    auto n = std::all_of(size.begin(), size.end(), isDigit) ? parseUnsigned(size) : std::nullopt;
    if (!n || *n > UINT64_MAX / unit) return std::nullopt;
    out.max_size = *n * unit;
  }
  size_t colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= uri.size() ||
      !isAlpha(uri[0])) {
    return std::nullopt;
  }
  for (char c : uri.substr(0, colon)) {
    if (!(isAlpha(c) || isDigit(c) || c == '+' || c == '-' || c == '.')) return std::nullopt;
  }
  for (char c : uri) {
    auto u = static_cast<unsigned char>(c);
    // RFC 3986: no spaces, ASCII only; RFC 7489 6.4: a '!' in the URI itself is %-encoded.
    if (u <= 0x20 || u >= 0x7f || c == '!') return std::nullopt;
  }
  out.uri = std::string(uri);
  return out;
}

void reportUris(std::string_view tag, std::string_view value, std::vector<ReportUri>& out,
                std::vector<std::string>& warnings) {
  for (std::string_view part : split(value, ',')) {
    auto uri = reportUri(part);
    if (!uri) {
      warnings.push_back(
          fmt::format("{}: '{}' is not a report URI: ignored", tag, printable(trimWsp(part))));
    } else if (out.size() >= MaxReportUris) {
      warnings.push_back(fmt::format("{}: more than {} URIs: '{}' ignored", tag, MaxReportUris,
                                     printable(uri->uri)));
    } else {
      out.push_back(std::move(*uri));
    }
  }
}

// Splits "name = value" at the first '='; nullopt when there is none.
struct Tag {
  std::string_view name;
  std::string_view value;
};
std::optional<Tag> splitTag(std::string_view part) {
  size_t eq = part.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  return Tag{trimWsp(part.substr(0, eq)), trimWsp(part.substr(eq + 1))};
}

// tag-name = ALPHA *ALNUMPUNC (RFC 6376 3.2, which RFC 7489 6.4 borrows), ALNUMPUNC = ALPHA /
// DIGIT / "_".
bool isTagName(std::string_view n) {
  if (n.empty() || !isAlpha(n[0])) return false;
  return std::all_of(n.begin(), n.end(),
                     [](char c) { return isAlpha(c) || isDigit(c) || c == '_'; });
}

Error bad(std::string_view what) { return Error::permanent(std::string(what)); }

}  // namespace

std::string_view policyName(Policy p) {
  switch (p) {
    case Policy::None: return "none";
    case Policy::Quarantine: return "quarantine";
    case Policy::Reject: return "reject";
  }
  return "none";
}

bool isDmarcRecord(std::string_view text) {
  text = trimWsp(text);
  size_t semi = text.find(';');
  std::string_view first = text.substr(0, semi);
  auto tag = splitTag(first);
  return tag && iequals(tag->name, "v") && tag->value == "DMARC1";
}

Result<Record> parseRecord(std::string_view text) {
  if (text.size() > MaxRecordLength) {
    return bad(fmt::format("record of {} octets, more than {}", text.size(), MaxRecordLength));
  }
  if (!isDmarcRecord(text)) {
    return bad(fmt::format("'{}' does not start with v=DMARC1", printable(trimWsp(text))));
  }
  Record r;
  std::set<std::string> seen;
  bool have_p = false;
  bool bad_policy = false;  // p= missing or invalid, or sp= invalid (RFC 7489 6.6.3 step 6)
  std::string policy_problem;
  bool first = true;
  for (std::string_view raw : split(text, ';')) {
    std::string_view part = trimWsp(raw);
    if (part.empty()) continue;  // "v=DMARC1; p=none;" and ";;" are fine
    auto tag = splitTag(part);
    if (!tag) return bad(fmt::format("'{}' is not a tag=value pair", printable(part)));
    if (!isTagName(tag->name)) {
      return bad(fmt::format("'{}' is not a tag name", printable(tag->name)));
    }
    std::string name = toLower(tag->name);
    std::string_view v = tag->value;
    if (first) {  // isDmarcRecord() checked it
      first = false;
      seen.insert(name);
      continue;
    }
    if (!seen.insert(name).second) {
      r.warnings.push_back(fmt::format("{}= repeated: the first one counts", name));
      continue;
    }
    if (name == "v") {
      continue;  // only a repeat can get here, and seen caught it
    } else if (name == "p") {
      if (auto p = policyValue(v)) {
        r.policy = *p;
        have_p = true;
      } else {
        bad_policy = true;
        policy_problem = fmt::format("p={} is not none, quarantine or reject", printable(v));
      }
    } else if (name == "sp") {
      if (auto p = policyValue(v)) {
        r.subdomain_policy = *p;
      } else {
        bad_policy = true;
        policy_problem = fmt::format("sp={} is not none, quarantine or reject", printable(v));
      }
    } else if (name == "pct") {
      // pct = 1*3DIGIT, 0-100
      auto n = v.size() <= 3 ? parseUnsigned(v) : std::nullopt;
      if (!n || *n > 100) return bad(fmt::format("pct={} is not 0 to 100", printable(v)));
      r.percent = static_cast<int>(*n);
    } else if (name == "adkim" || name == "aspf") {
      auto a = alignmentValue(v);
      if (!a) return bad(fmt::format("{}={} is not r or s", name, printable(v)));
      (name == "adkim" ? r.dkim_alignment : r.spf_alignment) = *a;
    } else if (name == "rua") {
      reportUris(name, v, r.aggregate, r.warnings);
    } else if (name == "ruf") {
      reportUris(name, v, r.failure, r.warnings);
    } else if (name == "fo") {
      // fo = ( "0" / "1" / "d" / "s" ) *( *WSP ":" *WSP ( "0" / "1" / "d" / "s" ) )
      std::string options;
      for (std::string_view o : split(v, ':')) {
        o = trimWsp(o);
        if (o.size() != 1 || std::string_view("01dsDS").find(o[0]) == std::string_view::npos) {
          return bad(fmt::format("fo={} is not a list of 0, 1, d and s", printable(v)));
        }
        if (!options.empty()) options += ':';
        options += static_cast<char>(o[0] | 0x20);
      }
      r.failure_options = options;
    } else if (name == "rf") {
      // rf = Keyword *( *WSP ":" Keyword ), Keyword = ALPHA / DIGIT / "-" / "_" ...
      std::string formats;
      for (std::string_view k : split(v, ':')) {
        k = trimWsp(k);
        if (k.empty() || !std::all_of(k.begin(), k.end(), [](char c) {
              return isAlpha(c) || isDigit(c) || c == '-' || c == '_';
            })) {
          return bad(fmt::format("rf={} is not a list of report formats", printable(v)));
        }
        if (!formats.empty()) formats += ':';
        formats += toLower(k);
      }
      r.report_format = formats;
    } else if (name == "ri") {
      // ri = 1*32DIGIT; larger than 32 bits is read as the largest (a day is what matters)
      if (v.empty() || v.size() > 32 || !std::all_of(v.begin(), v.end(), isDigit)) {
        return bad(fmt::format("ri={} is not a number of seconds", printable(v)));
      }
      auto n = v.size() <= 10 ? parseUnsigned(v) : std::nullopt;
      r.report_interval = n && *n <= UINT32_MAX ? static_cast<uint32_t>(*n) : UINT32_MAX;
    }
    // RFC 7489 6.3: unknown tags MUST be ignored.
  }
  if (!have_p && !bad_policy) {
    bad_policy = true;
    policy_problem = "no p= tag";
  }
  if (bad_policy) {
    if (r.aggregate.empty()) return bad(policy_problem);
    // RFC 7489 6.6.3 step 6.1: act as "v=DMARC1; p=none" with the report addresses.
    r.warnings.push_back(policy_problem + ": read as p=none (the record has rua=)");
    r.policy = Policy::None;
    r.subdomain_policy.reset();
    r.policy_defaulted = true;
  }
  return r;
}

std::string formatRecord(const Record& r) {
  std::string out = fmt::format("v=DMARC1; p={}", policyName(r.policy));
  if (r.subdomain_policy) out += fmt::format("; sp={}", policyName(*r.subdomain_policy));
  if (r.percent != 100) out += fmt::format("; pct={}", r.percent);
  if (r.dkim_alignment == Alignment::Strict) out += "; adkim=s";
  if (r.spf_alignment == Alignment::Strict) out += "; aspf=s";
  auto uris = [](const std::vector<ReportUri>& list) {
    std::string s;
    for (const auto& u : list) {
      if (!s.empty()) s += ',';
      s += u.uri;
      if (u.max_size != 0) s += fmt::format("!{}", u.max_size);
    }
    return s;
  };
  if (!r.aggregate.empty()) out += "; rua=" + uris(r.aggregate);
  if (!r.failure.empty()) out += "; ruf=" + uris(r.failure);
  if (r.failure_options != "0") out += "; fo=" + r.failure_options;
  if (r.report_format != "afrf") out += "; rf=" + r.report_format;
  if (r.report_interval != 86400) out += fmt::format("; ri={}", r.report_interval);
  return out;
}

}  // namespace petrel::dmarc
