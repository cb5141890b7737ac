// Mail made at delivery: redirect copies and vacation replies; see
// headers/petrel/delivery/generated_mail.h.
#include "petrel/delivery/generated_mail.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <random>

#include "petrel/core/strings.h"
#include "petrel/delivery/vacation_store.h"
#include "petrel/sieve/addresses.h"

namespace petrel::delivery {

namespace {

std::optional<std::string> readAll(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
  }
  ::close(fd);
  return out;
}

// A Message-ID no other reply shares: time, a per-process random number and a counter.
std::string replyMessageId(int64_t now, const std::string& hostname) {
  static const uint64_t process = std::random_device{}();
  static std::atomic<uint64_t> counter{0};
  return fmt::format("<{:x}.{:x}.{}.vacation@{}>", now, process & 0xffffffff, ++counter,
                     hostname.empty() ? "localhost" : hostname);
}

}  // namespace

AutoReplyPtr loadAutoReplies(const config::Config& cfg, const lookup::Warn& warn) {
  auto s = std::make_shared<AutoReplySettings>();
  if (cfg.delivery.vacation.table) s->table = lookup::makeTable(*cfg.delivery.vacation.table, warn);
  s->once_per = std::max<uint64_t>(1, cfg.delivery.vacation.once_per);
  s->store_path = cfg.state_dir + "/vacation.db";
  s->hostname = cfg.hostname;
  s->recipient_delimiter = cfg.recipient_delimiter;
  return s;
}

std::optional<std::string> deliveredContent(const AgentMessage& am) {
  const queue::StoredMessage& m = *am.stored;
  std::string text = m.header_prefix;
  std::string from_file;
  std::string_view rest = m.body;
  if (!m.spool_path.empty()) {
    auto read = readAll(m.spool_path);
    if (!read) return std::nullopt;
    from_file = std::move(*read);
    rest = from_file;
  }
  if (am.header != nullptr && am.header->changed > 0) {
    text += am.header->header;
    rest = rest.substr(std::min(rest.size(), am.header->original_size));
  }
  text.append(rest);
  return text;
}

bool alreadyDeliveredTo(std::span<const content::HeaderField> fields, std::string_view recipient) {
  for (const auto& f : fields) {
    if (!iequals(f.name, "Delivered-To")) continue;
    if (iequals(trim(sieve::headerValue(f.value(), false)), recipient)) return true;
  }
  return false;
}

GeneratedMessage redirectCopy(std::string_view content, std::string_view sender,
                              std::string_view recipient, std::string_view target) {
  GeneratedMessage g;
  g.kind = "sieve redirect";
  g.sender = std::string(sender);  // SRS, when the target is foreign: server::queueGenerated
  g.recipients.emplace_back(target);
  g.content = fmt::format("Delivered-To: {}\r\n", recipient);
  g.content.append(content);
  return g;
}

AutoReplyOutcome autoReply(const AutoReplyQuery& q) {
  AutoReplyOutcome out;
  std::optional<sieve::Vacation> from_table;
  const sieve::Vacation* vacation = q.sieve_vacation;
  if (vacation == nullptr) {
    if (q.settings == nullptr || !q.settings->table) return out;
    auto r = q.settings->table->lookup(toLower(q.recipient));
    if (r.status == lookup::LookupStatus::NotFound) return out;
    if (r.status != lookup::LookupStatus::Found) {
      // A vacation is not worth a deferral of the mail itself: no reply this time.
      out.note = fmt::format("{}: lookup failed; no reply", q.settings->table->describe());
      return out;
    }
    from_table = vacationFromTable(r.value, q.settings->once_per);
    if (!from_table) return out;
    vacation = &*from_table;
  }
  std::vector<std::string> addresses = vacation->addresses;
  VacationDecision decision = decideVacation(VacationQuery{
      q.sender, q.recipient, addresses,
      q.settings ? std::string_view(q.settings->recipient_delimiter) : "+", q.fields});
  if (!decision.reply) {
    out.note = fmt::format("no reply to <{}>: {}", q.sender, decision.why);
    return out;
  }
  if (q.settings == nullptr) {
    out.note = "no reply: no vacation database";
    return out;
  }
  auto store = sharedVacationStore(q.settings->store_path);
  if (!store) {
    // Without the memory a sender could get a reply per message: none at all instead.
    out.note = fmt::format("no reply: {}", store.error().message());
    return out;
  }
  auto claimed =
      (*store)->claim(q.recipient, q.sender, vacationHandle(*vacation), q.now, vacation->seconds);
  if (!claimed) {
    out.note = fmt::format("no reply: {}", claimed.error().message());
    return out;
  }
  if (!*claimed) {
    out.note = fmt::format("no reply to <{}>: already replied within {} days", q.sender,
                           (vacation->seconds + 86399) / 86400);
    return out;
  }
  std::string date = rfc5322Date(q.now);
  std::string message_id = replyMessageId(q.now, q.settings->hostname);
  GeneratedMessage g;
  g.kind = "vacation reply";
  g.dkim_sign = true;
  g.sender = "";  // RFC 3834 3.3 / RFC 5230 4.3: from <>, so nothing answers the answer
  g.recipients.emplace_back(q.sender);
  g.content = composeVacationReply(
      VacationReplyInput{q.sender, q.recipient, vacation, q.fields, date, message_id});
  out.reply = std::move(g);
  return out;
}

}  // namespace petrel::delivery
