// signer.h: the field is built tag by tag with folding decided as it goes, b= empty; that text
// is hashed with the signed fields exactly as a verifier will (signedHeaderData), signed, and
// the signature appended, folded, after "b=".
#include "petrel/dkim/signer.h"

#include <fmt/format.h>

#include <map>

#include "petrel/core/base64.h"
#include "petrel/core/strings.h"
#include "petrel/dkim/verifier.h"

namespace petrel::dkim {

namespace {

constexpr size_t MaxColumns = 78;

// Builds a folded header field: pieces are appended to the current line when they fit, and
// start a new "\t"-indented line when they do not.
class Folder {
 public:
  explicit Folder(std::string start) : text_(std::move(start)), column_(text_.size()) {}

  // A unit that must not be split (a tag with its value, or a piece of one).
  void add(std::string_view piece, bool space_before) {
    size_t need = piece.size() + (space_before ? 1 : 0);
    if (column_ + need > MaxColumns && column_ > 1) {
      text_ += "\r\n\t";
      column_ = 1;
      space_before = false;
    }
    if (space_before) {
      text_ += ' ';
      ++column_;
    }
    text_ += piece;
    column_ += piece.size();
  }
  // Base64 that may break anywhere (FWS inside a base64string is allowed, RFC 6376 2.4).
  void addBreakable(std::string_view data) {
    while (!data.empty()) {
      if (column_ >= MaxColumns) {
        text_ += "\r\n\t";
        column_ = 1;
      }
      size_t room = MaxColumns - column_;
      std::string_view part = data.substr(0, room);
      text_ += part;
      column_ += part.size();
      data.remove_prefix(part.size());
    }
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  size_t column_;
};

}  // namespace

const std::vector<std::string>& defaultSignedHeaders() {
  static const std::vector<std::string> list = {
      "From",       "Reply-To",    "Subject",    "Date",
      "To",         "Cc",          "Resent-Date", "Resent-From",
      "Resent-To",  "Resent-Cc",   "In-Reply-To", "References",
      "List-Id",    "List-Help",   "List-Unsubscribe", "List-Subscribe",
      "List-Post",  "List-Owner",  "List-Archive", "Message-ID",
      "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Content-ID",
      "Content-Description", "Sender"};
  return list;
}

std::string keyProblem(const tls::PrivateKey& key, Algorithm algorithm) {
  if (!key.valid()) return "no key";
  switch (algorithm) {
    case Algorithm::RsaSha256:
      if (key.type() != tls::KeyType::Rsa) return "the key is not an RSA key (algorithm rsa-sha256)";
      if (key.bits() < 1024) {
        return fmt::format("the RSA key has {} bits; at least 1024 are needed (RFC 8301)",
                           key.bits());
      }
      return "";
    case Algorithm::Ed25519Sha256:
      if (key.type() != tls::KeyType::Ed25519) {
        return "the key is not an Ed25519 key (algorithm ed25519-sha256)";
      }
      return "";
    case Algorithm::RsaSha1: return "rsa-sha1 is not used for signing (RFC 8301)";
  }
  return "unknown algorithm";
}

std::string keyRecordText(const tls::PublicKey& key) {
  return fmt::format("v=DKIM1; k={}; p={}", key.type() == tls::KeyType::Ed25519 ? "ed25519" : "rsa",
                     base64Encode(key.dkimKeyData()));
}

Signer::Signer(SignSpec spec, uint64_t now)
    : spec_(std::move(spec)), now_(now), body_(spec_.body_canon) {}

void Signer::feedBody(std::string_view chunk) { body_.feed(chunk); }

Result<std::string> Signer::finish(const std::vector<content::HeaderField>& fields) {
  if (auto problem = keyProblem(spec_.key, spec_.algorithm); !problem.empty()) {
    return Error::config(problem);
  }
  std::string bh = base64Encode(body_.finish());

  // h=: each listed name once per instance present (From one extra when the default list is
  // used; names listed twice in the spec come out once more each).
  const auto& wanted = spec_.headers.empty() ? defaultSignedHeaders() : spec_.headers;
  std::map<std::string, size_t> listed;
  for (const auto& w : wanted) ++listed[toLower(w)];
  std::vector<std::string> names;
  std::map<std::string, bool> done;
  for (const auto& w : wanted) {
    std::string key = toLower(w);
    if (done[key]) continue;
    done[key] = true;
    size_t present = 0;
    for (const auto& f : fields) present += iequals(f.name, key) ? 1 : 0;
    size_t extra = listed[key] - 1;
    if (spec_.headers.empty() && key == "from") extra = 1;
    for (size_t i = 0; i < present + extra; ++i) names.push_back(w);
  }

  Folder f("DKIM-Signature:");
  f.add("v=1;", true);
  f.add(fmt::format("a={};", algorithmName(spec_.algorithm)), true);
  f.add(fmt::format("c={}/{};", canonName(spec_.header_canon), canonName(spec_.body_canon)), true);
  f.add(fmt::format("d={};", spec_.domain), true);
  f.add(fmt::format("s={};", spec_.selector), true);
  if (!spec_.identity.empty()) f.add(fmt::format("i={};", spec_.identity), true);
  f.add(fmt::format("t={};", now_), true);
  // h= broken after its colons.
  for (size_t i = 0; i < names.size(); ++i) {
    std::string piece = (i == 0 ? "h=" : "") + names[i] + (i + 1 == names.size() ? ";" : ":");
    f.add(piece, i == 0);
  }
  f.add("bh=", true);
  f.addBreakable(bh + ";");
  f.add("b=", true);
  std::string unsigned_field = f.text() + "\r\n";

  std::string digest = tls::sha256(
      signedHeaderData(fields, names, spec_.header_canon, "DKIM-Signature", unsigned_field));
  auto sig = spec_.algorithm == Algorithm::Ed25519Sha256 ? spec_.key.signEd25519(digest)
                                                          : spec_.key.signRsaSha256(digest);
  if (!sig) return sig.error();
  f.addBreakable(base64Encode(*sig));
  return f.text() + "\r\n";
}

}  // namespace petrel::dkim
