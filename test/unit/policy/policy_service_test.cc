// Tests for the pure half of check_policy_service (policy/policy_service.h): the endpoint and
// per-check settings as written in a list, the request's attributes and their cleaning, the
// reply's end and action, and the check over a fake transport: each reply action becomes
// its access(5) decision, a failed service default_action, no transport no question.
#include "petrel/policy/policy_service.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "petrel/policy/restrictions.h"

namespace petrel::policy {
namespace {

using Kind = Decision::Kind;

// Records each request; answers only when told to (as a loop would, later).
class FakePolicyClient final : public PolicyServiceClient {
 public:
  struct Sent {
    ServiceEndpoint endpoint;
    PolicyServiceSettings settings;
    std::string text;
    Done done;
  };
  void request(const ServiceEndpoint& endpoint, const PolicyServiceSettings& settings,
               std::string request, Done done) override {
    sent.push_back({endpoint, settings, std::move(request), std::move(done)});
  }
  void answer(Result<std::string> reply) {
    ASSERT_FALSE(sent.empty());
    Done done = std::move(sent.back().done);
    done(std::move(reply));
  }
  std::vector<Sent> sent;
};

PolicyContext rcptContext() {
  PolicyContext ctx;
  ctx.client_ip = "192.0.2.7";
  ctx.helo = "mx.example.net";
  ctx.sender = "alice@example.net";
  ctx.recipient = "bob@example.org";
  ctx.recipient_count = 0;
  ctx.message_size = 2412;
  ctx.client.client_name = "mx.example.net";
  ctx.client.reverse_client_name = "mx.example.net";
  ctx.client.client_port = 40123;
  ctx.client.server_address = "198.51.100.1";
  ctx.client.server_port = 25;
  ctx.client.protocol_name = "ESMTP";
  ctx.client.tls_protocol = "TLSv1.3";
  ctx.client.tls_cipher = "TLS_AES_256_GCM_SHA384";
  ctx.client.tls_keysize = 256;
  ctx.client.instance = "1a2b.3c.0";
  ctx.protocol_state = "RCPT";
  return ctx;
}

TEST(PolicyServiceEndpoint, ParsesInetAndUnix) {
  auto a = parseServiceEndpoint("inet:127.0.0.1:10023");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 10023);
  EXPECT_EQ(a->toString(), "inet:127.0.0.1:10023");
  auto b = parseServiceEndpoint("inet:[::1]:9998");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->toString(), "inet:[::1]:9998");
  auto c = parseServiceEndpoint("inet:localhost:9998");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "127.0.0.1");
  auto d = parseServiceEndpoint("unix:/run/policyd-spf.sock");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, ServiceEndpoint::Kind::Unix);
  EXPECT_EQ(d->toString(), "unix:/run/policyd-spf.sock");
  for (const char* bad :
       {"127.0.0.1:10023", "inet:127.0.0.1", "inet:127.0.0.1:0", "inet:127.0.0.1:70000",
        "inet:policy.example:10023", "inet:999.1.1.1:1", "inet:[1.2.3.4]5:1", "unix:relative",
        "unix:", "tcp:127.0.0.1:1"}) {
    EXPECT_FALSE(parseServiceEndpoint(bad).ok()) << bad;
  }
}

