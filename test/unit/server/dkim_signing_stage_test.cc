// Tests for server/dkim_signing_stage.cc: the author domain and which dkim.sign entries match
// it; who is signed (authenticated, mynetworks by blocks or by a table on the pool) and who
// not; two selectors give two signatures; a body fed in chunks signs as the whole; a key that
// fails leaves the message unsigned but accepted; with canonical maps the signature is over
// the header as delivery rewrites it (and would fail over the header as received); the stage
// answers later when the pool works and never after it is gone; a body an earlier stage
// replaced is the one signed. Signatures are checked with
// dkim::Verifier and the keys of test/testdata/dkim/.
#include "petrel/server/dkim_signing_stage.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <deque>
#include <memory>
#include <string>

#include "petrel/dkim/verifier.h"
#include "petrel/server/canonical_headers.h"
#include "petrel/server/content_stages.h"
#include "petrel/server/stage_check.h"

#include "../inline_table.h"

namespace petrel::server {
namespace {

using petrel::test_support::inlineTable;

constexpr uint64_t Now = 1790000000;

struct Store : smtp::BodySink {
  std::string data;
  void append(std::string_view b) override { data.append(b); }
};

tls::PrivateKey rsaKey() {
  return *tls::PrivateKey::fromPemFile(std::string(PETREL_SOURCE_ROOT) +
                                       "/test/testdata/dkim/2048_testkey.key");
}

const tls::PrivateKey& edKey() {
  static tls::PrivateKey key = *tls::PrivateKey::generateEd25519();
  return key;
}

dkim::SignSpec spec(std::string domain, std::string selector, bool ed = false) {
  dkim::SignSpec s;
  s.domain = std::move(domain);
  s.selector = std::move(selector);
  s.key = ed ? edKey() : rsaKey();
  s.algorithm = ed ? dkim::Algorithm::Ed25519Sha256 : dkim::Algorithm::RsaSha256;
  return s;
}

std::shared_ptr<const DkimSigningKeys> keys(std::vector<dkim::SignSpec> specs) {
  return std::make_shared<const DkimSigningKeys>(std::move(specs));
}

std::vector<content::HeaderField> fieldsOf(const std::string& header) {
  content::HeaderSection h(1 << 20);
  h.feed(header);
  if (!h.complete()) h.end();
  return h.fields();
}

const std::string Body =
    "Hello Bob,\r\n\r\nthe  numbers   are in. \t \r\n" + std::string(300, 'x') + "\r\n\r\n\r\n";

std::string message(std::string from = "Alice <alice@example.test>") {
  return "From: " + from + "\r\nTo: bob@example.org\r\nSubject: figures\r\n" +
         "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <m1@example.test>\r\n\r\n" + Body;
}

struct Outcome {
  content::ContentChain::End end;
  std::string delivered;  // the top fields and what the store holds
};

// Runs `wire` through a chain of a Received field and the signing stage, `chunk` octets at a
// time (0: all at once).
Outcome run(DkimSigningSetup setup, const std::string& wire, size_t chunk = 0) {
  Store store;
  std::vector<std::unique_ptr<content::ContentStage>> stages;
  stages.push_back(prependFields({"Received: from client.test by mx.example.test\r\n"}));
  stages.push_back(dkimSigning(std::move(setup)));
  content::ContentChain chain(std::move(stages), store);
  if (chunk == 0) {
    chain.append(wire);
  } else {
    for (size_t i = 0; i < wire.size(); i += chunk) {
      chain.append(std::string_view(wire).substr(i, chunk));
    }
  }
  std::vector<content::Recipient> rcpts;
  Outcome out;
  out.end = chain.finish(rcpts);
  out.delivered = out.end.top_fields + store.data;
  return out;
}

DkimSigningSetup ours(std::shared_ptr<const DkimSigningKeys> k) {
  DkimSigningSetup s;
  s.keys = std::move(k);
  s.queue_id = "4A1B2C3D4E5F";
  s.now = Now;
  s.ours = true;
  return s;
}

// The results of verifying `wire` with the test keys published for every selector.
std::vector<dkim::SignatureResult> verify(const std::string& wire) {
  content::HeaderSection h(1 << 20);
  size_t n = h.feed(wire);
  dkim::Verifier v(h.fields(), {.now = Now});
  v.feedBody(std::string_view(wire).substr(n));
  v.endBody();
  for (const std::string& name : v.keyNames()) {
    dkim::KeyAnswer a;
    a.status = dkim::KeyAnswer::Status::Found;
    bool ed = name.rfind("ed", 0) == 0;
    a.txt = {dkim::keyRecordText(ed ? edKey().publicKey() : rsaKey().publicKey())};
    v.provideKey(name, a);
  }
  return v.results();
}

size_t signatures(const std::string& wire) {
  size_t n = 0;
  for (size_t at = 0; (at = wire.find("DKIM-Signature:", at)) != std::string::npos; ++at) ++n;
  return n;
}

TEST(DkimSigningStage, AuthorDomain) {
  EXPECT_EQ(authorDomain(fieldsOf("From: Alice <Alice@Example.TEST.>\r\n\r\n")), "example.test");
  EXPECT_EQ(authorDomain(fieldsOf("from: a@x.test, \"B, C\" <b@x.test>\r\n\r\n")), "x.test");
  EXPECT_EQ(authorDomain(fieldsOf("From: Team: a@x.test, b@x.test;\r\n\r\n")), "x.test");
  EXPECT_FALSE(authorDomain(fieldsOf("From: a@x.test, b@y.test\r\n\r\n")));
  EXPECT_FALSE(authorDomain(fieldsOf("From: a@x.test\r\nFrom: a@x.test\r\n\r\n")));
  EXPECT_FALSE(authorDomain(fieldsOf("Sender: a@x.test\r\n\r\n")));
  EXPECT_FALSE(authorDomain(fieldsOf("From: \"unclosed <a@x.test>\r\n\r\n")));
  EXPECT_FALSE(authorDomain(fieldsOf("From: nobody\r\n\r\n")));
}

TEST(DkimSigningStage, EntriesOfTheDomainOrTheNearestParent) {
  DkimSigningKeys k = {spec("example.test", "s1"), spec("sub.example.test", "s2"),
                       spec("example.test", "ed1", true), spec("other.test", "s3")};
  EXPECT_EQ(signingEntriesFor(k, "example.test"), (std::vector<size_t>{0, 2}));
  EXPECT_EQ(signingEntriesFor(k, "EXAMPLE.test."), (std::vector<size_t>{0, 2}));
  EXPECT_EQ(signingEntriesFor(k, "mail.example.test"), (std::vector<size_t>{0, 2}));
  EXPECT_EQ(signingEntriesFor(k, "sub.example.test"), (std::vector<size_t>{1}));
  EXPECT_EQ(signingEntriesFor(k, "a.b.sub.example.test"), (std::vector<size_t>{1}));
  EXPECT_TRUE(signingEntriesFor(k, "notexample.test").empty());
  EXPECT_TRUE(signingEntriesFor(k, "test").empty());
  EXPECT_TRUE(signingEntriesFor(k, "").empty());
}

TEST(DkimSigningStage, TwoSelectorsTwoSignaturesThatVerify) {
  auto out =
      run(ours(keys({spec("example.test", "rsa1"), spec("example.test", "ed1", true)})), message());
  EXPECT_FALSE(out.end.refusal);
  ASSERT_EQ(signatures(out.end.top_fields), 2u);
  // Entry order, on top, above the Received field.
  EXPECT_EQ(out.delivered.rfind("DKIM-Signature: v=1; a=rsa-sha256;", 0), 0u) << out.delivered;
  EXPECT_LT(out.delivered.find("a=ed25519-sha256"), out.delivered.find("Received:"));
  auto r = verify(out.delivered);
  ASSERT_EQ(r.size(), 2u);
  for (const auto& s : r) {
    EXPECT_EQ(s.outcome, dkim::Outcome::Pass) << s.selector << ": " << s.reason;
    EXPECT_EQ(s.domain, "example.test");
  }
  EXPECT_EQ(r[0].selector, "rsa1");
  EXPECT_EQ(r[1].selector, "ed1");
}

// A stage before signing that replaces the body at the end (a milter's SMFIR_REPLBODY).
struct BodyReplacer : content::ContentStage {
  std::optional<smtp::Reply> onEnd(std::vector<content::Recipient>&,
                                   content::EndEdits& edits) override {
    edits.body = "A new body.\r\n";
    return std::nullopt;
  }
};

TEST(DkimSigningStage, AReplacedBodyIsWhatIsSigned) {
  Store store;
  std::vector<std::unique_ptr<content::ContentStage>> stages;
  stages.push_back(prependFields({"Received: from client.test by mx.example.test\r\n"}));
  stages.push_back(std::make_unique<BodyReplacer>());
  stages.push_back(dkimSigning(ours(keys({spec("example.test", "rsa1")}))));
  content::ContentChain chain(std::move(stages), store);
  chain.append(message());
  std::vector<content::Recipient> rcpts;
  auto end = chain.finish(rcpts);
  ASSERT_TRUE(end.header);  // the whole message is written anew
  EXPECT_EQ(end.replaced_octets, store.data.size());
  const std::string& delivered = *end.header;
  EXPECT_NE(delivered.find("\r\n\r\nA new body.\r\n"), std::string::npos) << delivered;
  EXPECT_EQ(delivered.find("numbers"), std::string::npos);
  auto r = verify(delivered);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].outcome, dkim::Outcome::Pass) << r[0].reason;
}

