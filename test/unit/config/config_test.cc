// Tests for loadConfig(): the real example files, defaults, path resolution, table references,
// and the exact text and position of errors. Most cases load YAML from a string named
// "t.yaml" with base directory /etc/petrel, so expected paths and positions are literal.
#include "petrel/config/config.h"
#include "petrel/policy/registry.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "petrel/server/config_checks.h"

namespace petrel::config {
namespace {

// The registry's names in its order, as every "unknown restriction" error lists them.
std::string knownChecks() { return fmt::format("{}", fmt::join(policy::knownRestrictions(), ", ")); }


using Errors = std::vector<std::string>;

// Two lines that satisfy every required key; tests append their own keys from line 3 on.
constexpr std::string_view Minimal =
    "listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
    "domains: {local: []}\n";

std::string examplePath(std::string_view file) {
  return std::string(PETREL_SOURCE_ROOT) + "/config-examples/" + std::string(file);
}

LoadResult load(std::string_view yaml) {
  return loadConfigFromString(std::string(yaml), "t.yaml", "/etc/petrel",
                              server::standardValidators());
}

// Loads Minimal followed by `extra`; the test fails if there are errors.
Config loadOk(std::string_view extra = {}) {
  LoadResult r = load(std::string(Minimal) + std::string(extra));
  for (const ConfigError& e : r.errors) {
    ADD_FAILURE() << e.toString();
  }
  return r.config.value_or(Config{});
}

// The texts of a restriction list's checks, as written.
std::vector<std::string> texts(const std::vector<CheckSpec>& checks) {
  std::vector<std::string> out;
  for (const CheckSpec& check : checks) {
    out.push_back(check.text);
  }
  return out;
}

Errors errorsOf(const LoadResult& r) {
  Errors out;
  for (const ConfigError& e : r.errors) {
    out.push_back(e.toString());
  }
  return out;
}

Errors errorsWith(std::string_view extra) {
  LoadResult r = load(std::string(Minimal) + std::string(extra));
  EXPECT_FALSE(r.config.has_value());
  return errorsOf(r);
}

TEST(ConfigTest, QuickstartLoads) {
  const std::string dir = std::string(PETREL_SOURCE_ROOT) + "/config-examples";
  LoadResult r = loadConfig(examplePath("quickstart.yaml"));
  ASSERT_EQ(errorsOf(r), Errors{});
  ASSERT_TRUE(r.config.has_value());
  const Config& c = *r.config;
  EXPECT_EQ(c.source_file, dir + "/quickstart.yaml");
  EXPECT_EQ(c.hostname, "mail.example.test");
  EXPECT_EQ(c.mail_root, dir + "/var/mail");
  EXPECT_EQ(c.state_dir, dir + "/var/state");
  EXPECT_EQ(c.workers, 0u);
  ASSERT_EQ(c.listeners.size(), 3u);
  EXPECT_EQ(c.listeners[0].name, "mx");
  EXPECT_EQ(c.listeners[0].address.toString(), "127.0.0.1:2525");
  EXPECT_EQ(c.listeners[0].tls, TlsMode::Optional);
  EXPECT_EQ(c.listeners[0].auth, AuthMode::None);
  EXPECT_EQ(c.listeners[1].name, "submission");
  EXPECT_EQ(c.listeners[1].address.toString(), "127.0.0.1:5587");
  EXPECT_EQ(c.listeners[1].tls, TlsMode::Required);
  EXPECT_EQ(c.listeners[1].auth, AuthMode::Required);
  EXPECT_EQ(c.listeners[1].restrictions, "submission");
  EXPECT_EQ(c.listeners[2].address.toString(), "127.0.0.1:5465");
  EXPECT_EQ(c.listeners[2].tls, TlsMode::Implicit);
  EXPECT_TRUE(c.tls.certificates.empty());  // the quick start makes a self-signed one
  EXPECT_EQ(c.auth.backend, "table");
  EXPECT_EQ(c.auth.credentials_db, dir + "/var/state/credentials.db");
  EXPECT_EQ(c.relay.mynetworks, std::vector<std::string>{"127.0.0.1/32"});
  EXPECT_EQ(c.local_domains, std::vector<std::string>{"example.test"});
  ASSERT_TRUE(c.mailboxes.has_value());
  EXPECT_EQ(c.mailboxes->name, "mailboxes");
  EXPECT_EQ(c.mailboxes->type, "inline");
  EXPECT_EQ(c.mailboxes->entries.at("alice@example.test"), "example.test/alice/");
  EXPECT_EQ(c.mailboxes->entries.at("bob@example.test"), "example.test/bob/");
  ASSERT_EQ(c.aliases.size(), 1u);
  EXPECT_EQ(c.aliases[0].entries.at("postmaster@example.test"), "alice@example.test");
  EXPECT_EQ(c.recipient_delimiter, "+");
  ASSERT_TRUE(c.status.address.has_value());
  EXPECT_EQ(c.status.address->toString(), "127.0.0.1:8025");
  EXPECT_FALSE(c.log.file.has_value());
}

TEST(ConfigTest, BadTyposExampleReportsEveryError) {
  const std::string path = examplePath("bad-typos.yaml");
  LoadResult r = loadConfig(path);
  EXPECT_FALSE(r.config.has_value());
  EXPECT_EQ(errorsOf(r),
            (Errors{
                path + ":6:10: workers: expected 'auto' or a number from 1 to 64, got 'many'",
                path + ":9:5: missing required key 'address' in listeners[0]",
                path + ":10:5: unknown key 'adress' in listeners[0] (did you mean 'address'?)",
                path + ":12:14: listeners[1].address: port must be a number from 1 to 65535, "
                       "got '99999'",
                path + ":23:11: tables.aliases.type: unknown table type 'berkeleydb' (known: "
                       "inline, file, regexp, pcre, cidr, sqlite, pgsql, mysql, ldap)",
                path + ":25:12: mailboxes: unknown table 'mailbox' (did you mean 'mailboxes'?)",
                path + ":28:17: limits.message_size: expected a size such as 25MB, 512k or 1000 "
                       "(bytes), got '25 megs'",
                path + ":30:16: queue.min_backoff (1h) must not exceed queue.max_backoff (5m)",
            }));
}

TEST(ConfigTest, Defaults) {
  Config c = loadOk();
  std::array<char, 256> host{};
  ASSERT_EQ(gethostname(host.data(), host.size() - 1), 0);
  EXPECT_EQ(c.source_file, "t.yaml");
  EXPECT_EQ(c.hostname, host.data());
  EXPECT_EQ(c.mail_root, "/var/lib/petrel/mail");
  EXPECT_EQ(c.state_dir, "/var/lib/petrel");
  EXPECT_EQ(c.workers, 0u);
  EXPECT_TRUE(c.local_domains.empty());
  EXPECT_TRUE(c.tables.empty());
  EXPECT_FALSE(c.mailboxes.has_value());
  EXPECT_TRUE(c.aliases.empty());
  EXPECT_EQ(c.recipient_delimiter, "");
  EXPECT_EQ(c.limits.message_size, 25u * 1024 * 1024);
  EXPECT_EQ(c.limits.recipients_per_message, 1000u);
  EXPECT_EQ(c.limits.connections, 500u);
  EXPECT_EQ(c.limits.connections_per_client, 50u);
  EXPECT_EQ(c.limits.command_line_length, 512u);
  EXPECT_EQ(c.limits.text_line_length, 1000u);
  EXPECT_EQ(c.limits.errors_per_session, 10u);
  EXPECT_EQ(c.limits.idle_timeout, 300u);
  EXPECT_EQ(c.limits.data_timeout, 600u);
  EXPECT_EQ(c.limits.session_timeout, 3600u);
  EXPECT_EQ(c.smtp.bare_line_endings, BareLineEnding::Reject);
  EXPECT_FALSE(c.smtp.vrfy);
  EXPECT_EQ(c.smtp.banner, c.hostname + " ESMTP Petrel");
  EXPECT_TRUE(c.smtp.peername_lookup);
  EXPECT_EQ(c.queue.max_lifetime, 5u * 86400);
  EXPECT_EQ(c.queue.min_backoff, 300u);
  EXPECT_EQ(c.queue.max_backoff, 4u * 3600);
  EXPECT_EQ(c.queue.delivery_concurrency, 0u);
  EXPECT_TRUE(c.delivery.maildir_fsync);
  ASSERT_TRUE(c.status.address.has_value());
  EXPECT_EQ(*c.status.address, (Endpoint{"127.0.0.1", 8025}));
  EXPECT_FALSE(c.log.file.has_value());
  EXPECT_EQ(c.log.syslog_name, "petrel");
  EXPECT_FALSE(c.log.debug);
  EXPECT_EQ(c.limits.auth_failures_per_client, 10u);

  const Listener& l = c.listeners.at(0);
  EXPECT_EQ(l.tls, TlsMode::None);
  EXPECT_EQ(l.auth, AuthMode::None);
  EXPECT_FALSE(l.auth_plaintext);
  EXPECT_EQ(l.restrictions, "default");
  EXPECT_EQ(l.origin, "t.yaml:1:13");
  EXPECT_TRUE(c.tls.certificates.empty());
  EXPECT_EQ(c.tls.min_version, "1.2");
  EXPECT_EQ(c.auth.backend, "table");
  EXPECT_EQ(c.auth.credentials_db, "/var/lib/petrel/credentials.db");
  EXPECT_EQ(c.auth.dovecot_socket, "");
  EXPECT_EQ(c.auth.mechanisms, (std::vector<std::string>{"PLAIN", "LOGIN"}));
  EXPECT_FALSE(c.auth.sender_login.has_value());
  EXPECT_EQ(c.relay.mynetworks, (std::vector<std::string>{"127.0.0.1/32", "::1/128"}));
  EXPECT_EQ(c.relay.mynetworks_origin, "(built-in)");
  ASSERT_EQ(c.restrictions.size(), 2u);
  const RestrictionSet& def = c.restrictions.at("default");
  EXPECT_TRUE(def.client.empty());
  EXPECT_TRUE(def.helo.empty());
  EXPECT_TRUE(def.sender.empty());
  EXPECT_EQ(texts(def.recipient),
            (std::vector<std::string>{"permit_mynetworks", "permit_sasl_authenticated",
                                      "reject_unauth_destination"}));
  EXPECT_EQ(def.origin, "(built-in)");
  const RestrictionSet& sub = c.restrictions.at("submission");
  EXPECT_TRUE(sub.client.empty());
  EXPECT_EQ(texts(sub.recipient),
            (std::vector<std::string>{"reject_sender_login_mismatch", "permit_sasl_authenticated",
                                      "reject"}));
  EXPECT_EQ(sub.origin, "(built-in)");
}

TEST(ConfigTest, EmptySectionsMeanDefaults) {
  Config c = loadOk("limits:\nsmtp: {}\nqueue:\ndelivery: {maildir: }\nlog:\n");
  EXPECT_EQ(c.limits.message_size, 25u * 1024 * 1024);
  EXPECT_TRUE(c.delivery.maildir_fsync);
  EXPECT_TRUE(c.status.address.has_value());
}

TEST(ConfigTest, EveryKeySet) {
  Config c = loadOk(R"(hostname: MX.Example.org
workers: 8
recipient_delimiter: "-"
limits:
  message_size: 10MB
  recipients_per_message: 50
  connections: 100
  connections_per_client: 5
  command_line_length: 2048
  text_line_length: 1000
  errors_per_session: 3
  idle_timeout: 30s
  data_timeout: 2m
  session_timeout: 1h
smtp: {bare_line_endings: normalize, vrfy: true, banner: "mx.example.org ESMTP ready",
       peername_lookup: false}
queue: {max_lifetime: 2d, min_backoff: 1m, max_backoff: 1h, delivery_concurrency: 16}
delivery: {maildir: {fsync: no}}
log: {file: /var/log/petrel.log, syslog_name: petrel-mx, debug: true}
)");
  EXPECT_EQ(c.hostname, "MX.Example.org");
  EXPECT_EQ(c.workers, 8u);
  EXPECT_EQ(c.recipient_delimiter, "-");
  EXPECT_EQ(c.limits.message_size, 10u * 1024 * 1024);
  EXPECT_EQ(c.limits.recipients_per_message, 50u);
  EXPECT_EQ(c.limits.connections, 100u);
  EXPECT_EQ(c.limits.connections_per_client, 5u);
  EXPECT_EQ(c.limits.command_line_length, 2048u);
  EXPECT_EQ(c.limits.errors_per_session, 3u);
  EXPECT_EQ(c.limits.idle_timeout, 30u);
  EXPECT_EQ(c.limits.data_timeout, 120u);
  EXPECT_EQ(c.limits.session_timeout, 3600u);
  EXPECT_EQ(c.smtp.bare_line_endings, BareLineEnding::Normalize);
  EXPECT_TRUE(c.smtp.vrfy);
  EXPECT_EQ(c.smtp.banner, "mx.example.org ESMTP ready");
  EXPECT_FALSE(c.smtp.peername_lookup);
  EXPECT_EQ(c.queue.max_lifetime, 2u * 86400);
  EXPECT_EQ(c.queue.min_backoff, 60u);
  EXPECT_EQ(c.queue.max_backoff, 3600u);
  EXPECT_EQ(c.queue.delivery_concurrency, 16u);
  EXPECT_FALSE(c.delivery.maildir_fsync);
  EXPECT_EQ(c.log.file, "/var/log/petrel.log");
  EXPECT_EQ(c.log.syslog_name, "petrel-mx");
  EXPECT_TRUE(c.log.debug);
}

TEST(ConfigTest, UnknownKeyNamesFileLineColumn) {
  EXPECT_EQ(errorsOf(load("listeners:\n"
                          "  - name: mx\n"
                          "    address: '127.0.0.1:25'\n"
                          "    foo: 1\n"
                          "domains: {local: []}\n")),
            Errors{"t.yaml:4:5: unknown key 'foo' in listeners[0]"});
  EXPECT_EQ(errorsWith("mailbox: m\n"),
            Errors{"t.yaml:3:1: unknown key 'mailbox' (did you mean 'mailboxes'?)"});
  EXPECT_EQ(errorsWith("limits: {message_sise: 1}\n"),
            Errors{"t.yaml:3:10: unknown key 'message_sise' in limits (did you mean "
                   "'message_size'?)"});
}

TEST(ConfigTest, DuplicateKey) {
  EXPECT_EQ(errorsWith("workers: 2\nworkers: 3\n"),
            Errors{"t.yaml:4:1: duplicate key 'workers' (first at line 3)"});
}

TEST(ConfigTest, SyntaxErrorPosition) {
  EXPECT_EQ(errorsOf(load("hostname: a\nlisteners: [1\nworkers: 2\n")),
            Errors{"t.yaml:3:8: syntax error: end of sequence flow not found"});
  // A tab where YAML needs spaces.
  EXPECT_EQ(errorsOf(load("hostname: a\n\tworkers: 2\n")),
            Errors{"t.yaml:2:1: syntax error: illegal tab when looking for indentation"});
}

TEST(ConfigTest, CollectsAllErrorsSortedByPosition) {
  EXPECT_EQ(errorsOf(load("limits:\n"
                          "  message_size: huge\n"
                          "  idle_timeout: soon\n"
                          "listeners:\n"
                          "  - name: mx\n"
                          "    address: '127.0.0.1:0'\n"
                          "smtp: {vrfy: maybe}\n"
                          "bogus: 1\n")),
            (Errors{
                "t.yaml:1:1: missing required key 'domains' (an empty list, local: [], means "
                "no local mailboxes)",
                "t.yaml:2:17: limits.message_size: expected a size such as 25MB, 512k or 1000 "
                "(bytes), got 'huge'",
                "t.yaml:3:17: limits.idle_timeout: expected a duration such as 30s, 5m, 4h, 5d "
                "or 300 (seconds), got 'soon'",
                "t.yaml:6:14: listeners[0].address: port must be a number from 1 to 65535, got "
                "'0'",
                "t.yaml:7:14: smtp.vrfy: expected true or false, got 'maybe'",
                "t.yaml:8:1: unknown key 'bogus'",
            }));
}

TEST(ConfigTest, SizesAndDurations) {
  Config c = loadOk("limits: {message_size: 512k, idle_timeout: 300, data_timeout: 1w}\n");
  EXPECT_EQ(c.limits.message_size, 512u * 1024);
  EXPECT_EQ(c.limits.idle_timeout, 300u);
  EXPECT_EQ(c.limits.data_timeout, 7u * 86400);
  EXPECT_EQ(loadOk("limits: {message_size: 1000}\n").limits.message_size, 1000u);

  EXPECT_EQ(errorsWith("limits: {message_size: 0}\n"),
            Errors{"t.yaml:3:24: limits.message_size: must not be zero"});
  EXPECT_EQ(errorsWith("limits: {message_size: [1]}\n"),
            Errors{"t.yaml:3:24: limits.message_size: expected a size such as 25MB, 512k or "
                   "1000 (bytes), got a list"});
  EXPECT_EQ(errorsWith("queue: {max_lifetime: 5 days}\n"),
            Errors{"t.yaml:3:23: queue.max_lifetime: expected a duration such as 30s, 5m, 4h, "
                   "5d or 300 (seconds), got '5 days'"});
  EXPECT_EQ(errorsWith("limits:\n  session_timeout:\n"),
            Errors{"t.yaml:4:3: limits.session_timeout: expected a duration such as 30s, 5m, "
                   "4h, 5d or 300 (seconds), got null"});
}

TEST(ConfigTest, NumbersAndRanges) {
  EXPECT_EQ(errorsWith("limits: {command_line_length: 100, text_line_length: 999}\n"),
            (Errors{"t.yaml:3:31: limits.command_line_length: must be at least 512, got 100",
                    "t.yaml:3:54: limits.text_line_length: must be at least 1000, got 999"}));
  EXPECT_EQ(errorsWith("limits: {connections: -5}\n"),
            Errors{"t.yaml:3:23: limits.connections: expected a number, got '-5'"});
  EXPECT_EQ(errorsWith("limits: {connections: 4294967296}\n"),
            Errors{"t.yaml:3:23: limits.connections: must be at least 1, got 4294967296"});
  EXPECT_EQ(loadOk("workers: AUTO\n").workers, 0u);
  EXPECT_EQ(loadOk("workers: 64\n").workers, 64u);
  EXPECT_EQ(errorsWith("workers: 0\n"),
            Errors{"t.yaml:3:10: workers: expected 'auto' or a number from 1 to 64, got '0'"});
}

TEST(ConfigTest, RelativePathsResolveAgainstTheConfigDirectory) {
  Config c = loadOk(R"(mail_root: ../srv/mail/
state_dir: ./state
tables:
  users: {type: file, path: tables/users}
aliases: ["file:aliases", "file:/etc/aliases"]
log: {file: log/../petrel.log}
)");
  EXPECT_EQ(c.mail_root, "/etc/srv/mail");
  EXPECT_EQ(c.state_dir, "/etc/petrel/state");
  EXPECT_EQ(c.tables.at("users").path, "/etc/petrel/tables/users");
  ASSERT_EQ(c.aliases.size(), 2u);
  EXPECT_EQ(c.aliases[0].path, "/etc/petrel/aliases");
  EXPECT_EQ(c.aliases[1].path, "/etc/aliases");
  EXPECT_EQ(c.log.file, "/etc/petrel/petrel.log");

  LoadResult r = loadConfigFromString(std::string(Minimal) + "state_dir: s\n", "t.yaml",
                                      "/etc/petrel/../petrel2/");
  ASSERT_TRUE(r.config.has_value());
  EXPECT_EQ(r.config->state_dir, "/etc/petrel2/s");
}

TEST(ConfigTest, NamedAndInlineTableReferences) {
  Config c = loadOk(R"(tables:
  boxes:
    type: inline
    map: {Alice@Example.ORG: Example.org/Alice/}
  more: {type: file, path: /etc/petrel/more}
mailboxes: "file:/etc/petrel/mailboxes"
aliases: boxes
)");
  ASSERT_TRUE(c.mailboxes.has_value());
  EXPECT_EQ(c.mailboxes->name, "file:/etc/petrel/mailboxes");
  EXPECT_EQ(c.mailboxes->type, "file");
  EXPECT_EQ(c.mailboxes->path, "/etc/petrel/mailboxes");
  EXPECT_EQ(c.mailboxes->origin, "t.yaml:8:12");

  ASSERT_EQ(c.aliases.size(), 1u);
  const TableSpec& boxes = c.aliases[0];
  EXPECT_EQ(boxes.name, "boxes");
  EXPECT_EQ(boxes.type, "inline");
  EXPECT_EQ(boxes.origin, "t.yaml:4:3");
  // Keys are lower-cased for case-insensitive lookups; values stay as written.
  EXPECT_EQ(boxes.entries,
            (std::map<std::string, std::string>{{"alice@example.org", "Example.org/Alice/"}}));
  EXPECT_EQ(c.tables.at("more").type, "file");
}

TEST(ConfigTest, RemoteTablesAndCache) {
  Config c = loadOk(R"y(tables:
  boxes:
    type: mysql
    host: 127.0.0.1
    port: 3306
    user: postfixadmin
    password: skoleni
    database: postfixadmin
    query: "SELECT maildir FROM mailbox WHERE username = %s AND active = 1"
    timeout: 5s
    cache: {ttl: 1m, negative_ttl: 10s}
  people: {type: ldap, uri: "ldap://127.0.0.1", base: "dc=example,dc=test",
           filter: "(&(mail=%s)(objectClass=inetOrgPerson))", attribute: mailMessageStore}
mailboxes: boxes
aliases: [people]
)y");
  ASSERT_TRUE(c.mailboxes);
  EXPECT_EQ(c.mailboxes->type, "mysql");
  EXPECT_EQ(c.mailboxes->options.at("port"), "3306");
  EXPECT_EQ(c.mailboxes->options.at("timeout"), "5");
  EXPECT_EQ(c.mailboxes->options.at("password"), "skoleni");
  EXPECT_EQ(c.mailboxes->cache_ttl, 60u);
  EXPECT_EQ(c.mailboxes->cache_negative_ttl, 10u);
  EXPECT_EQ(c.aliases.at(0).options.at("attribute"), "mailMessageStore");

  EXPECT_EQ(errorsWith(R"(tables:
  a: {type: pgsql, database: pfa, query: "SELECT x FROM t WHERE k = '%x'"}
  b: {type: pgsql, query: "SELECT 1"}
  c: {type: ldap, uri: "ldap://x", base: "dc=x", attribute: mail, scope: deep, color: red}
mailboxes: a
)"),
            (Errors{
                "t.yaml:4:42: tables.a.query: unknown expansion '%x' (known: %s, %u, %d, %%)",
                "t.yaml:5:6: missing required key 'database' in tables.b",
                "t.yaml:5:27: tables.b.query: never uses the key (%s, %u or %d)",
                "t.yaml:6:74: tables.c.scope: expected sub, one or base, got 'deep'",
                "t.yaml:6:80: unknown key 'color' in tables.c",
            }));
}

TEST(ConfigTest, LdapTls) {
  Config c = loadOk(R"y(tables:
  people: {type: ldap, uri: "ldap://ldap.example.test", base: "dc=example,dc=test",
           attribute: mail, start_tls: true, tls_ca_file: ca.pem}
  lab: {type: ldap, uri: "ldaps://ldap.example.test", base: "dc=x", attribute: mail,
        tls_require_cert: false}
aliases: [people, lab]
)y");
  ASSERT_EQ(c.aliases.size(), 2u);
  EXPECT_EQ(c.aliases[0].options.at("start_tls"), "yes");
  EXPECT_EQ(c.aliases[0].options.at("tls_ca_file"), "/etc/petrel/ca.pem");
  EXPECT_EQ(c.aliases[1].options.at("tls_require_cert"), "no");
  EXPECT_EQ(c.aliases[1].options.count("start_tls"), 0u);
  EXPECT_EQ(errorsWith(R"(tables:
  a: {type: ldap, uri: "ldap://x", base: "dc=x", attribute: mail, start_tls: maybe}
aliases: [a]
)"),
            Errors{"t.yaml:4:78: tables.a.start_tls: expected true or false, got 'maybe'"});
}

TEST(ConfigTest, PgsqlTls) {
  Config c = loadOk(R"y(tables:
  boxes: {type: pgsql, database: pfa, query: "SELECT 1 WHERE %s <> ''", sslmode: verify-full,
          sslrootcert: /etc/ssl/db-ca.pem}
mailboxes: boxes
)y");
  ASSERT_TRUE(c.mailboxes);
  EXPECT_EQ(c.mailboxes->options.at("sslmode"), "verify-full");
  EXPECT_EQ(c.mailboxes->options.at("sslrootcert"), "/etc/ssl/db-ca.pem");
  EXPECT_EQ(errorsWith(R"(tables:
  boxes: {type: pgsql, database: pfa, query: "SELECT 1 WHERE %s <> ''", sslmode: always}
mailboxes: boxes
)"),
            Errors{"t.yaml:4:82: tables.boxes.sslmode: expected disable, allow, prefer, require, "
                   "verify-ca or verify-full, got 'always'"});
}

TEST(ConfigTest, YamlMergeKeysShareTableSettings) {
  Config c = loadOk(R"y(tables:
  boxes: &pfa
    type: mysql
    host: 127.0.0.1
    user: postfixadmin
    password: skoleni
    database: postfixadmin
    query: "SELECT maildir FROM mailbox WHERE username = %s"
  forwards: {<<: *pfa, query: "SELECT goto FROM alias WHERE address = %s"}
  both: {<<: [{timeout: 3s, host: first.example}, *pfa], user: other}
mailboxes: boxes
aliases: [forwards, both]
)y");
  ASSERT_EQ(c.aliases.size(), 2u);
  const TableSpec& forwards = c.aliases[0];
  EXPECT_EQ(forwards.type, "mysql");
  EXPECT_EQ(forwards.options.at("host"), "127.0.0.1");
  EXPECT_EQ(forwards.options.at("query"), "SELECT goto FROM alias WHERE address = %s");
  const TableSpec& both = c.aliases[1];
  EXPECT_EQ(both.options.at("host"), "first.example");  // the first merged mapping wins
  EXPECT_EQ(both.options.at("timeout"), "3");
  EXPECT_EQ(both.options.at("user"), "other");  // its own key wins over merged ones
  EXPECT_EQ(both.options.at("database"), "postfixadmin");

  EXPECT_EQ(errorsWith("tables:\n  a: {<<: 5, type: inline, map: {}}\n"),
            Errors{"t.yaml:4:11: tables.a.<<: expected a mapping (or a list of them) to merge, "
                   "got '5'"});
  EXPECT_EQ(errorsWith("tables:\n  a: {'<<': {}, type: inline, map: {}}\n"),
            Errors{"t.yaml:4:7: unknown key '<<' in tables.a"});
}

// Found by config_fuzz: an anchor merged into itself recursed until the stack ran out.
TEST(ConfigTest, YamlMergeKeysCannotLoopOrMultiply) {
  Config c = loadOk(R"y(tables:
  a: &a {type: inline, map: {x: y}, <<: *a}
  b: &b {<<: [*a, *a, *a, *a], map: {u: v}}
  c: {<<: [*b, *b, *b, *b, *b, *b, *b, *b]}
aliases: [a, b, c]
)y");
  ASSERT_EQ(c.aliases.size(), 3u);
  EXPECT_EQ(c.aliases[0].entries.at("x"), "y");
  EXPECT_EQ(c.aliases[2].type, "inline");
  EXPECT_EQ(c.aliases[2].entries.at("u"), "v");
  EXPECT_EQ(c.aliases[2].entries.count("x"), 0u);
}

TEST(ConfigTest, BadTableReferences) {
  EXPECT_EQ(errorsWith(R"(tables:
  boxes: {type: bdb, uri: "ldap://x"}
  good: {type: inline, map: {a: b}, path: x}
mailboxes: boxes
aliases: [nope, "hash:/etc/x", "file:", good, "regexp:", "cidr:", "inline:x"]
)"),
            (Errors{
                "t.yaml:4:17: tables.boxes.type: unknown table type 'bdb' (known: inline, file, "
                "regexp, pcre, cidr, sqlite, pgsql, mysql, ldap)",
                "t.yaml:4:22: unknown key 'uri' in tables.boxes",
                "t.yaml:5:37: unknown key 'path' in tables.good",
                // No "unknown table 'boxes'": its declaration was reported already.
                "t.yaml:7:11: aliases[0]: unknown table 'nope'",
                "t.yaml:7:17: aliases[1]: unknown table type 'hash' (known: inline, file, regexp, "
                "pcre, cidr, sqlite, pgsql, mysql, ldap)",
                "t.yaml:7:32: aliases[2]: 'file:' needs a path, e.g. file:/etc/petrel/aliases",
                "t.yaml:7:47: aliases[4]: 'regexp:' needs a path, e.g. "
                "regexp:/etc/petrel/aliases.regexp",
                "t.yaml:7:58: aliases[5]: 'cidr:' needs a path, e.g. cidr:/etc/petrel/clients.cidr",
                "t.yaml:7:67: aliases[6]: an inline table cannot be written as a reference; declare "
                "it under tables:",
            }));
  EXPECT_EQ(errorsWith("tables:\n  r: {type: regexp, map: {a: b}}\n  c: {type: cidr}\n"),
            (Errors{"t.yaml:4:6: missing required key 'path' in tables.r",
                    "t.yaml:4:21: unknown key 'map' in tables.r",
                    "t.yaml:5:6: missing required key 'path' in tables.c"}));
  EXPECT_EQ(errorsWith("tables:\n  m: {type: inline, map: {a: 1, A: 2}}\n"),
            Errors{"t.yaml:4:33: duplicate key 'A' in tables.m.map (keys are case-insensitive)"});
  EXPECT_EQ(errorsWith("tables:\n  m: {map: {}}\n"),
            Errors{"t.yaml:4:6: missing required key 'type' in tables.m"});
}

TEST(ConfigTest, RegexpAndCidrTables) {
  Config c = loadOk(R"(tables:
  rewrites: {type: regexp, path: tables/rewrites.regexp}
  clients: {type: cidr, path: /etc/petrel/clients.cidr}
aliases: [rewrites, "regexp:more.regexp", "cidr:/etc/petrel/x.cidr"]
)");
  EXPECT_EQ(c.tables.at("rewrites").type, "regexp");
  EXPECT_EQ(c.tables.at("rewrites").path, "/etc/petrel/tables/rewrites.regexp");
  EXPECT_EQ(c.tables.at("rewrites").origin, "t.yaml:4:3");
  EXPECT_EQ(c.tables.at("clients").type, "cidr");
  EXPECT_EQ(c.tables.at("clients").path, "/etc/petrel/clients.cidr");
  ASSERT_EQ(c.aliases.size(), 3u);
  EXPECT_EQ(c.aliases[0].name, "rewrites");
  EXPECT_EQ(c.aliases[1].name, "regexp:more.regexp");
  EXPECT_EQ(c.aliases[1].type, "regexp");
  EXPECT_EQ(c.aliases[1].path, "/etc/petrel/more.regexp");
  EXPECT_EQ(c.aliases[1].origin, "t.yaml:6:21");
  EXPECT_EQ(c.aliases[2].type, "cidr");
  EXPECT_EQ(c.aliases[2].path, "/etc/petrel/x.cidr");
}

TEST(ConfigTest, ResolveTableReferenceForTheCommandLine) {
  Config c = loadOk("tables:\n  clients: {type: cidr, path: clients.cidr}\n");
  c.source_file = "/etc/petrel/petrel.yaml";

  Result<TableSpec> named = resolveTableReference(c, "clients");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->type, "cidr");
  EXPECT_EQ(named->path, "/etc/petrel/clients.cidr");

