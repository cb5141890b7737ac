// The aggregate-report store; see report_store.h.
#include "petrel/dmarc/report_store.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include "petrel/core/strings.h"
#include "petrel/sqlite/database.h"

namespace petrel::dmarc {

namespace {

constexpr const char* Schema = R"sql(
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  policy_domain TEXT NOT NULL,
  published TEXT NOT NULL,
  rua TEXT NOT NULL,
  source_ip TEXT NOT NULL,
  header_from TEXT NOT NULL,
  envelope_from TEXT NOT NULL,
  envelope_to TEXT NOT NULL,
  disposition TEXT NOT NULL,
  dkim_aligned INTEGER NOT NULL,
  spf_aligned INTEGER NOT NULL,
  reasons TEXT NOT NULL,
  spf_domain TEXT,
  spf_result TEXT,
  spf_helo INTEGER NOT NULL,
  dkim TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_domain_time ON messages (policy_domain, time);
PRAGMA user_version = 1;
)sql";

Disposition dispositionOf(std::string_view s) {
  if (s == "reject") return Disposition::Reject;
  if (s == "quarantine") return Disposition::Quarantine;
  return Disposition::None;
}

// DKIM results as "domain\tresult\n" lines; neither part holds a tab or a newline (domains
// are DNS text, results words), and anything that does is cut there.
std::string encodeDkim(const std::vector<DkimInput>& dkim) {
  std::string out;
  auto part = [](const std::string& s) { return s.substr(0, s.find_first_of("\t\n")); };
  for (const auto& d : dkim) out += part(d.domain) + '\t' + part(d.result) + '\n';
  return out;
}

std::vector<DkimInput> decodeDkim(std::string_view text) {
  std::vector<DkimInput> out;
  for (std::string_view line : split(text, '\n')) {
    size_t tab = line.find('\t');
    if (tab == std::string_view::npos) continue;
    out.push_back({std::string(line.substr(0, tab)), std::string(line.substr(tab + 1))});
  }
  return out;
}

}  // namespace

ReportStore::ReportStore(std::unique_ptr<sqlite::Database> db) : db_(std::move(db)) {}
ReportStore::~ReportStore() = default;

Result<std::unique_ptr<ReportStore>> ReportStore::open(const std::string& path) {
  std::string label = fmt::format("dmarc report database {}", path);
  sqlite::OpenOptions options;
  options.create = true;
  auto db = sqlite::Database::open(path, options, label);
  if (!db) return Error::temporary(fmt::format("{}: {}", label, db.error().message()));
  if (path != ":memory:") {
    ::chmod(path.c_str(), 0600);
    if (auto st = (*db)->exec("PRAGMA journal_mode=WAL"); !st) return st.error();
  }
  if (auto st = (*db)->exec("PRAGMA synchronous=NORMAL"); !st) return st.error();
  if (auto st = (*db)->exec(Schema); !st) return st.error();
  return std::unique_ptr<ReportStore>(new ReportStore(std::move(db.value())));
}

Status ReportStore::add(const ReportRecord& r) {
  std::lock_guard lock(mutex_);
  auto s = db_->stmt(
      "INSERT INTO messages (time, policy_domain, published, rua, source_ip, header_from, "
      "envelope_from, envelope_to, disposition, dkim_aligned, spf_aligned, reasons, spf_domain, "
      "spf_result, spf_helo, dkim) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
      "?13, ?14, ?15, ?16)");
  if (!s) return s.error();
  sqlite::Statement& st = **s;
  std::string reasons;
  for (const auto& reason : r.reasons) reasons += (reasons.empty() ? "" : ",") + reason;
  st.bind(1, r.time)
      .bind(2, r.policy_domain)
      .bind(3, r.published)
      .bind(4, r.rua)
      .bind(5, r.source_ip)
      .bind(6, r.header_from)
      .bind(7, r.envelope_from)
      .bind(8, r.envelope_to)
      .bind(9, dispositionName(r.disposition))
      .bind(10, int64_t{r.dkim_aligned})
      .bind(11, int64_t{r.spf_aligned})
      .bind(12, reasons)
      .bind(15, int64_t{r.spf_helo})
      .bind(16, encodeDkim(r.dkim));
  if (r.spf) {
    st.bind(13, r.spf->domain).bind(14, r.spf->result);
  } else {
    st.bindNull(13).bindNull(14);
  }
  if (st.bindFailed()) return Error::temporary(db_->label() + ": cannot bind a value");
  return st.run();
}

Result<std::vector<std::string>> ReportStore::policyDomains(int64_t begin, int64_t end) {
  std::lock_guard lock(mutex_);
  auto s = db_->stmt(
      "SELECT DISTINCT policy_domain FROM messages WHERE time >= ?1 AND time < ?2 "
      "ORDER BY policy_domain");
  if (!s) return s.error();
  sqlite::Statement& st = **s;
  st.bind(1, begin).bind(2, end);
  std::vector<std::string> out;
  for (;;) {
    auto row = st.step();
    if (!row) {
      st.reset();
      return row.error();
    }
    if (!*row) break;
    out.push_back(st.text(0));
  }
  st.reset();
  return out;
}

Result<std::vector<ReportRecord>> ReportStore::records(std::string_view policy_domain,
                                                       int64_t begin, int64_t end) {
  std::lock_guard lock(mutex_);
  auto s = db_->stmt(
      "SELECT time, policy_domain, published, rua, source_ip, header_from, envelope_from, "
      "envelope_to, disposition, dkim_aligned, spf_aligned, reasons, spf_domain, spf_result, "
      "spf_helo, dkim FROM messages WHERE policy_domain = ?1 AND time >= ?2 AND time < ?3 "
      "ORDER BY id");
  if (!s) return s.error();
  sqlite::Statement& st = **s;
  st.bind(1, policy_domain).bind(2, begin).bind(3, end);
  std::vector<ReportRecord> out;
  for (;;) {
    auto row = st.step();
    if (!row) {
      st.reset();
      return row.error();
    }
    if (!*row) break;
    ReportRecord r;
    r.time = st.integer(0);
    r.policy_domain = st.text(1);
    r.published = st.text(2);
    r.rua = st.text(3);
    r.source_ip = st.text(4);
    r.header_from = st.text(5);
    r.envelope_from = st.text(6);
    r.envelope_to = st.text(7);
    r.disposition = dispositionOf(st.textView(8));
    r.dkim_aligned = st.integer(9) != 0;
    r.spf_aligned = st.integer(10) != 0;
    std::string reasons = st.text(11);
    if (!reasons.empty()) {
      for (std::string_view w : split(reasons, ',')) r.reasons.emplace_back(w);
    }
    if (!st.isNull(12)) r.spf = SpfInput{st.text(13), st.text(12)};
    r.spf_helo = st.integer(14) != 0;
    r.dkim = decodeDkim(st.textView(15));
    out.push_back(std::move(r));
  }
  st.reset();
  return out;
}

Result<size_t> ReportStore::purge(int64_t before) {
  std::lock_guard lock(mutex_);
  auto s = db_->stmt("DELETE FROM messages WHERE time < ?1");
  if (!s) return s.error();
  (*s)->bind(1, before);
  if (auto st = (*s)->run(); !st) return st.error();
  return static_cast<size_t>(db_->changes());
}

}  // namespace petrel::dmarc
