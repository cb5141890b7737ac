// MaildirAgent: the local delivery agent (Postfix's virtual(8)), a blocking DeliveryAgent.
//
// It turns each recipient of each delivery into one MaildirItem (Return-Path and
// Delivered-To first, then the header as canonical.headers rewrote it, then the stored body
// or its spool file, never copied) and writes them all with one deliverMaildirBatch() call,
// so one directory fsync covers every message of the queue's delivery job. It decides
// nothing about retries: a failed write is a deferral (4.3.0) the queue schedules.
#pragma once

#include <string>

#include "petrel/delivery/agent.h"

namespace petrel::delivery {

class MaildirAgent final : public DeliveryAgent {
 public:
  // delivery.maildir.fsync and the hostname of the unique file names.
  MaildirAgent(bool fsync, std::string hostname);

  bool blocking() const override { return true; }
  void deliver(const std::vector<Delivery*>& deliveries, Done done) override;

 private:
  bool fsync_;
  std::string hostname_;
};

}  // namespace petrel::delivery
