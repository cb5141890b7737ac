// The `delivery:` section: the transport of local mailboxes (transports.cc reads it), how the
// Maildir agent writes (fsync), the Sieve scripts it runs (paths only: the server compiles
// them, so a script's own errors name the script's file), the table-driven vacation replies
// (delivery.vacation: table, once_per) and the mailbox quotas (docs/quota.md).
#include <fmt/format.h>

#include "loader.h"

namespace petrel::config::detail {

void Loader::loadDelivery(const Section& top, Config& c) {
  const Field* f = top.find("delivery");
  if (f == nullptr) {
    return;
  }
  Section delivery(reporter_, *f);
  delivery.allowOnly({"maildir", "sieve", "transport", "vacation", "quota"});
  if (const Field* t = delivery.find("transport")) {
    loadDeliveryTransport(*t, c);
  }
  if (const Field* m = delivery.find("maildir")) {
    Section maildir(reporter_, *m);
    maildir.allowOnly({"fsync"});
    setBool(maildir, "fsync", c.delivery.maildir_fsync);
  }
  if (const Field* f = delivery.find("sieve")) {
    Section sieve(reporter_, *f);
    sieve.allowOnly({"global_before", "global_after", "user_scripts", "global_dir"});
    Delivery::Sieve& s = c.delivery.sieve;
    setPath(sieve, "global_before", s.global_before);
    setPath(sieve, "global_after", s.global_after);
    setPath(sieve, "global_dir", s.global_dir);
    // user_scripts: a table when it reads as one (type:argument, or a name under tables:),
    // else a directory.
    if (const Field* u = sieve.find("user_scripts")) {
      const std::string ref = u->value.IsScalar() ? u->value.Scalar() : std::string();
      if (ref.find(':') != std::string::npos || c.tables.contains(ref)) {
        s.user_table = tableRef(*u, c);
      } else {
        setPath(sieve, "user_scripts", s.user_scripts);
      }
    }
    s.origin = reporter_.where(f->mark());
  }
  if (const Field* f = delivery.find("vacation")) {
    Section vacation(reporter_, *f);
    vacation.allowOnly({"table", "once_per"});
    if (const Field* t = vacation.find("table")) c.delivery.vacation.table = tableRef(*t, c);
    setDuration(vacation, "once_per", c.delivery.vacation.once_per);
  }
  if (const Field* f = delivery.find("quota")) {
    Section quota(reporter_, *f);
    quota.allowOnly({"table", "default", "over_quota"});
    Delivery::Quota& q = c.delivery.quota;
    q.enabled = true;
    if (const Field* t = quota.find("table"); t != nullptr && !t->value.IsNull()) {
      q.table = tableRef(*t, c);
    }
    // 0 is the default's meaning (unlimited), which sizes elsewhere do not allow.
    if (const Field* d = quota.find("default");
        d == nullptr || !d->value.IsScalar() || d->value.Scalar() != "0") {
      setSize(quota, "default", q.default_bytes);
    }
    if (const Field* o = quota.find("over_quota")) {
      if (auto bounce = oneOf<bool>(*o, {{"defer", false}, {"bounce", true}})) q.bounce = *bounce;
    }
  }
}

}  // namespace petrel::config::detail
