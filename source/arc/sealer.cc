// sealer.h: the AAR first (the AMS may sign it), then the AMS over the header with the new AAR
// on top, then the AS over the sets 1..N+1 (only N+1 for a failed chain). Each signature is
// computed over the unfolded text with b= empty, exactly as a verifier canonicalizes it.
#include "petrel/arc/sealer.h"

#include <fmt/format.h>

#include "petrel/core/base64.h"
#include "petrel/core/strings.h"
#include "petrel/dkim/signer.h"
#include "petrel/dkim/verifier.h"

namespace petrel::arc {

namespace {

constexpr size_t MaxColumns = 78;

bool isFws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && isFws(s.front())) s.remove_prefix(1);
  while (!s.empty() && isFws(s.back())) s.remove_suffix(1);
  return s;
}

// An Authentication-Results payload split at the ';' that separate its parts (not those in a
// quoted string or a comment), each part unfolded, without control characters, trimmed; empty
// parts dropped. The first part is the authserv-id (with its version, if any).
std::vector<std::string> payloadParts(std::string_view payload) {
  std::vector<std::string> parts;
  std::string cur;
  bool quoted = false;
  int comment = 0;
  auto flush = [&] {
    std::string_view t = trimmed(cur);
    if (!t.empty()) parts.emplace_back(t);
    cur.clear();
  };
  for (size_t i = 0; i < payload.size() && payload.size() <= 65536; ++i) {
    char c = payload[i];
    auto u = static_cast<unsigned char>(c);
    if (c == '\r' || c == '\n') continue;
    if (u < 0x20 && c != '\t') continue;
    if (u == 0x7f) continue;
    if (quoted) {
      if (c == '\\' && i + 1 < payload.size()) {
        cur += c;
        c = payload[++i];
      } else if (c == '"') {
        quoted = false;
      }
    } else if (comment > 0) {
      if (c == '(') ++comment;
      if (c == ')') --comment;
    } else if (c == '"') {
      quoted = true;
    } else if (c == '(') {
      comment = 1;
    } else if (c == ';') {
      flush();
      continue;
    }
    cur += c;
  }
  flush();
  return parts;
}

// The authserv-id of a payload's first part: its first word.
std::string_view authservOf(std::string_view first) {
  size_t end = 0;
  while (end < first.size() && !isFws(first[end]) && first[end] != '(') ++end;
  return first.substr(0, end);
}

// "Name: " + pieces joined: with one space, or folded before a piece that would pass column
// 78. A piece starting "b=" may break anywhere after its first 2 octets (base64 with FWS).
std::string layOut(std::string_view name, const std::vector<std::string>& pieces, bool fold) {
  std::string text = std::string(name) + ":";
  size_t column = text.size();
  for (const auto& piece : pieces) {
    if (!fold) {
      text += ' ';
      text += piece;
      continue;
    }
    bool breakable = piece.rfind("b=", 0) == 0;
    if (column + 1 + (breakable ? 3 : piece.size()) > MaxColumns) {
      text += "\r\n\t";
      column = 1;
    } else {
      text += ' ';
      ++column;
    }
    if (!breakable) {
      text += piece;
      column += piece.size();
      continue;
    }
    std::string_view rest = piece;
    while (!rest.empty()) {
      if (column >= MaxColumns) {
        text += "\r\n\t";
        column = 1;
      }
      std::string_view part = rest.substr(0, MaxColumns - column);
      text += part;
      column += part.size();
      rest.remove_prefix(part.size());
    }
  }
  return text + "\r\n";
}

Result<std::string> signDigest(const SealSpec& spec, std::string_view data) {
  std::string digest = tls::sha256(data);
  return spec.algorithm == dkim::Algorithm::Ed25519Sha256 ? spec.key.signEd25519(digest)
                                                          : spec.key.signRsaSha256(digest);
}

}  // namespace

Sealer::Sealer(SealSpec spec, uint64_t now)
    : spec_(std::move(spec)), now_(now), body_(dkim::Canon::Relaxed) {}

void Sealer::feedBody(std::string_view chunk) { body_.feed(chunk); }