TEST(DkimSigningStage, ChunkedBodySignsAsTheWhole) {
  auto k = keys({spec("example.test", "rsa1"), spec("example.test", "ed1", true)});
  std::string whole = run(ours(k), message()).end.top_fields;
  ASSERT_EQ(signatures(whole), 2u);
  // RSASSA-PKCS1-v1_5 and Ed25519 are deterministic and t= is fixed: the same fields.
  for (size_t chunk : {1, 2, 7, 64}) {
    EXPECT_EQ(run(ours(k), message(), chunk).end.top_fields, whole) << "chunk " << chunk;
  }
}

TEST(DkimSigningStage, OnlyTheAuthorDomainsEntries) {
  auto k = keys({spec("example.test", "rsa1"), spec("other.test", "ed1", true)});
  auto out = run(ours(k), message("carol@elsewhere.test"));
  EXPECT_EQ(signatures(out.delivered), 0u);
  EXPECT_FALSE(out.end.refusal);
  out = run(ours(k), message("dave@mail.other.test"));
  ASSERT_EQ(signatures(out.delivered), 1u);
  EXPECT_NE(out.delivered.find("d=other.test; s=ed1;"), std::string::npos) << out.delivered;
  auto r = verify(out.delivered);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].outcome, dkim::Outcome::Pass) << r[0].reason;
  // No From, or two: nothing signs.
  std::string no_from = message();
  no_from.erase(0, no_from.find("To:"));
  EXPECT_EQ(signatures(run(ours(k), no_from).delivered), 0u);
  EXPECT_EQ(signatures(run(ours(k), "From: a@example.test\r\n" + message()).delivered), 0u);
}