  Result<TableSpec> inline_ref = resolveTableReference(c, "regexp:maps/../r.regexp");
  ASSERT_TRUE(inline_ref.ok());
  EXPECT_EQ(inline_ref->name, "regexp:maps/../r.regexp");
  EXPECT_EQ(inline_ref->type, "regexp");
  EXPECT_EQ(inline_ref->path, "/etc/petrel/r.regexp");
  EXPECT_EQ(inline_ref->origin, "command line");
  EXPECT_EQ(resolveTableReference(c, "cidr:/srv/x.cidr")->path, "/srv/x.cidr");

  auto error = [&](std::string_view ref) {
    Result<TableSpec> r = resolveTableReference(c, ref);
    EXPECT_FALSE(r.ok()) << ref;
    return r.ok() ? std::string() : r.error().message();
  };
  EXPECT_EQ(error("client"), "unknown table 'client' (declared: clients)");
  EXPECT_EQ(error("bdb:/x"),
            "unknown table type 'bdb' (known: inline, file, regexp, pcre, cidr, sqlite, pgsql, "
            "mysql, ldap)");
  EXPECT_EQ(error("ldap:/x"),
            "a ldap table needs its settings under tables:; refer to it by its name there");
  EXPECT_EQ(error("cidr:"), "'cidr:' needs a path, e.g. cidr:/etc/petrel/clients.cidr");
  EXPECT_EQ(error("inline:x"),
            "an inline table cannot be written as a reference; declare it under tables:");
  EXPECT_EQ(error(""), "expected a table name or type:argument, got ''");
  c.tables.clear();
  EXPECT_EQ(error("clients"), "unknown table 'clients' (no tables declared under tables:)");
}

TEST(ConfigTest, MailboxesRequiredWithLocalDomains) {
  EXPECT_EQ(errorsOf(load("listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
                          "domains: {local: [Example.ORG, example.net]}\n")),
            Errors{"t.yaml:1:1: missing required key 'mailboxes' (domains.local is not empty, so "
                   "local mail needs a mailbox table)"});
  LoadResult r = load(
      "listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
      "domains: {local: [Example.ORG, example.net]}\n"
      "mailboxes: 'file:boxes'\n");
  ASSERT_EQ(errorsOf(r), Errors{});
  EXPECT_EQ(r.config->local_domains, (std::vector<std::string>{"example.org", "example.net"}));
}

TEST(ConfigTest, BadDomains) {
  EXPECT_EQ(errorsOf(load("listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
                          "domains: {local: [ok.test, bad_one.test, OK.test, 192.0.2.1]}\n"
                          "mailboxes: 'file:boxes'\n")),
            (Errors{"t.yaml:2:28: domains.local[1]: 'bad_one.test' is not a valid domain name",
                    "t.yaml:2:42: domains.local[2]: duplicate domain 'ok.test'",
                    "t.yaml:2:51: domains.local[3]: '192.0.2.1' is not a valid domain name"}));
  EXPECT_EQ(errorsOf(load("listeners: [{name: mx, address: '127.0.0.1:25'}]\ndomains: {}\n")),
            Errors{"t.yaml:2:10: missing required key 'local' in domains (an empty list, local: "
                   "[], means no local mailboxes)"});
}

TEST(ConfigTest, Listeners) {
  LoadResult r = load(
      "listeners:\n"
      "  - {name: mx, address: '0.0.0.0:25'}\n"
      "  - {name: v6, address: '[::0001]:25'}\n"
      "domains: {local: []}\n");
  ASSERT_EQ(errorsOf(r), Errors{});
  EXPECT_EQ(r.config->listeners[1].address.host, "::1");
  EXPECT_EQ(r.config->listeners[1].address.toString(), "[::1]:25");

  EXPECT_EQ(errorsOf(load("listeners:\n"
                          "  - {name: mx, address: '0.0.0.0:25'}\n"
                          "  - {name: mx, address: '127.0.0.1:25'}\n"
                          "  - {name: v6, address: '::1:25'}\n"
                          "  - {name: host, address: 'localhost:25'}\n"
                          "domains: {local: []}\n")),
            (Errors{"t.yaml:3:12: listeners[1].name: duplicate listener name 'mx' (first at "
                    "line 2)",
                    "t.yaml:3:25: listeners[1].address: 127.0.0.1:25 overlaps listener 'mx' "
                    "(0.0.0.0:25)",
                    "t.yaml:4:25: listeners[2].address: an IPv6 address needs brackets, e.g. "
                    "[::1]:25",
                    "t.yaml:5:27: listeners[3].address: 'localhost' is not an IP address (names "
                    "are not resolved; IPv6 goes in brackets)"}));
  EXPECT_EQ(errorsOf(load("listeners: []\ndomains: {local: []}\n")),
            Errors{"t.yaml:1:12: listeners: at least one listener is required"});
  EXPECT_EQ(errorsOf(load("domains: {local: []}\n")),
            Errors{"t.yaml:1:1: missing required key 'listeners'"});
}

TEST(ConfigTest, StatusEndpoint) {
  EXPECT_FALSE(loadOk("status: null\n").status.address.has_value());
  EXPECT_FALSE(loadOk("status: {address: null}\n").status.address.has_value());
  EXPECT_FALSE(loadOk("status:\n  address: ~\n").status.address.has_value());
  EXPECT_EQ(loadOk("status: {address: '[::1]:9000'}\n").status.address, (Endpoint{"::1", 9000}));
  EXPECT_EQ(errorsWith("status: {address: '127.0.0.1:25'}\n"),
            Errors{"t.yaml:3:19: the status endpoint 127.0.0.1:25 overlaps listener 'mx' "
                   "(127.0.0.1:25)"});
}

TEST(ConfigTest, StringKeys) {
  EXPECT_EQ(errorsWith("recipient_delimiter: '+-'\nsmtp: {banner: \"a\\r\\nb\"}\n"),
            (Errors{"t.yaml:3:22: recipient_delimiter: must be a single ASCII character or "
                    "empty, got '+-'",
                    "t.yaml:4:16: smtp.banner: must not contain control characters"}));
  EXPECT_EQ(loadOk("recipient_delimiter: ''\n").recipient_delimiter, "");
  EXPECT_EQ(errorsWith("hostname: 'mail example'\n"),
            Errors{"t.yaml:3:11: hostname: 'mail example' is not a valid host name"});
}

TEST(ConfigTest, BackoffOrder) {
  EXPECT_EQ(errorsWith("queue: {max_backoff: 1m}\n"),
            Errors{"t.yaml:3:22: queue.min_backoff (5m) must not exceed queue.max_backoff (1m)"});
  EXPECT_EQ(loadOk("queue: {min_backoff: 4h}\n").queue.min_backoff, 4u * 3600);
}

TEST(ConfigTest, WholeFileProblems) {
  EXPECT_EQ(errorsOf(load("")), (Errors{"t.yaml:1:1: missing required key 'listeners'",
                                        "t.yaml:1:1: missing required key 'domains' (an empty "
                                        "list, local: [], means no local mailboxes)"}));
  EXPECT_EQ(errorsOf(load("- a\n- b\n")),
            Errors{"t.yaml:1:1: expected a mapping of keys to values at the top level, got a "
                   "list"});
  EXPECT_EQ(errorsOf(load(std::string(Minimal) + "---\nworkers: 2\n")),
            Errors{"t.yaml:3:1: a second YAML document starts here; only one is allowed per "
                   "file"});
  // yaml-cpp alone would keep the list and silently drop the mapping after it.
  EXPECT_EQ(errorsOf(load("- a\nlisteners: []\n")),
            (Errors{"t.yaml:1:1: expected a mapping of keys to values at the top level, got a "
                    "list",
                    "t.yaml:2:1: a second YAML document starts here; only one is allowed per "
                    "file"}));
  // YAML::LoadAll() never returns on this one.
  EXPECT_EQ(errorsOf(load(", listeners: []\n")),
            Errors{"t.yaml:1:1: syntax error: unexpected ','"});
  LoadResult deep = load("a: " + std::string(5000, '['));
  ASSERT_EQ(deep.errors.size(), 1u);
  EXPECT_EQ(deep.errors[0].message, "syntax error: nested too deeply");
}

TEST(ConfigTest, MissingFileIsAnErrorNotAnException) {
  LoadResult r = loadConfig("/nonexistent/petrel.yaml");
  EXPECT_FALSE(r.config.has_value());
  EXPECT_EQ(errorsOf(r),
            Errors{"/nonexistent/petrel.yaml: cannot read: No such file or directory"});
  r = loadConfig(std::string(PETREL_SOURCE_ROOT) + "/config-examples");
  EXPECT_FALSE(r.config.has_value());
  EXPECT_EQ(r.errors.size(), 1u);
}

TEST(ConfigTest, EmptySubmissionSectionsMeanDefaults) {
  Config c = loadOk("tls:\nauth: {}\nrelay:\nrestrictions:\n");
  EXPECT_EQ(c.tls.min_version, "1.2");
  EXPECT_EQ(c.auth.backend, "table");
  EXPECT_EQ(c.auth.credentials_db, "/var/lib/petrel/credentials.db");
  EXPECT_EQ(c.relay.mynetworks, (std::vector<std::string>{"127.0.0.1/32", "::1/128"}));
  EXPECT_EQ(c.restrictions.size(), 2u);
}

TEST(ConfigTest, ListenerTlsAuthAndRestrictions) {
  LoadResult r = load(R"(listeners:
  - name: mx
    address: "0.0.0.0:25"
    tls: optional
  - name: submission
    address: "0.0.0.0:587"
    tls: required
    auth: required
    restrictions: submission
  - {name: submissions, address: "0.0.0.0:465", tls: implicit, auth: optional,
     auth_plaintext: yes, restrictions: strict}
  - {name: lan, address: "10.0.0.1:2525", auth: optional, auth_plaintext: true}
domains: {local: []}
restrictions:
  strict:
    client: [permit_mynetworks, reject]
)");
  ASSERT_EQ(errorsOf(r), Errors{});
  const std::vector<Listener>& l = r.config->listeners;
  ASSERT_EQ(l.size(), 4u);
  EXPECT_EQ(l[0].tls, TlsMode::Optional);
  EXPECT_EQ(l[0].auth, AuthMode::None);
  EXPECT_EQ(l[0].restrictions, "default");
  EXPECT_EQ(l[0].origin, "t.yaml:2:5");
  EXPECT_EQ(l[1].tls, TlsMode::Required);
  EXPECT_EQ(l[1].auth, AuthMode::Required);
  EXPECT_FALSE(l[1].auth_plaintext);
  EXPECT_EQ(l[1].restrictions, "submission");
  EXPECT_EQ(l[1].origin, "t.yaml:5:5");
  // Implicit TLS with auth_plaintext is pointless but harmless.
  EXPECT_EQ(l[2].tls, TlsMode::Implicit);
  EXPECT_EQ(l[2].auth, AuthMode::Optional);
  EXPECT_TRUE(l[2].auth_plaintext);
  EXPECT_EQ(l[2].restrictions, "strict");
  EXPECT_EQ(l[2].origin, "t.yaml:10:5");
  // No TLS, but AUTH in plaintext was asked for.
  EXPECT_EQ(l[3].tls, TlsMode::None);
  EXPECT_EQ(l[3].auth, AuthMode::Optional);
  EXPECT_TRUE(l[3].auth_plaintext);
  EXPECT_EQ(r.config->restrictions.size(), 3u);
}

TEST(ConfigTest, BadListenerTlsAndAuth) {
  EXPECT_EQ(errorsOf(load(R"(listeners:
  - {name: a, address: "127.0.0.1:25", tls: starttls, auth: yes}
  - {name: b, address: "127.0.0.1:26", auth: required}
  - {name: c, address: "127.0.0.1:27", auth: optional, auth_plaintext: false}
  - {name: d, address: "127.0.0.1:28", auth: optional, auth_plaintext: maybe}
  - {name: e, address: "127.0.0.1:29", tls: [], auth: required}
  - {name: f, address: "127.0.0.1:30", auth: none, auth_plaintext: no, restriction: x}
domains: {local: []}
)")),
            (Errors{
                "t.yaml:2:45: listeners[0].tls: expected none, optional, required or implicit, "
                "got 'starttls'",
                "t.yaml:2:61: listeners[0].auth: expected none, optional or required, got 'yes'",
                "t.yaml:3:46: listeners[1].auth: AUTH would never be offered: set tls or "
                "auth_plaintext",
                "t.yaml:4:46: listeners[2].auth: AUTH would never be offered: set tls or "
                "auth_plaintext",
                "t.yaml:5:72: listeners[3].auth_plaintext: expected true or false, got 'maybe'",
                "t.yaml:6:45: listeners[4].tls: expected none, optional, required or implicit, "
                "got a list",
                "t.yaml:7:72: unknown key 'restriction' in listeners[5] (did you mean "
                "'restrictions'?)",
            }));
}

TEST(ConfigTest, ListenerRestrictionsMustNameASet) {
  EXPECT_EQ(errorsOf(load(R"(listeners:
  - {name: a, address: "127.0.0.1:25", restrictions: submision}
  - {name: b, address: "127.0.0.1:26", restrictions: broken}
  - {name: c, address: "127.0.0.1:27", restrictions: [default]}
  - {name: d, address: "127.0.0.1:28", restrictions: mine}
domains: {local: []}
restrictions:
  mine: {recipient: [permit_sasl_authenticated]}
  broken: {recipient: [permit_sasl]}
)")),
            (Errors{
                "t.yaml:2:54: listeners[0].restrictions: unknown restriction set 'submision' "
                "(known: default, mine, submission)",
                // No "unknown restriction set 'broken'": its own error says what is wrong.
                "t.yaml:4:54: listeners[2].restrictions: expected a string, got a list",
                "t.yaml:9:24: restrictions.broken.recipient[0]: unknown restriction "
                "'permit_sasl' (known: " + knownChecks() + ")",
            }));
}

TEST(ConfigTest, Tls) {
  Config c = loadOk(R"(tls:
  certificates:
    - cert: tls/mail.crt
      key: tls/mail.key
    - {cert: /etc/ssl/other.pem, key: /etc/ssl/private/other.key}
  min_version: 1.3
)");
  ASSERT_EQ(c.tls.certificates.size(), 2u);
  EXPECT_EQ(c.tls.certificates[0].cert, "/etc/petrel/tls/mail.crt");
  EXPECT_EQ(c.tls.certificates[0].key, "/etc/petrel/tls/mail.key");
  EXPECT_EQ(c.tls.certificates[1].cert, "/etc/ssl/other.pem");
  EXPECT_EQ(c.tls.certificates[1].key, "/etc/ssl/private/other.key");
  EXPECT_EQ(c.tls.min_version, "1.3");
  EXPECT_EQ(loadOk("tls: {min_version: '1.2', certificates: []}\n").tls.min_version, "1.2");
  // Existence is not the loader's business.
  EXPECT_EQ(loadOk("tls: {certificates: [{cert: /nonexistent.crt, key: /nonexistent.key}]}\n")
                .tls.certificates.size(),
            1u);

  EXPECT_EQ(errorsWith(R"(tls:
  certificates:
    - {cert: a.crt}
    - {cert: b.crt, key: b.key, chain: c.pem}
    - {cert: "", key: d.key}
    - c.pem
  min_version: 1.1
  ciphers: HIGH
)"),
            (Errors{
                "t.yaml:5:7: missing required key 'key' in tls.certificates[0]",
                "t.yaml:6:33: unknown key 'chain' in tls.certificates[1]",
                "t.yaml:7:14: tls.certificates[2].cert: expected a path, got ''",
                "t.yaml:8:7: tls.certificates[3]: expected a mapping, got 'c.pem'",
                "t.yaml:9:16: tls.min_version: expected 1.2 or 1.3, got '1.1'",
                "t.yaml:10:3: unknown key 'ciphers' in tls",
            }));
  EXPECT_EQ(errorsWith("tls: {certificates: a.crt}\n"),
            Errors{"t.yaml:3:21: tls.certificates: expected a list of {cert, key} entries, got "
                   "'a.crt'"});
}

TEST(ConfigTest, Auth) {
  Config c = loadOk(R"(state_dir: state
tables:
  senders: {type: inline, map: {alice@example.org: alice}}
auth:
  backend: table
  mechanisms: [login, Plain]
  sender_login: senders
)");
  EXPECT_EQ(c.auth.backend, "table");
  EXPECT_EQ(c.auth.credentials_db, "/etc/petrel/state/credentials.db");
  EXPECT_EQ(c.auth.mechanisms, (std::vector<std::string>{"LOGIN", "PLAIN"}));
  ASSERT_TRUE(c.auth.sender_login.has_value());
  EXPECT_EQ(c.auth.sender_login->name, "senders");
  EXPECT_EQ(c.auth.sender_login->entries.at("alice@example.org"), "alice");

  c = loadOk("auth: {credentials_db: users.db, sender_login: 'file:senders'}\n");
  EXPECT_EQ(c.auth.credentials_db, "/etc/petrel/users.db");
  ASSERT_TRUE(c.auth.sender_login.has_value());
  EXPECT_EQ(c.auth.sender_login->path, "/etc/petrel/senders");
  EXPECT_FALSE(loadOk("auth: {sender_login: null}\n").auth.sender_login.has_value());

  c = loadOk("auth: {backend: dovecot, dovecot_socket: /run/dovecot/auth-client}\n");
  EXPECT_EQ(c.auth.backend, "dovecot");
  EXPECT_EQ(c.auth.dovecot_socket, "/run/dovecot/auth-client");
  EXPECT_EQ(c.auth.credentials_db, "/var/lib/petrel/credentials.db");
}

TEST(ConfigTest, BadAuth) {
  EXPECT_EQ(errorsWith("auth: {backend: ldap, mechanisms: [PLAIN, CRAM-MD5, plain], "
                       "sender_login: nope, realm: x}\n"),
            (Errors{
                "t.yaml:3:17: auth.backend: expected table, dovecot or lookup, got 'ldap'",
                "t.yaml:3:43: auth.mechanisms[1]: unknown mechanism 'CRAM-MD5' (known: PLAIN, "
                "LOGIN)",
                "t.yaml:3:53: auth.mechanisms[2]: duplicate mechanism 'PLAIN'",
                "t.yaml:3:75: auth.sender_login: unknown table 'nope'",
                "t.yaml:3:81: unknown key 'realm' in auth",
            }));
  EXPECT_EQ(errorsWith("auth:\n  backend: dovecot\n  credentials_db: users.db\n"),
            (Errors{"t.yaml:4:3: missing required key 'dovecot_socket' in auth (backend dovecot "
                    "needs Dovecot's auth-client socket, e.g. /run/dovecot/auth-client)",
                    "t.yaml:5:19: auth.credentials_db: is used only by backend table, and "
                    "backend is dovecot"}));
  EXPECT_EQ(errorsWith("auth: {dovecot_socket: /run/dovecot/auth-client}\n"),
            Errors{"t.yaml:3:24: auth.dovecot_socket: is used only by backend dovecot, and "
                   "backend is table"});
  EXPECT_EQ(errorsWith("auth: {mechanisms: []}\n"),
            Errors{"t.yaml:3:20: auth.mechanisms: at least one mechanism is required (to turn "
                   "AUTH off, set auth: none on the listener)"});
  EXPECT_EQ(errorsWith("auth: {mechanisms: PLAIN}\n"),
            Errors{"t.yaml:3:20: auth.mechanisms: expected a list of SASL mechanisms such as "
                   "[PLAIN, LOGIN], got 'PLAIN'"});
}

TEST(ConfigTest, OutboundRelay) {
  std::string dir = ::testing::TempDir();
  std::string pass_file = dir + "/relay.pass";
  FILE* f = fopen(pass_file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("s3cret\nignored\n", f);
  fclose(f);
  Config c = loadOk(fmt::format(R"(tables:
  transport: {{type: inline, map: {{example.org: "smtp:[10.0.0.5]:25"}}}}
relay:
  relayhost: "[smtp.ISP.example]:587"
  relayhost_auth: {{user: office, password_file: {}}}
  transport: transport
  tls: verify
  destination_concurrency: 5
  connection_cache_time: 2s
  timeouts: {{connect: 3s, data_done: 1m}}
queue: {{delay_warning: 4h}}
dns: {{servers: ["127.0.0.1:5353", "::1", 192.0.2.53]}}
)", pass_file));
  ASSERT_TRUE(c.relay.relayhost);
  EXPECT_EQ(c.relay.relayhost->host, "smtp.isp.example");
  EXPECT_EQ(c.relay.relayhost->port, 587);
  EXPECT_FALSE(c.relay.relayhost->mx_lookup);
  ASSERT_TRUE(c.relay.relayhost_auth);
  EXPECT_EQ(c.relay.relayhost_auth->user, "office");
  EXPECT_EQ(c.relay.relayhost_auth->password, "s3cret");
  EXPECT_FALSE(c.relay.relayhost_auth->plaintext);
  ASSERT_TRUE(c.relay.transport);
  EXPECT_EQ(c.relay.tls, TlsPolicy::Verify);
  EXPECT_EQ(c.relay.destination_concurrency, 5u);
  EXPECT_EQ(c.relay.connection_cache_time, 2u);
  EXPECT_EQ(c.relay.timeouts.connect, 3u);
  EXPECT_EQ(c.relay.timeouts.data_done, 60u);
  EXPECT_EQ(c.relay.timeouts.greeting, 300u);
  EXPECT_EQ(c.queue.delay_warning, 4u * 3600);
  EXPECT_EQ(c.dns.servers, (std::vector<std::string>{"127.0.0.1:5353", "::1", "192.0.2.53"}));

  LoadResult r = load(
      "listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
      "domains: {local: [example.test], relay: [Partner.example.net, example.test]}\n"
      "mailboxes: 'file:/etc/petrel/mailboxes'\n");
  EXPECT_EQ(errorsOf(r), Errors{"t.yaml:2:63: domains.relay[1]: 'example.test' is a local "
                                "domain; a domain is either local or relayed"});
  r = load("listeners: [{name: mx, address: '127.0.0.1:25'}]\n"
           "domains: {local: [], relay: [Partner.example.net]}\n");
  ASSERT_TRUE(r.config);
  c = *r.config;
  EXPECT_EQ(c.relay_domains, std::vector<std::string>{"partner.example.net"});

  EXPECT_EQ(errorsWith(R"(relay:
  relayhost: "[smtp.example"
  tls: sometimes
  relayhost_auth: {user: u, password_file: /nonexistent/pass}
dns: {servers: [dns.example]}
)"),
            (Errors{
                "t.yaml:4:14: relay.relayhost: missing ']' in the next hop",
                "t.yaml:5:8: relay.tls: expected none, may, encrypt or verify, got 'sometimes'",
                "t.yaml:6:19: relay.relayhost_auth: is used only with relay.relayhost, which "
                "is not set",
                "t.yaml:6:44: relay.relayhost_auth.password_file: cannot read "
                "/nonexistent/pass: No such file or directory",
                "t.yaml:7:17: dns.servers[0]: 'dns.example' is not a server address (ip, "
                "ip:port or [ipv6]:port; names are not resolved)",
            }));
}

TEST(ConfigTest, NextHopSyntax) {
  auto hop = parseNextHop("smtp:[10.0.0.5]:2525");
  ASSERT_TRUE(hop);
  EXPECT_EQ(hop->host, "10.0.0.5");
  EXPECT_EQ(hop->port, 2525);
  EXPECT_FALSE(hop->mx_lookup);
  EXPECT_EQ(hop->toString(), "[10.0.0.5]:2525");
  hop = parseNextHop("Example.ORG.");
  ASSERT_TRUE(hop);
  EXPECT_EQ(hop->host, "example.org");
  EXPECT_TRUE(hop->mx_lookup);
  EXPECT_EQ(hop->port, 25);
  EXPECT_EQ(hop->toString(), "example.org");
  hop = parseNextHop("[2001:DB8::1]");
  ASSERT_TRUE(hop);
  EXPECT_EQ(hop->host, "2001:db8::1");
  EXPECT_EQ(hop->toString(), "[2001:db8::1]");
  EXPECT_FALSE(parseNextHop("10.0.0.5"));  // an address needs brackets
  EXPECT_FALSE(parseNextHop("[mx.example]:0"));
  EXPECT_FALSE(parseNextHop("[mx.example]:"));
  EXPECT_FALSE(parseNextHop("bad host"));
  EXPECT_FALSE(parseNextHop(""));
}

TEST(ConfigTest, Relay) {
  Config c = loadOk(R"(relay:
  mynetworks: [127.0.0.1, "::1/128", 10.0.4.0/24, "2001:DB8::/32", "0.0.0.0/0"]
)");
  EXPECT_EQ(c.relay.mynetworks, (std::vector<std::string>{"127.0.0.1/32", "::1/128", "10.0.4.0/24",
                                                          "2001:db8::/32", "0.0.0.0/0"}));
  EXPECT_EQ(c.relay.mynetworks_origin, "t.yaml:4:15");
  c = loadOk("relay: {mynetworks: \"cidr:/etc/petrel/mynetworks\"}\n");
  ASSERT_TRUE(c.relay.mynetworks_table);
  EXPECT_EQ(c.relay.mynetworks_table->type, "cidr");
  EXPECT_TRUE(c.relay.mynetworks.empty());
  c = loadOk("relay: {mynetworks: []}\n");
  EXPECT_TRUE(c.relay.mynetworks.empty());
  EXPECT_EQ(c.relay.mynetworks_origin, "t.yaml:3:21");

  EXPECT_EQ(errorsWith(R"(relay:
  mynetworks:
    - 192.0.2.1/24
    - 10.0.0.0/33
    - "[::1]/128"
    - 10.0.0
    - 10.0.0.0/8
    - {net: 10.0.0.0/8}
  smarthost: x
)"),
            (Errors{
                "t.yaml:5:7: relay.mynetworks[0]: non-null host address bits in "
                "\"192.0.2.1/24\", perhaps you should use \"192.0.2.0/24\" instead",
                "t.yaml:6:7: relay.mynetworks[1]: bad net/mask pattern \"10.0.0.0/33\": the "
                "prefix length must be a number from 0 to 32",
                "t.yaml:7:7: relay.mynetworks[2]: bad net/mask pattern \"[::1]/128\": write "
                "IPv6 blocks without brackets, e.g. \"::1/128\"",
                "t.yaml:8:7: relay.mynetworks[3]: bad net/mask pattern \"10.0.0\": '10.0.0' is "
                "not an IPv4 or IPv6 address",
                "t.yaml:10:7: relay.mynetworks[5]: expected a network such as 192.0.2.0/24, got "
                "a mapping",
                "t.yaml:11:3: unknown key 'smarthost' in relay",
            }));
  EXPECT_EQ(errorsWith("relay: {mynetworks: 127.0.0.0/8}\n"),
            Errors{"t.yaml:3:21: relay.mynetworks: expected a list of networks such as "
                   "[127.0.0.1/32, \"::1/128\"] ([] for none) or a table reference, got "
                   "'127.0.0.0/8'"});
  EXPECT_EQ(errorsWith("relay:\n  mynetworks:\n"),
            Errors{"t.yaml:4:3: relay.mynetworks: expected a list of networks such as "
                   "[127.0.0.1/32, \"::1/128\"] ([] for none) or a table reference, got null"});
}

TEST(ConfigTest, Restrictions) {
  Config c = loadOk(R"(restrictions:
  default:
    client: [permit_mynetworks, defer]
    helo: []
    sender: [reject_sender_login_mismatch]
    recipient: [permit_sasl_authenticated, reject_unauth_destination, permit]
  relay-only:
    recipient:
  empty:
)");
  ASSERT_EQ(c.restrictions.size(), 4u);  // default (replaced), submission, relay-only, empty
  const RestrictionSet& def = c.restrictions.at("default");
  EXPECT_EQ(texts(def.client), (std::vector<std::string>{"permit_mynetworks", "defer"}));
  EXPECT_TRUE(def.helo.empty());
  EXPECT_EQ(texts(def.sender), (std::vector<std::string>{"reject_sender_login_mismatch"}));
  EXPECT_EQ(texts(def.recipient),
            (std::vector<std::string>{"permit_sasl_authenticated", "reject_unauth_destination",
                                      "permit"}));
  EXPECT_EQ(def.origin, "t.yaml:4:3");
  EXPECT_EQ(c.restrictions.at("submission").origin, "(built-in)");
  EXPECT_TRUE(c.restrictions.at("relay-only").recipient.empty());
  EXPECT_EQ(c.restrictions.at("relay-only").origin, "t.yaml:9:3");
  EXPECT_TRUE(c.restrictions.at("empty").recipient.empty());

  // Redefining submission keeps the built-in default.
  c = loadOk("restrictions: {submission: {recipient: [permit_sasl_authenticated, reject]}}\n");
  EXPECT_EQ(texts(c.restrictions.at("submission").recipient),
            (std::vector<std::string>{"permit_sasl_authenticated", "reject"}));
  EXPECT_EQ(c.restrictions.at("default").origin, "(built-in)");
}

TEST(ConfigTest, AccessChecksNameTheirTables) {
  Config c = loadOk(R"(tables:
  clients: {type: inline, map: {192.0.2.7: REJECT}}
restrictions:
  default:
    recipient: [check_client_access clients, "check_sender_access cidr:/etc/petrel/x.cidr",
                permit_mynetworks, reject_unauth_destination]
)");
  const RestrictionSet& set = c.restrictions.at("default");
  EXPECT_EQ(texts(set.recipient),
            (std::vector<std::string>{"check_client_access clients",
                                      "check_sender_access cidr:/etc/petrel/x.cidr",
                                      "permit_mynetworks", "reject_unauth_destination"}));
  EXPECT_EQ(set.access_tables.at("clients").type, "inline");
  EXPECT_EQ(set.access_tables.at("cidr:/etc/petrel/x.cidr").path, "/etc/petrel/x.cidr");
  EXPECT_EQ(errorsWith("restrictions: {default: {recipient: [check_recipient_access]}}\n"),
            Errors{"t.yaml:3:38: restrictions.default.recipient[0]: check_recipient_access needs "
                   "a table, e.g. \"check_recipient_access clients\""});
}

TEST(ConfigTest, BadRestrictions) {
  EXPECT_EQ(errorsWith(R"(restrictions:
  default:
    client: [check_client_access clients, permit]
    body: [reject_unauth_pipelining]
    recipient: permit_mynetworks, reject
  "bad name": {}
  other: [reject]
  third:
    sender: [reject, [defer], Permit]
)"),
            (Errors{
                "t.yaml:5:14: restrictions.default.client[0]: unknown table 'clients'",
                "t.yaml:6:5: unknown key 'body' in restrictions.default",
                "t.yaml:7:16: restrictions.default.recipient: expected a list of restrictions, "
                "got 'permit_mynetworks, reject'",
                "t.yaml:8:3: restrictions: 'bad name' is not a valid restriction set name (use "
                "letters, digits, '-', '_' and '.')",
                "t.yaml:9:10: restrictions.other: expected a mapping, got a list",
                "t.yaml:11:22: restrictions.third.sender[1]: expected a restriction name, got a "
                "list",
                "t.yaml:11:31: restrictions.third.sender[2]: unknown restriction 'Permit' "
                "(known: " + knownChecks() + ")",
            }));
  EXPECT_EQ(errorsWith("restrictions: [default]\n"),
            Errors{"t.yaml:3:15: restrictions: expected a mapping, got a list"});
}

TEST(ConfigTest, RestrictionStagesAndDelayReject) {
  Config c = loadOk(R"(restrictions:
  default:
    data: [permit_mynetworks, reject]
    end_of_data: [defer]
    delay_reject: no
)");
  const RestrictionSet& def = c.restrictions.at("default");
  EXPECT_EQ(def.data, (std::vector<CheckSpec>{
                          {"permit_mynetworks", "t.yaml:5:12", "restrictions.default.data[0]"},
                          {"reject", "t.yaml:5:31", "restrictions.default.data[1]"}}));
  EXPECT_EQ(
      def.end_of_data,
      (std::vector<CheckSpec>{{"defer", "t.yaml:6:19", "restrictions.default.end_of_data[0]"}}));
  EXPECT_FALSE(def.delay_reject);
  EXPECT_TRUE(c.restrictions.at("submission").delay_reject);
  EXPECT_TRUE(c.restrictions.at("submission").data.empty());
  EXPECT_EQ(c.restrictions.at("submission").recipient[2],
            (CheckSpec{"reject", "(built-in)", "restrictions.submission.recipient[2]"}));
  EXPECT_TRUE(
      loadOk("restrictions: {x: {recipient: [permit]}}\n").restrictions.at("x").delay_reject);
  EXPECT_EQ(errorsWith("restrictions: {default: {delay_reject: 1, end_of_data: [permit_sasl]}}\n"),
            (Errors{"t.yaml:3:40: restrictions.default.delay_reject: expected true or false, got "
                    "'1'",
                    "t.yaml:3:57: restrictions.default.end_of_data[0]: unknown restriction "
                    "'permit_sasl' (known: " + knownChecks() + ")"}));
}

// The loader keeps checks as written; only the validators (server::standardValidators) know
// their names. Table references in arguments are resolved either way.
TEST(ConfigTest, ChecksAreKeptAsWritten) {
  LoadResult r = loadConfigFromString(std::string(Minimal) + R"(restrictions:
  default:
    recipient: [no_such_check, "check_sender_access file:senders", "  permit"]
)",
                                      "t.yaml", "/etc/petrel");
  ASSERT_EQ(errorsOf(r), Errors{});
  const RestrictionSet& def = r.config->restrictions.at("default");
  EXPECT_EQ(
      texts(def.recipient),
      (std::vector<std::string>{"no_such_check", "check_sender_access file:senders", "  permit"}));
  EXPECT_EQ(def.access_tables.at("file:senders").path, "/etc/petrel/senders");
}

// Whether an argument had to be a table is the check's business: a check that takes none
// reports its own name, one that takes one the loader's text for the reference.
TEST(ConfigTest, CheckArgumentsThatAreNoTables) {
  EXPECT_EQ(errorsWith(R"(tables:
  broken: {type: file}
restrictions:
  default:
    client: [permit_mynetworks clients, "check_client_access foo:/x", check_client_access broken]
    sender: ["check_sender_access cidr:", "permit cidr:/x", " check_sender_access cidr:/x"]
)"),
            (Errors{
                "t.yaml:4:11: missing required key 'path' in tables.broken",
                "t.yaml:7:14: restrictions.default.client[0]: unknown restriction "
                "'permit_mynetworks clients' (known: " + knownChecks() + ")",
                "t.yaml:7:41: restrictions.default.client[1]: unknown table type 'foo' (known: "
                "inline, file, regexp, pcre, cidr, sqlite, pgsql, mysql, ldap)",
                "t.yaml:8:14: restrictions.default.sender[0]: 'cidr:' needs a path, e.g. "
                "cidr:/etc/petrel/clients.cidr",
                "t.yaml:8:43: restrictions.default.sender[1]: unknown restriction "
                "'permit cidr:/x' (known: " + knownChecks() + ")",
                "t.yaml:8:61: restrictions.default.sender[2]: unknown restriction "
                "' check_sender_access cidr:/x' (known: " + knownChecks() + ")",
            }));
}

// A set with a wrong check did not load: a listener naming another unknown set is not told
// it exists.
TEST(ConfigTest, ABrokenSetIsNotKnown) {
  EXPECT_EQ(errorsOf(load(R"(listeners: [{name: a, address: "127.0.0.1:25", restrictions: nope}]
domains: {local: []}
restrictions:
  mine: {recipient: [permit_sasl]}
)")),
            (Errors{"t.yaml:1:62: listeners[0].restrictions: unknown restriction set 'nope' "
                    "(known: default, submission)",
                    "t.yaml:4:22: restrictions.mine.recipient[0]: unknown restriction "
                    "'permit_sasl' (known: " + knownChecks() + ")"}));
}

// warn_if_reject written as its own entry needs a check after it, once.
TEST(ConfigTest, WarnIfRejectNeedsACheckAfterIt) {
  EXPECT_EQ(errorsOf(load(R"(listeners: [{name: mx, address: '127.0.0.1:25'}]
domains: {local: []}
restrictions:
  default:
    sender: [warn_if_reject, reject_non_fqdn_sender, warn_if_reject]
    recipient: [warn_if_reject, warn_if_reject, reject]
)")),
            (Errors{"t.yaml:5:54: restrictions.default.sender[2]: warn_if_reject must be "
                    "followed by a check",
                    "t.yaml:6:33: restrictions.default.recipient[1]: warn_if_reject twice in a "
                    "row"}));
}

// Validators see a config the loader found problems in, and their errors sort in by position.
TEST(ConfigTest, ValidatorsRunAndSortIn) {
  int runs = 0;
  Validator v = [&runs](const Config& c, std::vector<ConfigError>& errors) {
    ++runs;
    errors.push_back({"t.yaml:1:3", "first"});
    errors.push_back({"elsewhere", "no position"});
    errors.push_back({c.source_file, "the file"});
  };
  LoadResult r =
      loadConfigFromString(std::string(Minimal) + "workers: x\n", "t.yaml", "/etc/petrel", {v});
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(r.config.has_value());
  EXPECT_EQ(errorsOf(r), (Errors{"elsewhere: no position", "t.yaml: the file", "t.yaml:1:3: first",
                                 "t.yaml:3:10: workers: expected 'auto' or a number from 1 to 64, "
                                 "got 'x'"}));
  // A config only a validator objects to does not load either; a syntax error runs none.
  r = loadConfigFromString(std::string(Minimal), "t.yaml", "/etc/petrel", {v});
  EXPECT_FALSE(r.config.has_value());
  EXPECT_EQ(runs, 2);
  r = loadConfigFromString("listeners: [", "t.yaml", "/etc/petrel", {v});
  EXPECT_EQ(runs, 2);
}

TEST(ConfigTest, AuthFailuresPerClient) {
  EXPECT_EQ(loadOk("limits: {auth_failures_per_client: 3}\n").limits.auth_failures_per_client, 3u);
  EXPECT_EQ(errorsWith("limits: {auth_failures_per_client: 0}\n"),
            Errors{"t.yaml:3:36: limits.auth_failures_per_client: must be at least 1, got 0"});
}

TEST(ConfigTest, CanonicalHeaders) {
  using Clients = Config::HeaderRewriteClients;
  EXPECT_EQ(loadOk().canonical_headers, Clients::Local);
  Config c = loadOk("canonical: {sender: 'regexp:/etc/petrel/sc', headers: all}\n");
  EXPECT_EQ(c.canonical_headers, Clients::All);
  ASSERT_TRUE(c.canonical_sender.has_value());
  EXPECT_EQ(c.canonical_sender->type, "regexp");
  EXPECT_EQ(loadOk("canonical: {headers: none}\n").canonical_headers, Clients::None);
  EXPECT_EQ(errorsWith("canonical: {headers: yes}\n"),
            Errors{"t.yaml:3:22: canonical.headers: expected local, all or none, got 'yes'"});
}

TEST(ParseEndpointTest, AcceptsIpLiterals) {
  EXPECT_EQ(parseEndpoint("192.0.2.1:25").value(), (Endpoint{"192.0.2.1", 25}));
  EXPECT_EQ(parseEndpoint("[2001:DB8::1]:587").value(), (Endpoint{"2001:db8::1", 587}));
  EXPECT_EQ(parseEndpoint("[::]:65535")->toString(), "[::]:65535");
}

TEST(ParseEndpointTest, RejectsTheRest) {
  for (std::string_view bad :
       {"", "192.0.2.1", "192.0.2.1:", "192.0.2.1:65536", ":25", "[::1]25", "[::1:25",
        "[192.0.2.1]:25", "example.org:25", "192.0.2.1:+25", "192.0.2.256:25"}) {
    EXPECT_FALSE(parseEndpoint(bad).ok()) << bad;
  }
}

// policy_service: Postfix's smtpd_policy_service_* defaults, each key, and its errors; a
// check_policy_service entry is checked by policy's own parser (its per-check settings too).
TEST(ConfigTest, PolicyService) {
  Config d = loadOk();
  EXPECT_EQ(d.policy_service.timeout, 100u);
  EXPECT_EQ(d.policy_service.max_idle, 300u);
  EXPECT_EQ(d.policy_service.max_ttl, 1000u);
  EXPECT_EQ(d.policy_service.try_limit, 2u);
  EXPECT_EQ(d.policy_service.retry_delay, 1u);
  EXPECT_EQ(d.policy_service.request_limit, 0u);
  EXPECT_EQ(d.policy_service.default_action, "451 4.3.5 Server configuration problem");
  Config c = loadOk(R"(policy_service:
  timeout: 10s
  max_idle: 1m
  max_ttl: 1h
  try_limit: 3
  retry_delay: 0
  request_limit: 50
  default_action: DUNNO
  policy_context: office
restrictions:
  default:
    recipient:
      - reject_unauth_destination
      - check_policy_service inet:127.0.0.1:10023
      - "check_policy_service { unix:/run/policyd-spf.sock, timeout=5s, default_action=DUNNO }"
)");
  EXPECT_EQ(c.policy_service.timeout, 10u);
  EXPECT_EQ(c.policy_service.max_idle, 60u);
  EXPECT_EQ(c.policy_service.max_ttl, 3600u);
  EXPECT_EQ(c.policy_service.try_limit, 3u);
  EXPECT_EQ(c.policy_service.retry_delay, 0u);
  EXPECT_EQ(c.policy_service.request_limit, 50u);
  EXPECT_EQ(c.policy_service.default_action, "DUNNO");
  EXPECT_EQ(c.policy_service.policy_context, "office");
  EXPECT_EQ(texts(c.restrictions.at("default").recipient),
            (std::vector<std::string>{
                "reject_unauth_destination", "check_policy_service inet:127.0.0.1:10023",
                "check_policy_service { unix:/run/policyd-spf.sock, timeout=5s, "
                "default_action=DUNNO }"}));

  EXPECT_EQ(errorsWith(R"(policy_service: {timeout: 0, try_limit: 0, default_action: "", colour: x}
restrictions:
  default:
    recipient:
      - check_policy_service
      - check_policy_service 127.0.0.1:10023
      - "check_policy_service { inet:127.0.0.1:10023, timeout=soon }"
)"),
            (Errors{
                "t.yaml:3:27: policy_service.timeout: must not be zero",
                "t.yaml:3:41: policy_service.try_limit: must be at least 1, got 0",
                "t.yaml:3:60: policy_service.default_action: must not be empty (an access(5) "
                "action such as DUNNO or \"451 4.3.5 text\")",
                "t.yaml:3:64: unknown key 'colour' in policy_service",
                "t.yaml:7:9: restrictions.default.recipient[0]: check_policy_service needs an "
                "argument, e.g. \"check_policy_service inet:127.0.0.1:10023\"",
                "t.yaml:8:9: restrictions.default.recipient[1]: check_policy_service: "
                "'127.0.0.1:10023' is not a policy service (inet:HOST:PORT or unix:PATH)",
                "t.yaml:9:9: restrictions.default.recipient[2]: check_policy_service: timeout: "
                "'soon' is not a time such as 10s or 5m",
            }));
}

TEST(ConfigTest, PermitMxBackupNetworks) {
  EXPECT_TRUE(loadOk().smtp.permit_mx_backup_networks.empty());
  EXPECT_EQ(loadOk("smtp: {permit_mx_backup_networks: [198.51.100.7, '2001:db8::/32']}\n")
                .smtp.permit_mx_backup_networks,
            (std::vector<std::string>{"198.51.100.7/32", "2001:db8::/32"}));
  Errors bad = errorsWith("smtp: {permit_mx_backup_networks: [nowhere]}\n");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_TRUE(bad[0].starts_with("t.yaml:3:36: smtp.permit_mx_backup_networks[0]: ")) << bad[0];
  bad = errorsWith("smtp: {permit_mx_backup_networks: 10.0.0.0/8}\n");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_TRUE(bad[0].starts_with("t.yaml:3:35: smtp.permit_mx_backup_networks: expected a list"))
      << bad[0];
}

TEST(ConfigTest, RateLimitsAndGreetPause) {
  Config d = loadOk();
  EXPECT_EQ(d.limits.rate.connections, 0u);
  EXPECT_EQ(d.limits.rate.time_unit, 60u);
  EXPECT_FALSE(d.limits.rate.exceptions.has_value());  // relay.mynetworks
  EXPECT_EQ(d.smtp.greet_pause, 0u);
  EXPECT_FALSE(d.listeners[0].greet_pause.has_value());

  Config c = loadOk(
      "limits:\n"
      "  rate: {connections: 60, messages: 0, recipients: 500, auth: 10, new_tls_sessions: 3,\n"
      "         time_unit: 2m, exceptions: [192.0.2.0/24, '2001:db8::1']}\n"
      "smtp: {greet_pause: 6s}\n");
  EXPECT_EQ(c.limits.rate.connections, 60u);
  EXPECT_EQ(c.limits.rate.messages, 0u);
  EXPECT_EQ(c.limits.rate.recipients, 500u);
  EXPECT_EQ(c.limits.rate.auth, 10u);
  EXPECT_EQ(c.limits.rate.new_tls_sessions, 3u);
  EXPECT_EQ(c.limits.rate.time_unit, 120u);
  EXPECT_EQ(c.limits.rate.exceptions, (std::vector<std::string>{"192.0.2.0/24", "2001:db8::1/128"}));
  EXPECT_EQ(c.smtp.greet_pause, 6u);
  EXPECT_EQ(loadOk("limits: {rate: {exceptions: []}}\n").limits.rate.exceptions,
            std::vector<std::string>{});

  LoadResult l = load(
      "listeners: [{name: mx, address: '127.0.0.1:25', greet_pause: 0},\n"
      "            {name: other, address: '127.0.0.1:26', greet_pause: 3s}]\n"
      "domains: {local: []}\n");
  ASSERT_TRUE(l.config.has_value());
  EXPECT_EQ(l.config->listeners[0].greet_pause, std::optional<uint64_t>(0));
  EXPECT_EQ(l.config->listeners[1].greet_pause, std::optional<uint64_t>(3));

  EXPECT_EQ(errorsWith("limits: {rate: {connection: 5, time_unit: 0, exceptions: [nowhere]}}\n"),
            (Errors{"t.yaml:3:17: unknown key 'connection' in limits.rate (did you mean "
                    "'connections'?)",
                    "t.yaml:3:43: limits.rate.time_unit: must not be zero",
                    "t.yaml:3:59: limits.rate.exceptions[0]: bad net/mask pattern \"nowhere\": "
                    "'nowhere' is not an IPv4 or IPv6 address"}));
  EXPECT_EQ(errorsWith("limits: {rate: {exceptions: 10.0.0.0/8}}\n"),
            Errors{"t.yaml:3:29: limits.rate.exceptions: expected a list of networks such as "
                   "[127.0.0.1/32] ([] for none), got '10.0.0.0/8'"});
  EXPECT_EQ(errorsWith("smtp: {greet_pause: soon}\n"),
            Errors{"t.yaml:3:21: smtp.greet_pause: expected a duration such as 30s, 5m, 4h, 5d "
                   "or 300 (seconds), got 'soon'"});
}

TEST(ConfigTest, ParentDomainMatchesSubdomains) {
  // Postfix's default names every feature, smtpd_access_maps among them.
  EXPECT_TRUE(loadOk().smtp.parentDomainMatchesSubdomains("smtpd_access_maps"));
  Config none = loadOk("smtp: {parent_domain_matches_subdomains: false}\n");
  EXPECT_TRUE(none.smtp.parent_domain_matches_subdomains.empty());
  EXPECT_TRUE(loadOk("smtp: {parent_domain_matches_subdomains: yes}\n")
                  .smtp.parentDomainMatchesSubdomains("smtpd_access_maps"));
  EXPECT_TRUE(loadOk("smtp: {parent_domain_matches_subdomains: }\n")
                  .smtp.parent_domain_matches_subdomains.empty());
  Config list = loadOk("smtp: {parent_domain_matches_subdomains: [relay_domains, mynetworks]}\n");
  EXPECT_EQ(list.smtp.parent_domain_matches_subdomains,
            (std::vector<std::string>{"relay_domains", "mynetworks"}));
  EXPECT_FALSE(list.smtp.parentDomainMatchesSubdomains("smtpd_access_maps"));
  // As main.cf writes it.
  Config text = loadOk(
      "smtp: {parent_domain_matches_subdomains: 'debug_peer_list,fast_flush_domains, "
      "smtpd_access_maps'}\n");
  EXPECT_EQ(text.smtp.parent_domain_matches_subdomains,
            (std::vector<std::string>{"debug_peer_list", "fast_flush_domains",
                                      "smtpd_access_maps"}));
  EXPECT_EQ(errorsWith("smtp: {parent_domain_matches_subdomains: [smtpd_acess_maps]}\n"),
            Errors{"t.yaml:3:43: smtp.parent_domain_matches_subdomains[0]: unknown feature "
                   "'smtpd_acess_maps' (did you mean 'smtpd_access_maps'?) (known: "
                   "debug_peer_list, fast_flush_domains, mynetworks, permit_mx_backup_networks, "
                   "qmqpd_authorized_clients, relay_domains, smtpd_access_maps)"});
}

}  // namespace
}  // namespace petrel::config

namespace petrel::config {
namespace {

TEST(ConfigRestrictionClasses, LoadsListsAndTheirTables) {
  Config c = loadOk(R"(tables:
  friends: {type: inline, map: {a@example.net: OK}}
restriction_classes:
  from_outside: [permit_mynetworks, reject]
  friendly: ["check_sender_access friends", "check_client_access cidr:/etc/petrel/c.cidr"]
  empty: []
)");
  const RestrictionClasses& rc = c.restriction_classes;
  ASSERT_EQ(rc.lists.size(), 3u);
  EXPECT_EQ(texts(rc.lists.at("from_outside")),
            (std::vector<std::string>{"permit_mynetworks", "reject"}));
  EXPECT_EQ(texts(rc.lists.at("friendly")),
            (std::vector<std::string>{"check_sender_access friends",
                                      "check_client_access cidr:/etc/petrel/c.cidr"}));
  EXPECT_TRUE(rc.lists.at("empty").empty());
  EXPECT_TRUE(rc.access_tables.contains("friends"));
  EXPECT_TRUE(rc.access_tables.contains("cidr:/etc/petrel/c.cidr"));
  EXPECT_EQ(rc.lists.at("from_outside")[1].path, "restriction_classes.from_outside[1]");
}

TEST(ConfigRestrictionClasses, ErrorsNameTheirPlace) {
  Errors errors = errorsWith(R"(restriction_classes:
  a: [permit_mynetworks, frobnicate]
  b: permit
  "bad name": [reject]
  c: ["check_sender_access nosuchtable"]
  DUNNO: [permit]
)");
  ASSERT_EQ(errors.size(), 5u);
  EXPECT_EQ(errors[0].substr(0, 80),
            "t.yaml:4:26: restriction_classes.a[1]: unknown restriction 'frobnicate' (known: ");
  EXPECT_EQ(errors[1], "t.yaml:5:6: restriction_classes.b: expected a list of restrictions, got "
                       "'permit'");
  EXPECT_EQ(errors[2], "t.yaml:6:3: restriction_classes: 'bad name' is not a valid class name "
                       "(use letters, digits, '-', '_' and '.')");
  EXPECT_EQ(errors[3], "t.yaml:7:7: restriction_classes.c[0]: unknown table 'nosuchtable'");
  EXPECT_EQ(errors[4], "t.yaml:8:3: restriction_classes.DUNNO: the name is a restriction or an "
                       "access(5) action");
}

}  // namespace
}  // namespace petrel::config