Result<SealedSet> Sealer::finish(const std::vector<content::HeaderField>& fields,
                                 std::string_view auth_results, const ChainResult& chain) {
  if (auto problem = dkim::keyProblem(spec_.key, spec_.algorithm); !problem.empty()) {
    return Error::config(problem);
  }
  if (chain.ended) {
    return Error::permanent(fmt::format("the chain has ended (cv=fail at i={}): no ARC set is added",
                                        chain.instances));
  }
  SealedSet out;
  out.cv = chain.status;
  out.instance = chain.status == ChainStatus::None ? 1 : chain.instances + 1;
  if (out.instance > MaxInstance) {
    return Error::permanent(fmt::format("the chain has {} sets already: no ARC set is added",
                                        MaxInstance));
  }
  std::vector<SetFields> covered;
  if (chain.status == ChainStatus::Pass) {
    Sets found = collectSets(fields);
    if (!found.error.empty() || static_cast<int>(found.sets.size()) != chain.instances) {
      return Error::permanent("the message's ARC sets are not the chain that was validated");
    }
    covered = std::move(found.sets);
  }
  std::string domain = toLower(spec_.domain);
  std::string selector = toLower(spec_.selector);
  std::string alg(dkim::algorithmName(spec_.algorithm));
  std::string t = std::to_string(now_);
  std::string i = std::to_string(out.instance);

  // ARC-Authentication-Results: i=N; authserv-id; result; result ...
  std::vector<std::string> parts = payloadParts(auth_results);
  std::string_view given = trimmed(auth_results);
  if (parts.empty() || given.empty() || given.front() == ';' || authservOf(parts[0]).empty()) {
    return Error::permanent("no authserv-id in the Authentication-Results given");
  }
  std::string aar = fmt::format("{}: i={}; {}", AuthResultsName, i, parts[0]);
  for (size_t k = 1; k < parts.size(); ++k) aar += (k == 1 ? "; " : ";\r\n  ") + parts[k];
  aar += "\r\n";
  out.auth_results = aar;

  // ARC-Message-Signature over the header with the new AAR on top.
  std::vector<content::HeaderField> with_aar;
  with_aar.reserve(fields.size() + 1);
  with_aar.push_back(content::HeaderField{std::string(AuthResultsName), aar});
  with_aar.insert(with_aar.end(), fields.begin(), fields.end());
  std::vector<std::string> names;
  if (!spec_.headers.empty()) {
    for (const auto& h : spec_.headers) names.push_back(toLower(h));
  } else {
    for (const auto& h : dkim::defaultSignedHeaders()) {
      for (const auto& f : fields) {
        if (iequals(f.name, h)) names.push_back(toLower(h));
      }
    }
  }
  std::string h;
  for (const auto& n : names) h += (h.empty() ? "" : ":") + n;
  std::string bh = base64Encode(body_.finish());
  auto ams_pieces = [&](const std::string& b) {
    return std::vector<std::string>{"a=" + alg + ";", "b=" + b + ";", "bh=" + bh + ";",
                                    "c=relaxed/relaxed;", "d=" + domain + ";", "h=" + h + ";",
                                    "i=" + i + ";", "s=" + selector + ";", "t=" + t};
  };
  std::string ams_unsigned = layOut(MessageSignatureName, ams_pieces(""), false);
  auto ams_sig = signDigest(
      spec_, dkim::signedHeaderData(with_aar, names, dkim::Canon::Relaxed, MessageSignatureName,
                                    ams_unsigned));
  if (!ams_sig) return ams_sig.error();
  out.message_signature = layOut(MessageSignatureName, ams_pieces(base64Encode(*ams_sig)), spec_.fold);

  // ARC-Seal over the sets (5.1.1), or only the new one for a failed chain (5.1.2).
  auto as_pieces = [&](const std::string& b) {
    return std::vector<std::string>{"a=" + alg + ";", "b=" + b + ";",
                                    fmt::format("cv={};", chainStatusName(out.cv)),
                                    "d=" + domain + ";", "i=" + i + ";", "s=" + selector + ";",
                                    "t=" + t};
  };
  std::string as_unsigned = layOut(SealName, as_pieces(""), false);
  covered.push_back(SetFields{out.instance,
                              {std::string(AuthResultsName), aar},
                              {std::string(MessageSignatureName), out.message_signature},
                              {std::string(SealName), as_unsigned}});
  auto as_sig = signDigest(spec_, sealedData(covered));
  if (!as_sig) return as_sig.error();
  out.seal = layOut(SealName, as_pieces(base64Encode(*as_sig)), spec_.fold);
  return out;
}

std::optional<std::string> consolidatedAuthResults(const std::vector<content::HeaderField>& fields,
                                                   std::string_view authserv_id,
                                                   std::string_view drop_method) {
  std::vector<std::string> results;
  bool found = false;
  for (const auto& f : fields) {
    if (!iequals(f.name, "Authentication-Results")) continue;
    auto parts = payloadParts(f.value());
    if (parts.empty() || !iequals(authservOf(parts[0]), authserv_id)) continue;
    found = true;
    for (size_t k = 1; k < parts.size(); ++k) {
      std::string_view method = std::string_view(parts[k]).substr(0, parts[k].find('='));
      if (!drop_method.empty() && iequals(trimmed(method), drop_method)) continue;
      results.push_back(parts[k]);
    }
  }
  if (!found) return std::nullopt;
  std::string out(authserv_id);
  for (size_t k = 0; k < results.size(); ++k) out += (k == 0 ? "; " : ";\r\n  ") + results[k];
  return out;
}

}  // namespace petrel::arc
