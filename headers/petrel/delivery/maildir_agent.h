// MaildirAgent: the local delivery agent (Postfix's virtual(8)), a blocking DeliveryAgent.
//
// With delivery.sieve, each recipient's scripts decide the folders (sieve_filter.h): one item
// per folder, none for a discard; Maildir++ folders are created as Dovecot lays them out.
// Once a recipient's copies are stored, the mail its scripts asked for is made
// (generated_mail.h) and returned in its report: a copy per redirect, a vacation reply (or
// delivery.vacation's table reply); a reject bounces the recipient instead (5.7.1).
//
// It turns each recipient of each delivery into one MaildirItem (Return-Path and
// Delivered-To first, then the header as canonical.headers rewrote it, then the stored body
// or its spool file, never copied) and writes them all with one deliverMaildirBatch() call,
// so one directory fsync covers every message of the queue's delivery job. It decides
// nothing about retries: a failed write is a deferral (4.3.0) the queue schedules.
//
// With delivery.quota, each mailbox's limit and usage (maildirsize) are read once per job; a
// message that does not fit is not stored and reported 4.2.2 (deferred) or 5.2.2 (bounced,
// over_quota: bounce); what was stored is appended to maildirsize (docs/quota.md).
#pragma once

#include <string>

#include "petrel/content/header_section.h"
#include "petrel/delivery/agent.h"
#include "petrel/delivery/quota.h"
#include "petrel/delivery/sieve_filter.h"
#include "petrel/delivery/generated_mail.h"

namespace petrel::delivery {

class MaildirAgent final : public DeliveryAgent {
 public:
  // delivery.maildir.fsync, the hostname of the unique file names, delivery.sieve's
  // scripts (null: every message goes to INBOX), the vacation settings (null: no replies) and
  // delivery.quota (null: not counted).
  MaildirAgent(bool fsync, std::string hostname, SieveScriptsPtr sieve = nullptr,
               AutoReplyPtr replies = nullptr, MailboxQuotaPtr quota = nullptr);

  bool blocking() const override { return true; }
  void deliver(const std::vector<Delivery*>& deliveries, Done done) override;

 private:
  // A message's text as its recipients' scripts see it (one per delivery).
  struct ParsedMessage {
    std::string text;
    content::HeaderSection section{256 * 1024};
    size_t header_octets = 0;
  };
  void generate(const Delivery& d, size_t index, const ParsedMessage& pm,
                const SieveDecision& decision, RecipientReport& r) const;

  bool fsync_;
  std::string hostname_;
  SieveScriptsPtr sieve_;
  AutoReplyPtr replies_;
  MailboxQuotaPtr quota_;
};

}  // namespace petrel::delivery