TEST(PolicyServiceArgument, PlainEndpointTakesTheDefaults) {
  PolicyServiceSettings defaults;
  defaults.timeout_ms = 7000;
  auto spec = parsePolicyServiceArgument("inet:127.0.0.1:10023", defaults);
  ASSERT_TRUE(spec.ok()) << spec.error().message();
  EXPECT_EQ(spec->settings, defaults);
  EXPECT_EQ(PolicyServiceSettings{}.default_action, "451 4.3.5 Server configuration problem");
  EXPECT_EQ(PolicyServiceSettings{}.timeout_ms, 100'000u);
  EXPECT_EQ(PolicyServiceSettings{}.try_limit, 2u);
}

TEST(PolicyServiceArgument, Postfix3OverridesInsideBraces) {
  auto spec = parsePolicyServiceArgument(
      "{ inet:127.0.0.1:10023, timeout=10s, max_idle = 2m, max_ttl=1h, try_limit=1, "
      "retry_delay=0s, request_limit=5, default_action=451 4.7.1 try later, "
      "policy_context={ office } }",
      PolicyServiceSettings{});
  ASSERT_TRUE(spec.ok()) << spec.error().message();
  const PolicyServiceSettings& s = spec->settings;
  EXPECT_EQ(spec->endpoint.toString(), "inet:127.0.0.1:10023");
  EXPECT_EQ(s.timeout_ms, 10'000u);
  EXPECT_EQ(s.max_idle_ms, 120'000u);
  EXPECT_EQ(s.max_ttl_ms, 3'600'000u);
  EXPECT_EQ(s.try_limit, 1u);
  EXPECT_EQ(s.retry_delay_ms, 0u);
  EXPECT_EQ(s.request_limit, 5u);
  EXPECT_EQ(s.default_action, "451 4.7.1 try later");
  EXPECT_EQ(s.policy_context, "office");
  auto bare = parsePolicyServiceArgument("{unix:/run/p.sock}", PolicyServiceSettings{});
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->settings, PolicyServiceSettings{});
}

TEST(PolicyServiceArgument, ErrorsNameTheProblem) {
  PolicyServiceSettings d;
  auto unknown = parsePolicyServiceArgument("{ inet:127.0.0.1:1, colour=blue }", d);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("unknown policy service setting 'colour'"),
            std::string::npos);
  auto time = parsePolicyServiceArgument("{ inet:127.0.0.1:1, timeout=soon }", d);
  ASSERT_FALSE(time.ok());
  EXPECT_NE(time.error().message().find("timeout: 'soon'"), std::string::npos);
  EXPECT_FALSE(parsePolicyServiceArgument("{ inet:127.0.0.1:1, try_limit=0 }", d).ok());
  EXPECT_FALSE(parsePolicyServiceArgument("{ inet:127.0.0.1:1, timeout }", d).ok());
  EXPECT_FALSE(parsePolicyServiceArgument("{ inet:127.0.0.1:1", d).ok());
  EXPECT_FALSE(parsePolicyServiceArgument("{ }", d).ok());
  auto made = makeCheck("check_policy_service", Stage::Recipient, CheckEnvironment{});
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message().find("needs an argument"), std::string::npos);
  auto wrong = makeCheck("check_policy_service 127.0.0.1:10023", Stage::Recipient, {});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message().find("check_policy_service: '127.0.0.1:10023'"),
            std::string::npos)
      << wrong.error().message();
}

TEST(PolicyServiceRequest, EveryPostfixAttributeInOrder) {
  std::string request = encodePolicyRequest(rcptContext(), Stage::Recipient, "office");
  EXPECT_EQ(request,
            "request=smtpd_access_policy\n"
            "protocol_state=RCPT\n"
            "protocol_name=ESMTP\n"
            "helo_name=mx.example.net\n"
            "queue_id=\n"
            "sender=alice@example.net\n"
            "recipient=bob@example.org\n"
            "recipient_count=0\n"
            "client_address=192.0.2.7\n"
            "client_name=mx.example.net\n"
            "reverse_client_name=mx.example.net\n"
            "instance=1a2b.3c.0\n"
            "sasl_method=\n"
            "sasl_username=\n"
            "sasl_sender=\n"
            "size=2412\n"
            "ccert_subject=\n"
            "ccert_issuer=\n"
            "ccert_fingerprint=\n"
            "ccert_pubkey_fingerprint=\n"
            "encryption_protocol=TLSv1.3\n"
            "encryption_cipher=TLS_AES_256_GCM_SHA384\n"
            "encryption_keysize=256\n"
            "etrn_domain=\n"
            "stress=\n"
            "client_port=40123\n"
            "policy_context=office\n"
            "server_address=198.51.100.1\n"
            "server_port=25\n"
            "\n");
}

// SMTPD_POLICY_README: recipient_count is non-zero only in the DATA and END-OF-MESSAGE states;
// at RCPT (the list's stage or the protocol state) Postfix sends 0.
TEST(PolicyServiceRequest, RecipientCountOnlyAtDataAndEndOfMessage) {
  auto count = [](PolicyContext ctx, Stage stage, std::string state) {
    ctx.recipient_count = 3;
    ctx.protocol_state = std::move(state);
    std::string request = encodePolicyRequest(ctx, stage, "");
    size_t at = request.find("\nrecipient_count=");
    return request.substr(at + 17, request.find('\n', at + 1) - at - 17);
  };
  PolicyContext ctx = rcptContext();
  EXPECT_EQ(count(ctx, Stage::Recipient, "RCPT"), "0");
  EXPECT_EQ(count(ctx, Stage::Recipient, ""), "0");
  EXPECT_EQ(count(ctx, Stage::Client, "RCPT"), "0");  // delay_reject: the client list at RCPT
  EXPECT_EQ(count(ctx, Stage::Sender, ""), "0");
  EXPECT_EQ(count(ctx, Stage::Data, ""), "3");
  EXPECT_EQ(count(ctx, Stage::EndOfData, ""), "3");
  EXPECT_EQ(count(ctx, Stage::Recipient, "DATA"), "3");
  EXPECT_EQ(count(ctx, Stage::Recipient, "END-OF-MESSAGE"), "3");
}