TEST(DkimSigningStage, AKeyThatFailsLeavesTheMessageUnsignedButAccepted) {
  dkim::SignSpec broken = spec("example.test", "gone");
  broken.key = tls::PrivateKey();  // the file could not be read when the snapshot was made
  auto out = run(ours(keys({broken, spec("example.test", "ed1", true)})), message());
  EXPECT_FALSE(out.end.refusal);
  ASSERT_EQ(signatures(out.delivered), 1u);
  EXPECT_NE(out.delivered.find("s=ed1;"), std::string::npos);
  out = run(ours(keys({broken})), message());
  EXPECT_FALSE(out.end.refusal);
  EXPECT_EQ(signatures(out.delivered), 0u);
  EXPECT_EQ(out.delivered, "Received: from client.test by mx.example.test\r\n" + message());
}

TEST(DkimSigningStage, ClientAskedOnThePool) {
  auto k = keys({spec("example.test", "rsa1")});
  DkimSigningSetup s = ours(k);
  s.ours = false;
  EXPECT_EQ(signatures(run(s, message()).delivered), 0u);  // no table: not ours
  s.ours_on_pool = [] { return Result<bool>(false); };
  EXPECT_EQ(signatures(run(s, message()).delivered), 0u);
  s.ours_on_pool = [] { return Result<bool>(Error::temporary("mynetworks: server down")); };
  auto out = run(s, message());
  EXPECT_FALSE(out.end.refusal);
  EXPECT_EQ(signatures(out.delivered), 0u);
  s.ours_on_pool = [] { return Result<bool>(true); };
  EXPECT_EQ(signatures(run(s, message()).delivered), 1u);
}

// The driver's decisions, from a snapshot: who is ours, whether the canonical maps apply.
class DkimSigningSetupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    dispatcher_ = std::make_unique<event::Dispatcher>(&loop_);
  }
  void TearDown() override {
    dispatcher_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  static config::Config baseConfig() {
    config::Config cfg;
    cfg.hostname = "mx.example.test";
    cfg.mail_root = "/var/lib/petrel/mail";
    cfg.local_domains = {"example.test"};
    cfg.relay.mynetworks = {"127.0.0.0/8"};
    return cfg;
  }
  static Snapshot snapshotOf(const config::Config& cfg) {
    auto snap = routingSnapshot(cfg, [](const std::string&) {});
    EXPECT_TRUE(snap) << snap.error().message();
    snap->dkim_signing = keys({spec("example.test", "rsa1"), spec("example.test", "ed1", true)});
    return *snap;
  }
  std::optional<DkimSigningSetup> setup(const Snapshot& snap, const std::string& ip,
                                        const std::string& protocol) {
    auto s = dkimSigningSetup(snap, ip, "client.test[" + ip + "]", protocol,
                              protocol.ends_with('A'), *dispatcher_, "4A1B2C3D4E5F");
    if (s) {
      s->offload = nullptr;  // run at once: the loop is not run here
      s->now = Now;
    }
    return s;
  }

  uv_loop_t loop_{};
  std::unique_ptr<event::Dispatcher> dispatcher_;
};

