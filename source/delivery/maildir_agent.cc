// MaildirAgent: deliveries -> one Maildir batch; see delivery/maildir_agent.h.
#include "petrel/delivery/maildir_agent.h"

#include <fmt/format.h>

#include "petrel/delivery/maildir.h"

namespace petrel::delivery {

namespace {

// Wire-format lines as a Maildir file stores them (header_prefix is written as is).
std::string lfLines(std::string_view wire) {
  std::string out;
  out.reserve(wire.size());
  for (size_t i = 0; i < wire.size(); ++i) {
    if (wire[i] == '\r' && i + 1 < wire.size() && wire[i + 1] == '\n') continue;
    out += wire[i];
  }
  return out;
}

}  // namespace

MaildirAgent::MaildirAgent(bool fsync, std::string hostname)
    : fsync_(fsync), hostname_(std::move(hostname)) {}

void MaildirAgent::deliver(const std::vector<Delivery*>& deliveries, Done done) {
  std::vector<MaildirItem> items;
  for (const Delivery* d : deliveries) {
    const AgentMessage& am = *d->message;
    const queue::StoredMessage& m = *am.stored;
    for (size_t index : d->recipients) {
      const std::string& address = m.recipients[index].address;
      MaildirItem item;
      item.maildir = d->target.maildir;
      item.header_prefix = fmt::format("Return-Path: <{}>\nDelivered-To: {}\n", am.sender, address);
      item.header_prefix += lfLines(m.header_prefix);
      if (am.header != nullptr && am.header->changed > 0) {
        item.header_prefix += lfLines(am.header->header);
        item.body_offset = am.header->original_size;
      }
      if (m.spool_path.empty()) {
        item.body = m.body;
      } else {
        item.body_path = m.spool_path;
      }
      items.push_back(std::move(item));
    }
  }
  deliverMaildirBatch(items, fsync_, hostname_);
  size_t i = 0;
  for (Delivery* d : deliveries) {
    d->reports.clear();
    for (size_t k = 0; k < d->recipients.size(); ++k, ++i) {
      RecipientReport r;
      if (items[i].result) {
        r.status = RecipientReport::Status::Delivered;
        r.dsn = "2.0.0";
        r.text = "delivered to maildir";
      } else {
        r.dsn = "4.3.0";
        r.text = items[i].result.error().message();
      }
      d->reports.push_back(std::move(r));
    }
  }
  done();
}

}  // namespace petrel::delivery