TEST(PolicyServiceRequest, ProtocolStateFallsBackToTheListsStage) {
  PolicyContext ctx = rcptContext();
  ctx.protocol_state.clear();
  EXPECT_NE(encodePolicyRequest(ctx, Stage::Client, "").find("\nprotocol_state=CONNECT\n"),
            std::string::npos);
  EXPECT_NE(encodePolicyRequest(ctx, Stage::EndOfData, "").find("protocol_state=END-OF-MESSAGE\n"),
            std::string::npos);
  ctx.protocol_state = "DATA";
  EXPECT_NE(encodePolicyRequest(ctx, Stage::Client, "").find("\nprotocol_state=DATA\n"),
            std::string::npos);
}

TEST(PolicyServiceRequest, NoAttributeCanBeInjected) {
  PolicyContext ctx = rcptContext();
  ctx.helo = "evil\nrecipient=postmaster@example.org\n\naction=OK";
  ctx.sender = std::string(5000, 'a') + "@example.net";
  ctx.sasl_user = "bob\r";
  ctx.client.sasl_method = "PLAIN";
  std::string request = encodePolicyRequest(ctx, Stage::Recipient, "");
  EXPECT_NE(request.find("\nhelo_name=evil?recipient=postmaster@example.org??action=OK\n"),
            std::string::npos);
  EXPECT_NE(request.find("\nsasl_username=bob?\n"), std::string::npos);
  EXPECT_NE(request.find("\nsasl_method=PLAIN\n"), std::string::npos);
  EXPECT_NE(request.find("\nsender=" + std::string(MaxAttributeValue, 'a') + "\n"),
            std::string::npos);
  // One empty line, at the end, and one recipient attribute.
  EXPECT_EQ(request.find("\n\n"), request.size() - 2);
  EXPECT_EQ(request.find("\nrecipient="), request.rfind("\nrecipient="));
}

TEST(PolicyServiceReply, EndIsTheEmptyLine) {
  EXPECT_EQ(policyReplyEnd(""), std::string::npos);
  EXPECT_EQ(policyReplyEnd("action=DUNNO\n"), std::string::npos);
  EXPECT_EQ(policyReplyEnd("action=DUNNO\n\n"), 14u);
  EXPECT_EQ(policyReplyEnd("action=DUNNO\n\naction=OK\n\n"), 14u);
  EXPECT_EQ(policyReplyEnd("\n"), 1u);
}

TEST(PolicyServiceReply, ActionAndErrors) {
  auto a = parsePolicyReply("action=PREPEND Received-SPF: Pass (mailfrom) identity=mailfrom\n\n");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, "PREPEND Received-SPF: Pass (mailfrom) identity=mailfrom");
  auto b = parsePolicyReply("x-extra=1\naction=  dunno \r\n\n");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, "dunno");
  for (const char* bad : {"\n", "action=\n\n", "hello\n\n", "foo=bar\n\n"}) {
    auto r = parsePolicyReply(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_TRUE(r.error().temporary());
    }
  }
}

// The check over the fake transport, through a list as the server runs it.
struct Asked {
  FakePolicyClient client;
  PolicyContext ctx = rcptContext();
  std::optional<RestrictionList> list;
  std::optional<Decision> decision;

  explicit Asked(const std::string& check, Stage stage = Stage::Recipient) {
    auto l = RestrictionList::parse(stage, {check, "permit"});
    EXPECT_TRUE(l.ok()) << (l.ok() ? "" : l.error().message());
    list = std::move(l).value();
    ctx.policy_client = &client;
    list->evaluate(ctx, [this](Decision d) { decision = std::move(d); });
  }
  Decision answer(Result<std::string> reply) {
    EXPECT_FALSE(decision.has_value());  // waited for the service
    client.answer(std::move(reply));
    EXPECT_TRUE(decision.has_value());
    return decision.value_or(Decision{});
  }
};

TEST(CheckPolicyService, SendsTheRequestToItsEndpointWithItsSettings) {
  Asked asked("check_policy_service { inet:127.0.0.1:10023, timeout=3s }");
  ASSERT_EQ(asked.client.sent.size(), 1u);
  EXPECT_EQ(asked.client.sent[0].endpoint.toString(), "inet:127.0.0.1:10023");
  EXPECT_EQ(asked.client.sent[0].settings.timeout_ms, 3000u);
  EXPECT_EQ(asked.client.sent[0].text, encodePolicyRequest(asked.ctx, Stage::Recipient, ""));
}

TEST(CheckPolicyService, DunnoGoesOnAndOkPermits) {
  Asked dunno("check_policy_service inet:127.0.0.1:10023");
  Decision d = dunno.answer(std::string("action=DUNNO\n\n"));
  EXPECT_EQ(d.kind, Kind::Permit);
  EXPECT_EQ(d.rule, "permit");  // the next check decided
  Asked ok("check_policy_service inet:127.0.0.1:10023");
  Decision p = ok.answer(std::string("action=OK\n\n"));
  EXPECT_EQ(p.kind, Kind::Permit);
  EXPECT_EQ(p.rule, "check_policy_service inet:127.0.0.1:10023");
}

