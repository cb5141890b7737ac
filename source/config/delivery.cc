// The `delivery:` section: how the Maildir agent writes (fsync).
#include <fmt/format.h>

#include "loader.h"

namespace petrel::config::detail {

void Loader::loadDelivery(const Section& top, Config& c) {
  const Field* f = top.find("delivery");
  if (f == nullptr) {
    return;
  }
  Section delivery(reporter_, *f);
  delivery.allowOnly({"maildir"});
  if (const Field* m = delivery.find("maildir")) {
    Section maildir(reporter_, *m);
    maildir.allowOnly({"fsync"});
    setBool(maildir, "fsync", c.delivery.maildir_fsync);
  }
}

}  // namespace petrel::config::detail