TEST_F(DkimSigningSetupTest, MynetworksAndAuthenticatedAreSignedOthersNot) {
  Snapshot snap = snapshotOf(baseConfig());
  auto local = setup(snap, "127.0.0.1", "ESMTP");
  ASSERT_TRUE(local);
  EXPECT_TRUE(local->ours);
  EXPECT_FALSE(local->delivered_header);  // no canonical maps
  EXPECT_EQ(signatures(run(*local, message()).delivered), 2u);
  auto submitted = setup(snap, "192.0.2.7", "ESMTPSA");
  ASSERT_TRUE(submitted);
  EXPECT_EQ(signatures(run(*submitted, message()).delivered), 2u);
  EXPECT_FALSE(setup(snap, "192.0.2.7", "ESMTPS"));
  EXPECT_FALSE(setup(snap, "192.0.2.7", "ESMTP"));
  Snapshot none = snap;
  none.dkim_signing = keys({});
  EXPECT_FALSE(setup(none, "127.0.0.1", "ESMTPA"));
}

TEST_F(DkimSigningSetupTest, MynetworksTable) {
  config::Config cfg = baseConfig();
  cfg.relay.mynetworks = {};
  cfg.relay.mynetworks_table = inlineTable("nets", {{"10.0.0.5", "OK"}});
  Snapshot snap = snapshotOf(cfg);
  auto in = setup(snap, "10.0.0.5", "ESMTP");  // an inline table answers on the loop
  ASSERT_TRUE(in);
  EXPECT_TRUE(in->ours);
  EXPECT_FALSE(setup(snap, "10.0.0.6", "ESMTP"));
}

TEST_F(DkimSigningSetupTest, SignsTheHeaderAsCanonicalRewritingDeliversIt) {
  config::Config cfg = baseConfig();
  cfg.canonical_sender = inlineTable("scanon", {{"alice@example.test", "alice.smith@example.test"},
                                                {"carol@internal.test", "carol@example.test"}});
  Snapshot snap = snapshotOf(cfg);
  for (std::string from : {"Alice <alice@example.test>", "carol@internal.test"}) {
    auto s = setup(snap, "127.0.0.1", "ESMTP");
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->delivered_header);
    auto out = run(*s, message(from), 5);
    ASSERT_EQ(signatures(out.delivered), 2u) << from;
    // Delivery: the queued message through the same rewrite the queue manager runs.
    queue::StoredMessage m;
    m.client = "client.test[127.0.0.1]";
    m.protocol = "ESMTP";
    m.body = out.delivered;
    auto rewritten = canonicalHeaders(snap, m);
    ASSERT_TRUE(rewritten) << rewritten.error().message();
    ASSERT_GT(rewritten->changed, 0u);
    std::string delivered = rewritten->header + m.body.substr(rewritten->original_size);
    EXPECT_NE(delivered.find("@example.test"), std::string::npos);
    auto r = verify(delivered);
    ASSERT_EQ(r.size(), 2u);
    for (const auto& sig : r) {
      EXPECT_EQ(sig.outcome, dkim::Outcome::Pass) << from << ": " << sig.reason;
      EXPECT_EQ(sig.domain, "example.test");
    }
    // What was queued, not rewritten, does not verify: the signature is the delivered one's.
    for (const auto& sig : verify(out.delivered)) EXPECT_EQ(sig.outcome, dkim::Outcome::Fail);
  }
}

TEST(DkimSigningStage, AnswersFromThePoolLaterAndNeverAfterItIsGone) {
  std::deque<std::pair<std::function<void()>, std::function<void()>>> pool;
  DkimSigningSetup s = ours(keys({spec("example.test", "rsa1")}));
  s.offload = [&pool](std::function<void()> work, std::function<void()> done) {
    pool.emplace_back(std::move(work), std::move(done));
  };
  for (bool go_away : {false, true}) {
    Store store;
    std::vector<std::unique_ptr<content::ContentStage>> stages;
    stages.push_back(dkimSigning(s));
    auto chain = std::make_unique<content::ContentChain>(std::move(stages), store);
    chain->append(message());
    std::vector<content::Recipient> rcpts;
    std::optional<content::ContentChain::End> end;
    chain->finish(rcpts, [&end](content::ContentChain::End e) { end = std::move(e); });
    EXPECT_FALSE(end) << "answered inside the call";
    ASSERT_EQ(pool.size(), 1u);
    auto [work, done] = std::move(pool.front());
    pool.pop_front();
    work();
    if (go_away) chain.reset();  // the client left while the pool signed
    done();
    if (go_away) {
      EXPECT_FALSE(end);
    } else {
      ASSERT_TRUE(end);
      EXPECT_EQ(signatures(end->top_fields), 1u);
    }
  }
}

}  // namespace
}  // namespace petrel::server