TEST(CheckPolicyService, RejectTextNamesTheRecipient) {
  Asked asked("check_policy_service inet:127.0.0.1:10023");
  Decision d = asked.answer(std::string("action=550 5.7.23 SPF fail - not authorized\n\n"));
  EXPECT_EQ(d.kind, Kind::Reject);
  EXPECT_EQ(d.code, 550);
  EXPECT_EQ(d.enhanced, "5.7.23");
  EXPECT_EQ(d.text, "<bob@example.org>: Recipient address rejected: SPF fail - not authorized");
  Asked reject("check_policy_service inet:127.0.0.1:10023");
  Decision r = reject.answer(std::string("action=REJECT go away\n\n"));
  EXPECT_EQ(r.code, 554);
  EXPECT_EQ(r.text, "<bob@example.org>: Recipient address rejected: go away");
}

// postgrey 1.37 and later answer with an enhanced code first: the reply's enhanced code.
TEST(CheckPolicyService, PostgreyDeferIfPermitKeepsItsEnhancedCode) {
  Asked asked("check_policy_service inet:127.0.0.1:10023");
  Decision d = asked.answer(std::string(
      "action=DEFER_IF_PERMIT 4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/"
      "example.org.html\n\n"));
  EXPECT_EQ(d.kind, Kind::Defer);  // the list's permit became the pending deferral
  EXPECT_EQ(d.code, 450);
  EXPECT_EQ(d.enhanced, "4.2.0");
  EXPECT_EQ(d.text,
            "<bob@example.org>: Recipient address rejected: Greylisted, see "
            "http://postgrey.schweikert.ch/help/example.org.html");
  Asked spf("check_policy_service inet:127.0.0.1:10023");
  Decision t = spf.answer(std::string("action=DEFER_IF_PERMIT 4.7.24 SPF temperror\n\n"));
  EXPECT_EQ(t.enhanced, "4.7.24");
  EXPECT_EQ(t.text, "<bob@example.org>: Recipient address rejected: SPF temperror");
}

TEST(CheckPolicyService, PrependAddsTheHeaderAndGoesOn) {
  Asked asked("check_policy_service inet:127.0.0.1:10023");
  Decision d = asked.answer(std::string(
      "action=PREPEND Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=192.0.2.7\n\n"));
  EXPECT_EQ(d.kind, Kind::Permit);
  ASSERT_EQ(d.actions.size(), 1u);
  EXPECT_EQ(d.actions[0].kind, PolicyAction::Kind::AddHeader);
  EXPECT_EQ(d.actions[0].text,
            "Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=192.0.2.7");
}

TEST(CheckPolicyService, AFailedServiceAnswersDefaultAction) {
  Asked asked("check_policy_service inet:127.0.0.1:10023");
  Decision d = asked.answer(Error::temporary("policy server inet:127.0.0.1:10023: timeout"));
  EXPECT_EQ(d.kind, Kind::Defer);
  EXPECT_EQ(d.code, 451);
  EXPECT_EQ(d.enhanced, "4.3.5");
  EXPECT_EQ(d.text, "<bob@example.org>: Recipient address rejected: Server configuration problem");
  Asked nonsense("check_policy_service inet:127.0.0.1:10023");
  EXPECT_EQ(nonsense.answer(std::string("hello\n\n")).code, 451);
  Asked lenient("check_policy_service { inet:127.0.0.1:10023, default_action=DUNNO }");
  EXPECT_EQ(lenient.answer(Error::temporary("refused")).rule, "permit");
}

TEST(CheckPolicyService, ClientStageNamesTheClient) {
  Asked asked("check_policy_service inet:127.0.0.1:10023", Stage::Client);
  Decision d = asked.answer(std::string("action=defer_if_reject_not_an_action\n\n"));
  EXPECT_EQ(d.code, 451);
  EXPECT_EQ(d.text,
            "<mx.example.net[192.0.2.7]>: Client host rejected: Server configuration error");
}

TEST(CheckPolicyService, WithoutATransportItIsNotAsked) {
  auto l = RestrictionList::parse(Stage::Recipient, {"check_policy_service inet:127.0.0.1:1"});
  ASSERT_TRUE(l.ok());
  PolicyContext ctx = rcptContext();
  ctx.is_our_destination = [](std::string_view) { return true; };
  std::optional<Decision> decision;
  l->evaluate(ctx, [&](Decision d) { decision = std::move(d); });
  ASSERT_TRUE(decision.has_value());
  EXPECT_EQ(decision->kind, Kind::Dunno);
}

}  // namespace
}  // namespace petrel::policy
