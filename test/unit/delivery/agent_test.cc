// Tests for the delivery-agent dispatch (source/delivery/agent.cc): recipients of one message
// grouped per target, blocking agents once per job, asynchronous ones on the loop, reports
// per recipient. Fake agents, no I/O.
#include "petrel/delivery/agent.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace petrel::delivery {
namespace {

using Status = RecipientReport::Status;

DeliveryTarget maildir(std::string dir) {
  DeliveryTarget t;
  t.transport = Transport::Virtual;
  t.maildir = std::move(dir);
  return t;
}

DeliveryTarget smtp(std::string host, config::TlsPolicy tls = config::TlsPolicy::May) {
  DeliveryTarget t;
  t.transport = Transport::Smtp;
  t.transport_name = "smtp";
  t.next_hop.host = std::move(host);
  t.tls = tls;
  return t;
}

// Reports every recipient with `status` and its address as the text.
void reportAll(const std::vector<Delivery*>& deliveries, Status status) {
  for (Delivery* d : deliveries) {
    d->reports.clear();
    for (size_t i : d->recipients) {
      RecipientReport r;
      r.status = status;
      r.text = d->message->stored->recipients[i].address;
      d->reports.push_back(r);
    }
  }
}

class FakeMaildirAgent final : public DeliveryAgent {
 public:
  bool blocking() const override { return true; }
  void deliver(const std::vector<Delivery*>& deliveries, Done done) override {
    calls.push_back(deliveries.size());
    reportAll(deliveries, Status::Delivered);
    done();
  }
  std::vector<size_t> calls;  // deliveries per deliver() call
};

class FakeSmtpAgent final : public DeliveryAgent {
 public:
  bool blocking() const override { return false; }
  void prepare(AgentMessage& message, const std::vector<Delivery*>& deliveries) const override {
    prepared.push_back(deliveries.size());
    if (fail_prepare) {
      RecipientReport r;
      r.dsn = "4.3.0";
      r.text = "cannot read queue file";
      for (Delivery* d : deliveries) d->reports.assign(d->recipients.size(), r);
      return;
    }
    message.content = std::make_shared<const std::string>("content");
  }
  void deliver(const std::vector<Delivery*>& deliveries, Done done) override {
    pending = deliveries;
    pending_done = std::move(done);
  }
  // The remote answers: the first recipient of each delivery bounces, the others are sent.
  void answer() {
    for (Delivery* d : pending) {
      reportAll({d}, Status::Delivered);
      d->reports.front().status = Status::Bounced;
      d->reports.front().relay = "mx." + d->target.next_hop.host + "[192.0.2.1]:25";
    }
    pending.clear();
    auto done = std::move(pending_done);
    done();
  }
  mutable std::vector<size_t> prepared;  // deliveries per prepare() call
  bool fail_prepare = false;
  std::vector<Delivery*> pending;
  Done pending_done;
};

queue::StoredMessage message(std::string id, std::vector<std::string> recipients) {
  queue::StoredMessage m;
  m.id = std::move(id);
  for (auto& address : recipients) {
    queue::StoredRecipient r;
    r.idx = int64_t(m.recipients.size());
    r.address = std::move(address);
    m.recipients.push_back(std::move(r));
  }
  return m;
}

class AgentDispatchTest : public ::testing::Test {
 protected:
  AgentDispatchTest() {
    agents.addUnowned("virtual", local);
    agents.addUnowned("smtp", remote);
  }
  FakeMaildirAgent local;
  FakeSmtpAgent remote;
  AgentRegistry agents;
};

TEST(MessageDeliveries, GroupsRecipientsPerTargetInOrderOfFirstAppearance) {
  MessageDeliveries m;
  m.add(smtp("example.org"), 0);
  m.add(maildir("/mail/a/"), 1);
  m.add(smtp("example.org"), 2);
  m.add(smtp("example.org", config::TlsPolicy::Verify), 3);  // same hop, other TLS policy
  m.add(maildir("/mail/a/"), 4);
  ASSERT_EQ(m.deliveries.size(), 3u);
  EXPECT_EQ(m.deliveries[0].target, smtp("example.org"));
  EXPECT_EQ(m.deliveries[0].recipients, (std::vector<size_t>{0, 2}));
  EXPECT_EQ(m.deliveries[1].recipients, (std::vector<size_t>{1, 4}));
  EXPECT_EQ(m.deliveries[2].recipients, (std::vector<size_t>{3}));
  EXPECT_TRUE(m.pending());
}

TEST_F(AgentDispatchTest, BlockingAgentOnceForTheJobOthersPreparedPerMessage) {
  queue::StoredMessage a = message("A", {"x@local.test", "y@remote.test", "z@local.test"});
  queue::StoredMessage b = message("B", {"w@local.test", "v@other.test", "u@remote.test"});
  MessageDeliveries ma, mb;
  ma.message.stored = &a;
  mb.message.stored = &b;
  ma.add(maildir("/mail/x/"), 0);
  ma.add(smtp("remote.test"), 1);
  ma.add(maildir("/mail/z/"), 2);
  mb.add(maildir("/mail/w/"), 0);
  mb.add(smtp("other.test"), 1);
  mb.add(smtp("remote.test"), 2);
  std::vector<MessageDeliveries*> job{&ma, &mb};
  deliverInJob(agents, job);

  EXPECT_EQ(local.calls, (std::vector<size_t>{3}));         // one call: one fsync per directory
  EXPECT_EQ(remote.prepared, (std::vector<size_t>{1, 2}));  // once per message
  ASSERT_TRUE(ma.message.content);
  EXPECT_TRUE(ma.deliveries[0].reported());
  EXPECT_EQ(ma.deliveries[0].reports[0].text, "x@local.test");
  EXPECT_EQ(ma.deliveries[2].reports[0].text, "z@local.test");
  EXPECT_FALSE(ma.deliveries[1].reported());  // waits for the loop
  EXPECT_TRUE(ma.pending());
  EXPECT_TRUE(remote.pending.empty());  // nothing delivered in the job
}

TEST_F(AgentDispatchTest, LoopAgentReportsPerRecipientAndDoneComesLater) {
  queue::StoredMessage a = message("A", {"x@remote.test", "y@remote.test", "z@other.test"});
  MessageDeliveries ma;
  ma.message.stored = &a;
  ma.add(smtp("remote.test"), 0);
  ma.add(smtp("remote.test"), 1);
  ma.add(smtp("other.test"), 2);
  std::vector<MessageDeliveries*> job{&ma};
  deliverInJob(agents, job);
  bool done = false;
  deliverOnLoop(agents, ma, [&] { done = true; });
  EXPECT_FALSE(done);
  ASSERT_EQ(remote.pending.size(), 2u);
  EXPECT_EQ(remote.pending[0]->message, &ma.message);
  remote.answer();
  EXPECT_TRUE(done);
  EXPECT_FALSE(ma.pending());
  const Delivery& first = ma.deliveries[0];
  ASSERT_EQ(first.reports.size(), 2u);
  EXPECT_EQ(first.reports[0].status, Status::Bounced);
  EXPECT_EQ(first.reports[0].text, "x@remote.test");
  EXPECT_EQ(first.reports[0].relay, "mx.remote.test[192.0.2.1]:25");
  EXPECT_EQ(first.reports[1].status, Status::Delivered);
  EXPECT_EQ(first.reports[1].text, "y@remote.test");
  EXPECT_EQ(ma.deliveries[1].reports[0].text, "z@other.test");
}

TEST_F(AgentDispatchTest, AFailedPrepareReportsAndSkipsTheAgent) {
  remote.fail_prepare = true;
  queue::StoredMessage a = message("A", {"x@remote.test"});
  MessageDeliveries ma;
  ma.message.stored = &a;
  ma.add(smtp("remote.test"), 0);
  std::vector<MessageDeliveries*> job{&ma};
  deliverInJob(agents, job);
  EXPECT_FALSE(ma.pending());
  EXPECT_EQ(ma.deliveries[0].reports[0].dsn, "4.3.0");
  bool done = false;
  deliverOnLoop(agents, ma, [&] { done = true; });
  EXPECT_TRUE(done);  // nothing left to deliver
  EXPECT_TRUE(remote.pending.empty());
}

TEST(AgentRegistry, ATransportWithoutAnAgentIsDeferred) {
  FakeMaildirAgent local;
  AgentRegistry agents;
  agents.addUnowned("virtual", local);
  EXPECT_EQ(agents.find("smtp"), nullptr);
  queue::StoredMessage a = message("A", {"x@remote.test", "y@local.test"});
  MessageDeliveries ma;
  ma.message.stored = &a;
  ma.add(smtp("remote.test"), 0);
  ma.add(maildir("/mail/y/"), 1);
  std::vector<MessageDeliveries*> job{&ma};
  deliverInJob(agents, job);
  EXPECT_FALSE(ma.pending());
  EXPECT_EQ(ma.deliveries[0].reports[0].status, Status::Deferred);
  EXPECT_EQ(ma.deliveries[0].reports[0].dsn, "4.3.5");
  EXPECT_EQ(ma.deliveries[0].reports[0].text, "no delivery agent for transport smtp");
  EXPECT_EQ(ma.deliveries[1].reports[0].status, Status::Delivered);
}

// QueueManager::stop reaches every agent's stop() once per registration; the default does
// nothing.
TEST(AgentRegistry, StopReachesEveryAgent) {
  class StoppableAgent final : public DeliveryAgent {
   public:
    bool blocking() const override { return false; }
    void deliver(const std::vector<Delivery*>&, Done done) override { done(); }
    void stop() override { ++stops; }
    int stops = 0;
  };
  FakeMaildirAgent local;
  auto piped = std::make_shared<StoppableAgent>();
  AgentRegistry agents;
  agents.addUnowned("virtual", local);
  agents.add("dovecot", piped);
  AgentRegistry copy = agents;  // a delivery in flight keeps its copy
  agents.stop();
  EXPECT_EQ(piped->stops, 1);
  copy.stop();
  EXPECT_EQ(piped->stops, 2);
}

}  // namespace
}  // namespace petrel::delivery
